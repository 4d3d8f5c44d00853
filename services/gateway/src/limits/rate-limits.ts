import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Redis } from '../../../shared/src/redis';
import type { DescriptorLimit, RateLimitAction, RateLimitPlan, RoutePlan, TokenBucketPlan } from '../envoy/plan';

/** A request over a limit: which one, and when to try again. */
export interface Limited {
  descriptor: string;
  retryAfterMs: number;
  limit: number;
}

/** Headers Envoy adds with enable_x_ratelimit_headers (draft 03). */
export interface LimitHeaders {
  'x-ratelimit-limit': string;
  'x-ratelimit-remaining': string;
  'x-ratelimit-reset': string;
}

export interface LimitOutcome {
  limited?: Limited;
  headers?: LimitHeaders;
  /** The limit store failed and the request was let through (failure_mode_deny: false). */
  failedOpen?: boolean;
  /** The limit store failed and the request is refused (failure_mode_deny: true). */
  failedClosed?: boolean;
  /** Over a shadow_mode limit (this descriptor's): counted, and let through. */
  shadowLimited?: string;
}

/** What a request's descriptors are built from. */
export interface RequestFacts {
  remoteAddress: string;
  /** Verified JWT payload, as jwt_authn's payload_in_metadata would expose it. */
  jwtPayload?: Record<string, unknown>;
}

/**
 * Envoy's global rate limiting, done in-process: descriptors come from the
 * route's rate_limits actions exactly as Envoy builds them, limits from
 * envoy/ratelimit/config.yaml, and the counters live in Redis
 * (rate-limiter-flexible) so every gateway replica shares them.
 *
 * Checks are counted in batches. Every check that arrives within one pipeline
 * window (or one tick, with no window) goes out together, and checks of the same
 * counter (every call from one address, a student's burst) become one increment
 * of that many points. Each check then gets the position it would have had
 * counted alone: with `before` the counter's value ahead of the batch, the i-th of
 * n checks sees `before + i`, and is over the limit exactly when that passes it.
 * The counter ends where n separate increments would leave it.
 */
export class GlobalRateLimits {
  /** Each descriptor key's counted limit; null for one that is unlimited. */
  private readonly byKey = new Map<string, CountedLimit | null>();
  /** Limits for one value of a key, in place of the key's own. */
  private readonly byValue = new Map<string, Map<string, CountedLimit | null>>();
  private readonly deadlines: Deadlines;
  private batch: PendingCheck[] = [];
  /** Redis has been ready at least once (see {@link send}). */
  private storeWasReady: boolean;

  /**
   * @param pipelineWindowMs checks wait up to this long for others, so all of them
   *   reach Redis in one write and one round trip, like the rate limit service's
   *   REDIS_PIPELINE_WINDOW; 0 batches only the checks made in the same tick.
   */
  constructor(
    private readonly plan: RateLimitPlan,
    private readonly redis: Redis,
    private readonly jwtMetadataKey: string | undefined,
    private readonly pipelineWindowMs = 0,
  ) {
    this.deadlines = new Deadlines(plan.timeoutMs);
    this.storeWasReady = redis.status === 'ready';
    if (!this.storeWasReady) {
      redis.once('ready', () => {
        this.storeWasReady = true;
      });
    }
    for (const [key, limit] of plan.limits) this.byKey.set(key, this.counted(key, limit));
    for (const [key, values] of plan.valueLimits ?? []) {
      const byValue = new Map<string, CountedLimit | null>();
      for (const [value, limit] of values) byValue.set(value, this.counted(`${key}=${value}`, limit));
      this.byValue.set(key, byValue);
    }
  }

  private counted(id: string, limit: DescriptorLimit): CountedLimit | null {
    if (limit.unlimited) return null;
    const limiter = new RateLimiterRedis({ storeClient: this.redis, keyPrefix: `rl:${this.plan.domain}:${id}`, points: limit.requestsPerUnit, duration: limit.durationSeconds });
    return { id, limiter, shadow: limit.shadow === true };
  }

  /** The limit a descriptor is counted against, as the rate limit service picks it: its value's entry, else its key's. */
  private limitFor(key: string, value: string): CountedLimit | null | undefined {
    const byValue = this.byValue.get(key)?.get(value);
    return byValue !== undefined ? byValue : this.byKey.get(key);
  }

  /** Builds the request's descriptors; one whose action cannot produce a value is skipped, as in Envoy. */
  descriptors(actions: RateLimitAction[][], facts: RequestFacts): Descriptor[] {
    const out: Descriptor[] = [];
    for (const list of actions) {
      if (list.length !== 1) continue;
      const a = list[0];
      if (a.kind === 'remote_address') {
        if (facts.remoteAddress) out.push({ key: 'remote_address', value: facts.remoteAddress });
      } else if (a.kind === 'generic_key') {
        out.push({ key: a.descriptorKey, value: a.value });
      } else if (a.filter === 'envoy.filters.http.jwt_authn' && a.path[0] === this.jwtMetadataKey && facts.jwtPayload) {
        let v: unknown = facts.jwtPayload;
        for (const p of a.path.slice(1)) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
        if (typeof v === 'string' && v !== '') out.push({ key: a.descriptorKey, value: v });
      }
    }
    return out;
  }

