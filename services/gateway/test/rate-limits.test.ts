import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import Redis from 'ioredis';
import { createRedis } from '../../shared/src/redis';
import type { RateLimitPlan, RoutePlan } from '../src/envoy/plan';
import { GlobalRateLimits, LocalTokenBucket } from '../src/limits/rate-limits';
import { waitFor } from './stand-in';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

function planWith(overrides: Partial<RateLimitPlan> = {}): RateLimitPlan {
  return {
    domain: 'coursereg',
    timeoutMs: 50,
    failureModeDeny: false,
    statusOnError: 500,
    xRateLimitHeaders: true,
    limits: new Map([
      ['student', { unit: 'second', requestsPerUnit: 3, durationSeconds: 1 }],
      ['remote_address', { unit: 'second', requestsPerUnit: 100, durationSeconds: 1 }],
    ]),
    ...overrides,
  };
}

// The route's descriptors, as envoy.yaml builds them: the JWT subject, then the client address.
const route = {
  name: 'course-reads',
  rateLimitActions: [[{ kind: 'metadata', descriptorKey: 'student', filter: 'envoy.filters.http.jwt_authn', path: ['jwt_payload', 'sub'] }], [{ kind: 'remote_address' }]],
} as unknown as RoutePlan;

const facts = (student: string) => ({ remoteAddress: '10.0.0.7', jwtPayload: { sub: student } });

