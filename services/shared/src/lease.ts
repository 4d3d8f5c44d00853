import { randomUUID } from 'node:crypto';
import type { Redis } from './redis';

const EXTEND = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * A lease in Redis that lets a job run on one replica at a time: whoever holds
 * it runs, everyone else waits to take over when it lapses (a replica that dies
 * stops renewing). Holders renew on every tick, so the lease lapses `ttlMs`
 * after the holder stops.
 *
 * @example
 *   const lease = new Lease(redis, 'outbox-relay', 10_000);
 *   if (await lease.tryHold()) await relayOnce();
 */
export class Lease {
  private readonly token = randomUUID();

  constructor(private readonly redis: Redis, private readonly name: string, private readonly ttlMs: number) {}

  private get key() {
    return `lease:${this.name}`;
  }

  /** Takes or renews the lease; true while this process holds it. */
  async tryHold(): Promise<boolean> {
    const renewed = (await this.redis.eval(EXTEND, 1, this.key, this.token, this.ttlMs)) as number;
    if (renewed === 1) return true;
    return (await this.redis.set(this.key, this.token, 'PX', this.ttlMs, 'NX')) === 'OK';
  }

  async release(): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.key, this.token);
  }
}