  /** Counts the request against every descriptor that has a limit. */
  check(route: RoutePlan, facts: RequestFacts): Promise<LimitOutcome> {
    const counted: CountedDescriptor[] = [];
    for (const d of this.descriptors(route.rateLimitActions, facts)) {
      const limit = this.limitFor(d.key, d.value);
      if (limit) counted.push({ key: d.key, value: d.value, limit });
    }
    if (counted.length === 0) return Promise.resolve({});
    return new Promise((resolve) => {
      if (this.batch.push({ descriptors: counted, positions: new Array(counted.length), resolve }) === 1) {
        if (this.pipelineWindowMs > 0) setTimeout(sendBatch, this.pipelineWindowMs, this);
        else process.nextTick(sendBatch, this);
      }
    });
  }

  /** Sends the waiting checks: one increment per distinct counter, each check answered from its position. */
  send(): void {
    const batch = this.batch;
    this.batch = [];
    // Redis was up and is not now (reconnecting): the checks fail at once, as the rate limit
    // service answers an error when its Redis is down. Left to ioredis's offline queue they
    // would fail on the timeout anyway, and their increments would all land together once
    // Redis is back, refusing callers who never went over their limit.
    if (this.storeWasReady && this.redis.status !== 'ready') {
      const outcome = this.failure();
      for (const check of batch) check.resolve(outcome);
      return;
    }
    const counters = new Map<string, Counter>();
    for (const check of batch) {
      for (let i = 0; i < check.descriptors.length; i++) {
        const d = check.descriptors[i];
        const id = `${d.limit.id}\u0000${d.value}`;
        let c = counters.get(id);
        if (!c) {
          c = { limiter: d.limit.limiter, value: d.value, points: 0 };
          counters.set(id, c);
        }
        check.positions[i] = { counter: c, position: ++c.points };
      }
    }
    const increments: Array<Promise<void>> = [];
    // The batch's increments leave in one write: ioredis writes each command to the socket at
    // once, so the socket is corked while they are issued. This costs less per command than
    // ioredis's auto-pipelining. (Before the connection is ready, ioredis queues them itself.)
    const socket = this.redis.status === 'ready' ? this.redis.stream : undefined;
    socket?.cork();
    try {
      for (const c of counters.values()) {
        increments.push(
          c.limiter.consume(c.value, c.points).then(
            (res) => {
              c.res = res;
            },
            (err: unknown) => {
              // Over the limit for some of the batch: the library rejects with the counter's state.
              if (!(err instanceof RateLimiterRes)) throw err;
              c.res = err;
            },
          ),
        );
      }
    } finally {
      socket?.uncork();
    }
    void this.deadlines.within(Promise.all(increments)).then((done) => {
      for (const check of batch) check.resolve(done === undefined ? this.failure() : this.outcome(check));
    });
  }

  /**
   * One check's answer from where it stood in each of its counters: over the limit at the
   * first descriptor it passed, and the headers of the descriptor with the fewest requests
   * left (the one over the limit, if any), as Envoy reports them.
   */
  private outcome(check: PendingCheck): LimitOutcome {
    let tightest: { limit: number; remaining: number; msBeforeNext: number } | undefined;
    let limited: Limited | undefined;
    let shadowLimited: string | undefined;
    let policies = '';
    for (let i = 0; i < check.descriptors.length; i++) {
      const { counter, position } = check.positions[i];
      const res = counter.res!;
      const limit = counter.limiter.points;
      policies += `, ${limit};w=${counter.limiter.duration}`;
      // This check's own count: the counter before the batch, plus its place in the batch.
      const consumed = res.consumedPoints - counter.points + position;
      if (limited) continue;
      if (consumed > limit && check.descriptors[i].limit.shadow) {
        // shadow_mode: over the limit, and let through; the remaining count stays at 0.
        shadowLimited ??= check.descriptors[i].key;
      } else if (consumed > limit) {
        limited = { descriptor: check.descriptors[i].key, retryAfterMs: res.msBeforeNext, limit };
        tightest = { limit, remaining: 0, msBeforeNext: res.msBeforeNext };
        continue;
      }
      const remaining = limit - consumed;
      if (!tightest || remaining < tightest.remaining) tightest = { limit, remaining, msBeforeNext: res.msBeforeNext };
    }
    const headers = this.headers(tightest!.limit, tightest!.remaining, tightest!.msBeforeNext, policies);
    if (limited) return { limited, headers };
    return shadowLimited ? { headers, shadowLimited } : { headers };
  }

