import Redis from 'ioredis';

export type { Redis };

/**
 * An ioredis client whose keys all carry `keyPrefix`, so runs never see each other's data.
 * `autoPipelining` sends the commands issued in one event-loop tick in one write (the gateway's
 * rate limit checks, many per tick under load).
 */
export function createRedis(url: string, keyPrefix: string, opts: { autoPipelining?: boolean } = {}): Redis {
  return new Redis(url, { keyPrefix, maxRetriesPerRequest: 3, enableReadyCheck: true, lazyConnect: false, enableAutoPipelining: opts.autoPipelining ?? false });
}
