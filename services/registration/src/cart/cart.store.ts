import type { Redis } from '../../../shared/src/redis';

/** A student's cart: section ids in the order added, in Redis, expiring when unused. */
export class CartStore {
  constructor(private readonly redis: Redis, private readonly ttlSeconds: number) {}

  private key(studentId: string) {
    return `cart:{${studentId}}`;
  }

  async items(studentId: string): Promise<{ sectionIds: string[]; expireTime?: Date }> {
    const [[, ids], [, ttl]] = (await this.redis.multi().zrange(this.key(studentId), 0, -1).pttl(this.key(studentId)).exec()) as [unknown, unknown][];
    const ms = Number(ttl);
    return { sectionIds: ids as string[], expireTime: ms > 0 ? new Date(Date.now() + ms) : undefined };
  }

  /** Adds a section; false when the cart already holds `max` items. */
  async add(studentId: string, sectionId: string, max: number): Promise<boolean> {
    const key = this.key(studentId);
    const size = await this.redis.zcard(key);
    const has = (await this.redis.zscore(key, sectionId)) !== null;
    if (!has && size >= max) return false;
    await this.redis.multi().zadd(key, 'NX', Date.now(), sectionId).expire(key, this.ttlSeconds).exec();
    return true;
  }

  async remove(studentId: string, sectionIds: readonly string[]): Promise<void> {
    if (sectionIds.length === 0) return;
    const key = this.key(studentId);
    await this.redis.multi().zrem(key, ...sectionIds).expire(key, this.ttlSeconds).exec();
  }
}