describe('GlobalRateLimits against Redis', () => {
  const prefix = `coursereg-test:ratelimits_${process.pid}_${randomBytes(3).toString('hex')}:`;
  let redis: Redis;
  let limits: GlobalRateLimits;

  beforeAll(async () => {
    redis = createRedis(REDIS_URL, prefix);
    // Connected before the first check, and a timeout no busy test machine reaches: these
    // tests are about counting, and a check that times out fails open.
    await redis.ping();
    limits = new GlobalRateLimits(planWith({ timeoutMs: 2000 }), redis, 'jwt_payload');
  });

  afterAll(async () => {
    limits.close();
    const plain = new Redis(REDIS_URL);
    const keys = await plain.keys(`${prefix}*`);
    if (keys.length) await plain.del(...keys);
    plain.disconnect();
    redis.disconnect();
  });

  it('check_overStudentLimit_refusesThatStudentWithRetryHint_otherStudentServed', async () => {
    const outcomes = [];
    for (let i = 0; i < 4; i++) outcomes.push(await limits.check(route, facts('S0001')));
    expect(outcomes.slice(0, 3).map((o) => o.limited)).toEqual([undefined, undefined, undefined]);
    // The tightest limit is reported: 3 per second for the student, counting down.
    expect(outcomes.slice(0, 3).map((o) => o.headers?.['x-ratelimit-remaining'])).toEqual(['2', '1', '0']);
    // Envoy's draft-03 form: the tightest limit, then each descriptor's quota policy.
    expect(outcomes[0].headers?.['x-ratelimit-limit']).toBe('3, 3;w=1, 100;w=1');

    const refused = outcomes[3];
    expect(refused.limited).toMatchObject({ descriptor: 'student', limit: 3 });
    expect(refused.limited!.retryAfterMs).toBeGreaterThan(0);
    expect(refused.limited!.retryAfterMs).toBeLessThanOrEqual(1000);
    expect(refused.headers).toMatchObject({ 'x-ratelimit-limit': '3, 3;w=1, 100;w=1', 'x-ratelimit-remaining': '0' });

    const other = await limits.check(route, facts('S0002'));
    expect(other.limited).toBeUndefined();
    expect(other.failedOpen).toBeUndefined();
  });

  it('check_manyConcurrentCalls_eachCountedOnce', async () => {
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => limits.check(route, facts('S0003'))));
    expect(outcomes.filter((o) => !o.limited)).toHaveLength(3);
    expect(outcomes.filter((o) => o.limited?.descriptor === 'student')).toHaveLength(7);
  });

  it('check_batchOfChecksOnSharedCounters_eachSeesItsOwnPosition_countersEndAtTheTotal', async () => {
    const from = (student: string) => ({ remoteAddress: '10.0.0.99', jwtPayload: { sub: student } });
    // One check first, so the student's counter does not start at zero when the batch comes.
    expect((await limits.check(route, from('S0006'))).headers?.['x-ratelimit-remaining']).toBe('2');
    // Same tick: one batch, one increment per counter (4 for S0006, 2 for S0007, 6 for the address).
    const outcomes = await Promise.all([...Array.from({ length: 4 }, () => limits.check(route, from('S0006'))), limits.check(route, from('S0007')), limits.check(route, from('S0007'))]);
    expect(outcomes.map((o) => o.limited?.descriptor)).toEqual([undefined, undefined, 'student', 'student', undefined, undefined]);
    expect(outcomes.map((o) => o.headers?.['x-ratelimit-remaining'])).toEqual(['1', '0', '0', '0', '2', '1']);
    const plain = new Redis(REDIS_URL);
    try {
      expect(await plain.get(`${prefix}rl:coursereg:student:S0006`)).toBe('5');
      expect(await plain.get(`${prefix}rl:coursereg:student:S0007`)).toBe('2');
      expect(await plain.get(`${prefix}rl:coursereg:remote_address:10.0.0.99`)).toBe('7');
    } finally {
      plain.disconnect();
    }
  });

  it('check_withPipelineWindow_waitsForTheWindowThenCountsEachCheckOnce', async () => {
    const windowed = new GlobalRateLimits(planWith({ timeoutMs: 2000 }), redis, 'jwt_payload', 30);
    try {
      const started = performance.now();
      const outcomes = await Promise.all(Array.from({ length: 5 }, () => windowed.check(route, facts('S0005'))));
      expect(performance.now() - started).toBeGreaterThanOrEqual(25);
      expect(outcomes.filter((o) => !o.limited)).toHaveLength(3);
      expect(outcomes.filter((o) => o.limited?.descriptor === 'student')).toHaveLength(2);
    } finally {
      windowed.close();
    }
  });

  it('check_aBatchOfManyCounters_leavesForRedisInOneWrite', async () => {
    const windowed = new GlobalRateLimits(planWith({ timeoutMs: 2000 }), redis, 'jwt_payload', 30);
    // Scripts loaded and the connection warm before counting writes.
    await windowed.check(route, facts('S1999'));
    const socket = redis.stream as Socket & { _write(...args: unknown[]): void; _writev(...args: unknown[]): void };
    const write = jest.spyOn(socket, '_write');
    const writev = jest.spyOn(socket, '_writev');
    try {
      const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => windowed.check(route, facts(`S1${String(i).padStart(3, '0')}`))));
      expect(outcomes.filter((o) => o.limited)).toHaveLength(0);
      // 21 increments (20 students and the one address) in one write to the socket.
      expect(write.mock.calls.length + writev.mock.calls.length).toBe(1);
    } finally {
      write.mockRestore();
      writev.mockRestore();
      windowed.close();
    }
  });

  it('check_routeWithoutDescriptorsThatHaveLimits_checksNothing', async () => {
    const unlimited = { ...route, rateLimitActions: [[{ kind: 'generic_key', descriptorKey: 'no_limit_here', value: 'x' }]] } as unknown as RoutePlan;
    expect(await limits.check(unlimited, facts('S0004'))).toEqual({});
  });

  it('check_valueEntries_takeThePlaceOfTheKeysLimitForThatValueOnly', async () => {
    // As the rate limit service's config: one address blocked (0 a second), one exempt, the rest at 100.
    const valueLimits = new Map([
      [
        'remote_address',
        new Map([
          ['10.9.0.1', { unit: 'second', requestsPerUnit: 0, durationSeconds: 1 }],
          ['10.9.0.2', { unit: 'none', requestsPerUnit: 0, durationSeconds: 0, unlimited: true }],
        ]),
      ],
    ]);
    const byValue = new GlobalRateLimits(planWith({ timeoutMs: 2000, valueLimits }), redis, 'jwt_payload');
    const at = (address: string, student: string) => byValue.check(route, { remoteAddress: address, jwtPayload: { sub: student } });
    try {
      const blocked = await at('10.9.0.1', 'S2001');
      expect(blocked.limited).toMatchObject({ descriptor: 'remote_address', limit: 0 });
      // Another address keeps the key's own limit: served, with 100 a second in its policy.
      const other = await at('10.9.0.3', 'S2002');
      expect(other.limited).toBeUndefined();
      expect(other.headers?.['x-ratelimit-limit']).toBe('3, 3;w=1, 100;w=1');
      // The exempt address is not counted at all; the student's own limit still holds.
      const exempt = await Promise.all(Array.from({ length: 4 }, () => at('10.9.0.2', 'S2003')));
      expect(exempt.map((o) => o.limited?.descriptor)).toEqual([undefined, undefined, undefined, 'student']);
      expect(exempt[0].headers?.['x-ratelimit-limit']).toBe('3, 3;w=1');
      const plain = new Redis(REDIS_URL);
      try {
        expect(await plain.exists(`${prefix}rl:coursereg:remote_address:10.9.0.2`, `${prefix}rl:coursereg:remote_address=10.9.0.2:10.9.0.2`)).toBe(0);
        expect(await plain.get(`${prefix}rl:coursereg:remote_address=10.9.0.1:10.9.0.1`)).toBe('1');
        expect(await plain.get(`${prefix}rl:coursereg:remote_address:10.9.0.1`)).toBeNull();
      } finally {
        plain.disconnect();
      }
    } finally {
      byValue.close();
    }
  });

  it('check_shadowModeLimit_countsButNeverRefuses', async () => {
    const shadow = new GlobalRateLimits(
      planWith({ timeoutMs: 2000, limits: new Map([['student', { unit: 'second', requestsPerUnit: 2, durationSeconds: 1, shadow: true }]]) }),
      redis,
      'jwt_payload',
    );
    try {
      const outcomes = await Promise.all(Array.from({ length: 4 }, () => shadow.check(route, facts('S2101'))));
      expect(outcomes.map((o) => o.limited)).toEqual([undefined, undefined, undefined, undefined]);
      expect(outcomes.map((o) => o.shadowLimited)).toEqual([undefined, undefined, 'student', 'student']);
      expect(outcomes.map((o) => o.headers?.['x-ratelimit-remaining'])).toEqual(['1', '0', '0', '0']);
    } finally {
      shadow.close();
    }
  });
});