  /** Stops the timer that ends overdue checks. */
  close(): void {
    this.deadlines.close();
  }

  private failure(): LimitOutcome {
    return this.plan.failureModeDeny ? { failedClosed: true } : { failedOpen: true };
  }

  /**
   * Envoy's draft-03 headers: x-ratelimit-limit is the tightest limit, then a quota policy
   * (`limit;w=window seconds`) for each descriptor checked, as in `20, 20;w=1, 500;w=1`.
   */
  private headers(limit: number, remaining: number, msBeforeNext: number, policies: string): LimitHeaders | undefined {
    if (!this.plan.xRateLimitHeaders) return undefined;
    return {
      'x-ratelimit-limit': `${limit}${policies}`,
      'x-ratelimit-remaining': String(Math.max(0, remaining)),
      'x-ratelimit-reset': String(Math.ceil(msBeforeNext / 1000)),
    };
  }
}

function sendBatch(limits: GlobalRateLimits): void {
  limits.send();
}

/** One counter touched by a batch: how many points the batch adds, and what Redis answered. */
interface Counter {
  limiter: RateLimiterRedis;
  value: string;
  points: number;
  res?: RateLimiterRes;
}

/** A descriptor Envoy's actions build for a request. */
interface Descriptor {
  key: string;
  value: string;
}

/** A limit with its counter in Redis; `id` is its key, or `key=value` for one value's limit. */
interface CountedLimit {
  id: string;
  limiter: RateLimiterRedis;
  shadow: boolean;
}

/** A descriptor with the limit it is counted against. */
interface CountedDescriptor extends Descriptor {
  limit: CountedLimit;
}

/** A check waiting for its batch; positions[i] is where descriptor i stands in its counter's increment (1-based). */
interface PendingCheck {
  descriptors: CountedDescriptor[];
  positions: Array<{ counter: Counter; position: number }>;
  resolve: (outcome: LimitOutcome) => void;
}

/**
 * Gives limit checks `timeoutMs` to settle (Envoy's ratelimit `timeout`). One
 * coarse timer, running only while checks are waiting, serves every check, so
 * a call does not pay for a timer of its own: a check ends between `timeoutMs`
 * and 1.5 × `timeoutMs` after it started.
 */
class Deadlines {
  private waiting = new Set<{ startedAt: number; resolve: (value: undefined) => void }>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly timeoutMs: number) {}

  /** The promise's value, or undefined if it failed or did not settle in time. */
  within<T>(promise: Promise<T>): Promise<T | undefined> {
    return new Promise((resolve) => {
      const entry = { startedAt: performance.now(), resolve };
      this.waiting.add(entry);
      this.ensureTimer();
      promise.then(
        (value) => {
          this.waiting.delete(entry);
          resolve(value);
        },
        () => {
          this.waiting.delete(entry);
          resolve(undefined);
        },
      );
    });
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private ensureTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.sweep(), Math.max(1, Math.floor(this.timeoutMs / 2)));
    this.timer.unref();
  }

  private sweep(): void {
    const cutoff = performance.now() - this.timeoutMs;
    for (const entry of this.waiting) {
      if (entry.startedAt > cutoff) break; // entries are in the order they started
      this.waiting.delete(entry);
      entry.resolve(undefined);
    }
    if (this.waiting.size === 0) this.close();
  }
}

/**
 * Envoy's local_ratelimit token bucket for one route, per gateway process: it starts full at
 * `max_tokens`, gains `tokens_per_fill` at the end of every `fill_interval` (never past
 * `max_tokens`), and each call takes one token. So calls may come in a burst of `max_tokens`,
 * and on average at `tokens_per_fill` per `fill_interval`.
 *
 * Written here rather than taken from rate-limiter-flexible, whose limiters count fixed
 * windows: its BurstyRateLimiter let a 20-token bucket filled with 10 a second through at
 * 15 a second. The fills are counted when a call comes, not by a timer.
 */
export class LocalTokenBucket {
  private tokens: number;
  /** When the last fill happened (ms, on `now`'s clock). */
  private filledAt: number;

  constructor(
    readonly plan: TokenBucketPlan,
    private readonly now: () => number = performance.now.bind(performance),
  ) {
    this.tokens = plan.maxTokens;
    this.filledAt = now();
  }

  /** Takes a token; returns how long until the next fill if there is none. */
  take(): number | undefined {
    const { maxTokens, tokensPerFill, fillIntervalMs } = this.plan;
    const now = this.now();
    const fills = Math.floor((now - this.filledAt) / fillIntervalMs);
    if (fills > 0) {
      this.tokens = Math.min(maxTokens, this.tokens + fills * tokensPerFill);
      this.filledAt += fills * fillIntervalMs;
    }
    if (this.tokens >= 1) {
      this.tokens--;
      return undefined;
    }
    return Math.max(1, Math.ceil(this.filledAt + fillIntervalMs - now));
  }
}
