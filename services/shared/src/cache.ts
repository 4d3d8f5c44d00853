import type { BinaryWriter } from '@bufbuild/protobuf/wire';
import type { Redis } from './redis';

/** A generated message type (ts-proto), used to store values in binary form. */
export interface MessageCodec<T> {
  encode(message: T): BinaryWriter;
  decode(input: Uint8Array): T;
}

/**
 * A read-through cache for catalog reads, invalidated by generation: every entry
 * key includes the current generation, and every write bumps the generation
 * after it commits. A reader that raced a write can only store its stale value
 * under the old generation, which nobody reads again, so a read that starts
 * after an update returns the new value. Entries also expire after `ttlSeconds`.
 */
export class GenerationCache {
  constructor(private readonly redis: Redis, private readonly namespace: string, private readonly ttlSeconds: number) {}

  private get genKey(): string {
    return `${this.namespace}:gen`;
  }

  /** Returns the cached value for `key`, or loads, stores and returns it. */
  async getOrLoad<T>(key: string, codec: MessageCodec<T>, load: () => Promise<T>): Promise<T> {
    let gen: string;
    try {
      gen = (await this.redis.get(this.genKey)) ?? '0';
      const hit = await this.redis.getBuffer(`${this.namespace}:${gen}:${key}`);
      if (hit !== null) return codec.decode(hit);
    } catch {
      return load(); // Redis is a cache: when it is down, read through.
    }
    const value = await load();
    const bytes = Buffer.from(codec.encode(value).finish());
    this.redis.set(`${this.namespace}:${gen}:${key}`, bytes, 'EX', this.ttlSeconds).catch(() => undefined);
    return value;
  }

  /** Invalidates every entry; call after each committed write. */
  async invalidate(): Promise<void> {
    await this.redis.incr(this.genKey);
  }
}
