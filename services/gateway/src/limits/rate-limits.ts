import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Redis } from '../../../shared/src/redis';
import type { RateLimitAction, RateLimitPlan, RoutePlan, TokenBucketPlan } from '../envoy/plan';

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
 */
export class GlobalRateLimits {
  private readonly limiters = new Map<string, RateLimiterRedis>();
  private readonly deadlines: Deadlines;
  private window?: Promise<void>;

  /**
   * @param pipelineWindowMs checks wait up to this long for others, so all of them
   *   reach Redis in one write and one round trip, like the rate limit service's
   *   REDIS_PIPELINE_WINDOW; 0 sends each at once.
   */
  constructor(
    private readonly plan: RateLimitPlan,
    redis: Redis,
    private readonly jwtMetadataKey: string | undefined,
    private readonly pipelineWindowMs = 0,
  ) {
    this.deadlines = new Deadlines(plan.timeoutMs);
    for (const [key, limit] of plan.limits) {
      this.limiters.set(
        key,
        new RateLimiterRedis({
          storeClient: redis,
          keyPrefix: `rl:${plan.domain}:${key}`,
          points: limit.requestsPerUnit,
          duration: limit.durationSeconds,
        }),
      );
    }
  }

  /** Builds the request's descriptors; one whose action cannot produce a value is skipped, as in Envoy. */
  descriptors(actions: RateLimitAction[][], facts: RequestFacts): Array<{ key: string; value: string }> {
    const out: Array<{ key: string; value: string }> = [];
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
  async check(route: RoutePlan, facts: RequestFacts): Promise<LimitOutcome> {
    if (this.pipelineWindowMs > 0) await this.windowClosed();
    const consumed: Array<Promise<Counted>> = [];
    for (const d of this.descriptors(route.rateLimitActions, facts)) {
      const limiter = this.limiters.get(d.key);
      if (limiter) consumed.push(limiter.consume(d.value).then((res) => ({ d, limiter, res, over: false }), (err: unknown) => overOrThrow(err, d, limiter)));
    }
    if (consumed.length === 0) return {};
    const settled = await this.deadlines.within(consumed.length === 1 ? consumed[0].then((c) => [c]) : Promise.all(consumed));
    if (settled === undefined) return this.failure();
    let tightest: Counted | undefined;
    for (const r of settled) {
      if (r.over) {
        return {
          limited: { descriptor: r.d.key, retryAfterMs: r.res.msBeforeNext, limit: r.limiter.points },
          headers: this.headers(r.limiter.points, 0, r.res.msBeforeNext),
        };
      }
      if (!tightest || r.res.remainingPoints < tightest.res.remainingPoints) tightest = r;
    }
    return { headers: this.headers(tightest!.limiter.points, tightest!.res.remainingPoints, tightest!.res.msBeforeNext) };
  }

  /** Resolves when the current pipeline window closes; every check waiting on it then goes out in the same tick. */
  private windowClosed(): Promise<void> {
    if (!this.window) {
      this.window = new Promise((resolve) => {
        setTimeout(() => {
          this.window = undefined;
          resolve();
        }, this.pipelineWindowMs);
      });
    }
    return this.window;
  }

  /** Stops the timer that ends overdue checks. */
  close(): void {
    this.deadlines.close();
  }

  private failure(): LimitOutcome {
    if (this.plan.failureModeDeny) return { limited: { descriptor: 'ratelimit_service_unavailable', retryAfterMs: 1000, limit: 0 } };
    return { failedOpen: true };
  }

  private headers(limit: number, remaining: number, msBeforeNext: number): LimitHeaders | undefined {
    if (!this.plan.xRateLimitHeaders) return undefined;
    return {
      'x-ratelimit-limit': String(limit),
      'x-ratelimit-remaining': String(Math.max(0, remaining)),
      'x-ratelimit-reset': String(Math.ceil(msBeforeNext / 1000)),
    };
  }
}

interface Counted {
  d: { key: string; value: string };
  limiter: RateLimiterRedis;
  res: RateLimiterRes;
  over: boolean;
}

function overOrThrow(err: unknown, d: { key: string; value: string }, limiter: RateLimiterRedis): Counted {
  if (err instanceof RateLimiterRes) return { d, limiter, res: err, over: true };
  throw err;
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
 * Envoy's local_ratelimit token bucket for one route, per gateway process: a
 * steady `tokens_per_fill` per `fill_interval` plus a burst allowance up to
 * `max_tokens`.
 */
export class LocalTokenBucket {
  private readonly limiter: BurstyRateLimiter | RateLimiterMemory;

  constructor(readonly plan: TokenBucketPlan) {
    const seconds = Math.max(1, Math.round(plan.fillIntervalMs / 1000));
    const steady = new RateLimiterMemory({ points: plan.tokensPerFill, duration: seconds });
    const burst = plan.maxTokens - plan.tokensPerFill;
    this.limiter = burst > 0 ? new BurstyRateLimiter(steady, new RateLimiterMemory({ keyPrefix: 'burst', points: burst, duration: seconds * Math.ceil(plan.maxTokens / plan.tokensPerFill) })) : steady;
  }

  /** Takes a token; returns how long to wait if there is none. */
  async take(): Promise<number | undefined> {
    try {
      await this.limiter.consume('route');
      return undefined;
    } catch (err) {
      if (err instanceof RateLimiterRes) return err.msBeforeNext;
      throw err;
    }
  }
}
