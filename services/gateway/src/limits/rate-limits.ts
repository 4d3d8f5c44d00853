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

  constructor(
    private readonly plan: RateLimitPlan,
    redis: Redis,
    private readonly jwtMetadataKey: string | undefined,
  ) {
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
    const checks = this.descriptors(route.rateLimitActions, facts)
      .map((d) => ({ d, limiter: this.limiters.get(d.key) }))
      .filter((c): c is { d: { key: string; value: string }; limiter: RateLimiterRedis } => c.limiter !== undefined);
    if (checks.length === 0) return {};
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.plan.timeoutMs);
    });
    const results = Promise.all(
      checks.map(({ d, limiter }) =>
        limiter.consume(d.value).then(
          (res) => ({ d, limiter, res, over: false }),
          (err: unknown) => {
            if (err instanceof RateLimiterRes) return { d, limiter, res: err, over: true };
            throw err;
          },
        ),
      ),
    );
    try {
      const settled = await Promise.race([results, timeout]);
      if (settled === 'timeout') return this.failure();
      let tightest: (typeof settled)[number] | undefined;
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
    } catch {
      return this.failure();
    } finally {
      clearTimeout(timer);
      results.catch(() => undefined);
    }
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