describe('GlobalRateLimits when Redis goes away and comes back', () => {
  const prefix = `coursereg-test:ratelimits_outage_${process.pid}_${randomBytes(3).toString('hex')}:`;
  const upstream = new URL(REDIS_URL);
  const sockets = new Set<Socket>();
  let relay: Server;
  let port = 0;

  /** A TCP relay to the real Redis, which the test can take down and bring back on the same port. */
  async function openRelay(): Promise<void> {
    relay = createServer((client) => {
      const server = connect(Number(upstream.port || 6379), upstream.hostname);
      for (const s of [client, server]) {
        sockets.add(s);
        s.on('error', () => undefined);
        s.once('close', () => sockets.delete(s));
      }
      client.pipe(server).pipe(client);
      client.once('close', () => server.destroy());
      server.once('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(port, '127.0.0.1', resolve));
    port = (relay.address() as { port: number }).port;
  }

  async function closeRelay(): Promise<void> {
    const closed = new Promise<void>((resolve) => relay.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await closed;
  }

  afterAll(async () => {
    const plain = new Redis(REDIS_URL);
    const keys = await plain.keys(`${prefix}*`);
    if (keys.length) await plain.del(...keys);
    plain.disconnect();
  });

  it('check_redisReconnecting_failsOpenAtOnce_andNothingIsCountedLater', async () => {
    await openRelay();
    const redis = createRedis(`redis://127.0.0.1:${port}/${upstream.pathname.slice(1) || '0'}`, prefix);
    // An hour's window, so the count cannot start over during the test.
    const limits = new GlobalRateLimits(
      planWith({ timeoutMs: 2000, limits: new Map([['student', { unit: 'hour', requestsPerUnit: 1000, durationSeconds: 3600 }]]) }),
      redis,
      'jwt_payload',
    );
    try {
      await redis.ping();
      expect((await limits.check(route, facts('S3001'))).headers?.['x-ratelimit-remaining']).toBe('999');

      await closeRelay();
      await waitFor(() => redis.status !== 'ready', 'the client to see Redis gone');
      const started = performance.now();
      const during = Promise.all(Array.from({ length: 10 }, () => limits.check(route, facts('S3001'))));
      // Redis comes back while those checks are (or would be) waiting in the client's offline queue.
      await openRelay();
      // They fail open at once, not after the 2 s timeout nor once Redis is back: the rate limit
      // service answers an error when its Redis is down.
      expect(await during).toEqual(Array.from({ length: 10 }, () => ({ failedOpen: true })));
      expect(performance.now() - started).toBeLessThan(1000);
      await waitFor(() => redis.status === 'ready', 'the client to reconnect', 10_000);
      // The checks made while Redis was away were never counted, then or since.
      expect((await limits.check(route, facts('S3001'))).headers?.['x-ratelimit-remaining']).toBe('998');
    } finally {
      limits.close();
      redis.disconnect();
      await closeRelay();
    }
  });
});

describe('GlobalRateLimits when Redis does not answer', () => {
  // A stand-in for a stalled Redis: it accepts connections and never replies.
  let stalled: Server;
  const sockets = new Set<Socket>();
  let port = 0;

  beforeAll(async () => {
    stalled = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
    port = (stalled.address() as { port: number }).port;
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => stalled.close(() => resolve()));
  });

  function stalledRedis(): Redis {
    // No ready check: the stand-in never answers INFO either.
    return new Redis({ host: '127.0.0.1', port, enableReadyCheck: false, maxRetriesPerRequest: 1, lazyConnect: false });
  }

  it('check_redisSilent_failsOpenAfterTheTimeout', async () => {
    const redis = stalledRedis();
    const limits = new GlobalRateLimits(planWith({ timeoutMs: 40 }), redis, 'jwt_payload');
    try {
      const started = Date.now();
      const outcomes = await Promise.all([limits.check(route, facts('S0001')), limits.check(route, facts('S0002'))]);
      const took = Date.now() - started;
      expect(outcomes).toEqual([{ failedOpen: true }, { failedOpen: true }]);
      // Between the timeout and one and a half times it (the sweep runs every timeout / 2), plus scheduling slack.
      expect(took).toBeGreaterThanOrEqual(35);
      expect(took).toBeLessThan(1000);
    } finally {
      limits.close();
      redis.disconnect();
    }
  });

  it('check_redisSilentAndFailureModeDeny_refuses', async () => {
    const redis = stalledRedis();
    const limits = new GlobalRateLimits(planWith({ timeoutMs: 40, failureModeDeny: true }), redis, 'jwt_payload');
    try {
      const outcome = await limits.check(route, facts('S0001'));
      expect(outcome).toEqual({ failedClosed: true });
    } finally {
      limits.close();
      redis.disconnect();
    }
  });
});

describe("local_ratelimit's token bucket, as Envoy's", () => {
  /** A bucket of 20 tokens filled with 10 every `fillIntervalMs`, on a clock the test moves. */
  function bucket(fillIntervalMs = 1000) {
    let now = 0;
    const b = new LocalTokenBucket({ maxTokens: 20, tokensPerFill: 10, fillIntervalMs }, () => now);
    /** Takes as many tokens as there are; the number taken, and the wait the first refusal named. */
    const drain = () => {
      let taken = 0;
      let wait: number | undefined;
      while ((wait = b.take()) === undefined) taken++;
      return { taken, wait };
    };
    return { drain, advance: (ms: number) => (now += ms) };
  }

  test('startsFull_thenGivesTokensPerFillEachInterval_neverMoreThanMaxTokens', () => {
    const { drain, advance } = bucket();
    expect(drain()).toEqual({ taken: 20, wait: 1000 });
    advance(400);
    expect(drain()).toEqual({ taken: 0, wait: 600 });
    advance(600);
    expect(drain()).toEqual({ taken: 10, wait: 1000 });
    // Ten quiet intervals fill it to max_tokens, not to 100.
    advance(10_000);
    expect(drain().taken).toBe(20);
  });

  test('callsAsFastAsAllowedForSixSeconds_getTheBurstPlusTenASecond', () => {
    const { drain, advance } = bucket();
    let taken = drain().taken;
    for (let ms = 0; ms < 6000; ms += 50) {
      advance(50);
      taken += drain().taken;
    }
    expect(taken).toBe(20 + 6 * 10);
  });

  test('aFillIntervalUnderASecond_isKept', () => {
    const { drain, advance } = bucket(100);
    drain();
    advance(100);
    expect(drain()).toEqual({ taken: 10, wait: 100 });
  });
});

