import Redis from 'ioredis';

export type { Redis };

/** An ioredis client whose keys all carry `keyPrefix`, so runs never see each other's data. */
export function createRedis(url: string, keyPrefix: string): Redis {
  return new Redis(url, { keyPrefix, maxRetriesPerRequest: 3, enableReadyCheck: true, lazyConnect: false });
}
