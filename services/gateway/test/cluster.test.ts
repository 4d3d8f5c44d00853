import * as http2 from 'node:http2';
import { createLogger } from '../../shared/src/logger';
import { Metrics } from '../../shared/src/metrics';
import { GatewayMetrics } from '../src/proxy/metrics';
import { ENVOY_HTTP2_DEFAULTS, type ClusterPlan } from '../src/envoy/plan';
import { cancelAttempt, Cluster, UpstreamCancelled, UpstreamFailure, UpstreamDeadlinePassed, UpstreamRefused, UpstreamTimeout, type UpstreamRequest } from '../src/proxy/upstream';
import { startStandIn, unaryRequest, waitFor, type StandIn } from './stand-in';

/**
 * How a cluster of several hosts picks one per call, for each lb_policy the
 * gateway takes from envoy.yaml, over real HTTP/2 connections to stand-in hosts.
 */

interface Host {
  standIn: StandIn;
  address: string;
  hits: number;
  /** HTTP/2 connections the host has accepted. */
  connections: number;
  /** When set, calls are held (not answered) until the test answers them. */
  hold: boolean;
  held: http2.ServerHttp2Stream[];
}

const log = createLogger('cluster-test', 'silent');
let hosts: Host[];
const clusters: Cluster[] = [];

function answer(stream: http2.ServerHttp2Stream): void {
  if (stream.destroyed) return;
  stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' }, { endStream: true });
}

async function startHost(): Promise<Host> {
  const standIn = await startStandIn((stream) => {
    host.hits++;
    if (host.hold) host.held.push(stream);
    else answer(stream);
  });
  const host: Host = { standIn, address: standIn.address, hits: 0, connections: 0, hold: false, held: [] };
  standIn.server.on('session', () => host.connections++);
  return host;
}

beforeAll(async () => {
  hosts = [await startHost(), await startHost(), await startHost()];
});

beforeEach(() => {
  for (const h of hosts) {
    h.hits = 0;
    h.hold = false;
  }
});

afterAll(async () => {
  for (const c of clusters) c.close();
  for (const h of hosts) {
    for (const s of h.held) answer(s);
    await h.standIn.close();
  }
});

function cluster(lbPolicy: ClusterPlan['lbPolicy'], addresses: string[], random?: () => number, tune: Partial<Pick<ClusterPlan, 'http2' | 'breaker' | 'idleTimeoutMs' | 'panicThresholdPercent' | 'outlier'>> = {}): Cluster {
  const plan: ClusterPlan = {
    name: 'stand-in',
    addresses,
    lbPolicy,
    http2: ENVOY_HTTP2_DEFAULTS,
    idleTimeoutMs: 3_600_000,
    connectTimeoutMs: 1000,
    panicThresholdPercent: 0,
    breaker: { maxConnections: 4, maxPendingRequests: 100, maxRequests: 100, maxRetries: 3 },
    ...tune,
  };
  const c = new Cluster(plan, addresses, 1, log, random);
  clusters.push(c);
  return c;
}

/** Sends one call and returns the index of the host that took it. */
async function callAndSeeWhere(c: Cluster): Promise<number> {
  const before = hosts.map((h) => h.hits);
  const res = await c.send(unaryRequest());
  res.stream.resume();
  res.release();
  return hosts.findIndex((h, i) => h.hits > before[i]);
}

test('roundRobin_threeHosts_takesThemInTurn', async () => {
  const c = cluster('ROUND_ROBIN', hosts.map((h) => h.address));
  const order: number[] = [];
  for (let i = 0; i < 9; i++) order.push(await callAndSeeWhere(c));
  expect(order).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2]);
});

test('random_picksTheHostItsRandomSourceNames', async () => {
  const draws = [0.1, 0.9, 0.5, 0.4, 0.7];
  let n = 0;
  const c = cluster('RANDOM', hosts.map((h) => h.address), () => draws[n++ % draws.length]);
  const order: number[] = [];
  for (let i = 0; i < draws.length; i++) order.push(await callAndSeeWhere(c));
  // floor(draw × 3 hosts)
  expect(order).toEqual([0, 2, 1, 1, 2]);
});

test('leastRequest_oneHostBusy_sendsNewCallsToTheIdleOne', async () => {
  // Two hosts: both are always the two choices, so the less busy one wins; a tie goes to the first draw.
  const c = cluster('LEAST_REQUEST', [hosts[0].address, hosts[1].address], () => 0);
  hosts[0].hold = true;
  const busy = c.send(unaryRequest());
  await waitFor(() => hosts[0].hits === 1, 'the host holds one call', 2000);
  const order: number[] = [];
  for (let i = 0; i < 4; i++) order.push(await callAndSeeWhere(c));
  expect(order).toEqual([1, 1, 1, 1]);
  expect(c.inFlight).toBe(1);

  // Once the busy call finishes the hosts are even again, and the first draw (host 0) wins.
  hosts[0].hold = false;
  answer(hosts[0].held.shift()!);
  const res = await busy;
  res.stream.resume();
  res.release();
  expect(c.inFlight).toBe(0);
  expect(await callAndSeeWhere(c)).toBe(0);
});

describe('healthy_panic_threshold', () => {
  test('fewerHostsInThanTheThreshold_panics_andCallsGoToEveryHost', async () => {
    // Envoy's default of 50%: with two of three hosts ejected (33% in), its load balancer
    // disregards health and spreads calls over all three.
    const c = cluster('ROUND_ROBIN', hosts.map((h) => h.address), undefined, { panicThresholdPercent: 50 });
    c.hosts[0].breaker.open();
    c.hosts[1].breaker.open();
    const order: number[] = [];
    for (let i = 0; i < 6; i++) order.push(await callAndSeeWhere(c));
    expect(order).toEqual([0, 1, 2, 0, 1, 2]);
    // Calls sent in panic do not move the breakers: the two hosts are still out.
    expect(c.hosts.map((h) => h.state)).toEqual(['open', 'open', 'closed']);
  });

  test('asManyHostsInAsTheThreshold_isNoPanic_andCallsAvoidTheEjectedHost', async () => {
    // One of two hosts in is 50%: not below the threshold.
    const c = cluster('ROUND_ROBIN', [hosts[0].address, hosts[1].address], undefined, { panicThresholdPercent: 50 });
    c.hosts[0].breaker.open();
    const order: number[] = [];
    for (let i = 0; i < 4; i++) order.push(await callAndSeeWhere(c));
    expect(order).toEqual([1, 1, 1, 1]);
  });

  test('aSingleEjectedHost_takesCallsInPanic_butAtZeroCallsFailFast', async () => {
    const panicking = cluster('ROUND_ROBIN', [hosts[0].address], undefined, { panicThresholdPercent: 50 });
    panicking.hosts[0].breaker.open();
    expect(await callAndSeeWhere(panicking)).toBe(0);

    // envoy.yaml sets 0 for the services: with no host in, calls are refused without reaching one.
    const failFast = cluster('ROUND_ROBIN', [hosts[0].address], undefined, { panicThresholdPercent: 0 });
    failFast.hosts[0].breaker.open();
    await expect(failFast.send(unaryRequest())).rejects.toMatchObject({ constructor: UpstreamRefused, reason: 'UPSTREAM_CIRCUIT_OPEN' });
    expect(hosts[0].hits).toBe(1);
    expect(failFast.inFlight).toBe(0);
  });
});

describe('outlier detection', () => {
  // A host that answers every call trailers-only with `grpcStatus`, or holds it (`hold`)
  // for the test to answer.
  let grpcStatus = '13';
  let failing: StandIn;
  let onHeld: ((stream: http2.ServerHttp2Stream) => void) | undefined;
  beforeAll(async () => {
    failing = await startStandIn((stream) => {
      stream.on('end', () => {
        if (grpcStatus === 'hold') onHeld?.(stream);
        else stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': grpcStatus, 'grpc-message': 'no' }, { endStream: true });
      });
    });
  });
  afterAll(() => failing.close());

  const outlier = (ejectOn: 'all-5xx' | 'gateway-failures') => ({ ejectOn, consecutiveFailures: 5, intervalMs: 10_000, baseEjectionMs: 60_000, maxEjectionMs: 300_000, maxEjectionJitterMs: 0, unejectOnHealthCheck: true });

  /** Sends `n` calls; the grpc-status each caller got, or the reason it was refused. */
  async function outcomes(c: Cluster, n: number): Promise<string[]> {
    const seen: string[] = [];
    for (let i = 0; i < n; i++) {
      try {
        const res = await c.send(unaryRequest());
        res.stream.resume();
        res.release();
        seen.push(String(res.headers['grpc-status']));
      } catch (err) {
        seen.push(err instanceof UpstreamRefused ? err.reason : err instanceof UpstreamFailure ? err.kind : String(err));
      }
    }
    return seen;
  }

  /**
   * Fails one call (UNAVAILABLE) on a host ejected at its first failure, and waits until the
   * host lets a trial call through; how long it stayed ejected, in ms.
   */
  async function ejection(c: Cluster): Promise<number> {
    grpcStatus = '14';
    const breaker = c.hosts[0].breaker;
    const opened = new Promise<number>((resolve) => breaker.once('open', () => resolve(performance.now())));
    const halfOpen = new Promise<number>((resolve) => breaker.once('halfOpen', () => resolve(performance.now())));
    expect(await outcomes(c, 1)).toEqual(['unavailable']);
    const from = await opened;
    return Math.round((await halfOpen) - from);
  }

  test('eachEjection_lastsLonger_upToMaxEjectionTime_andShrinksAgainWhileTheHostStaysIn', async () => {
    // Envoy's eject_time_backoff: base_ejection_time × the number of ejections, capped at
    // max_ejection_time; one less for every outlier interval the host stays in afterwards.
    // A failed trial call of a half-open breaker is the host's next ejection.
    const c = cluster('ROUND_ROBIN', [failing.address], undefined, {
      outlier: { ejectOn: 'gateway-failures', consecutiveFailures: 1, intervalMs: 300, baseEjectionMs: 200, maxEjectionMs: 700, maxEjectionJitterMs: 0, unejectOnHealthCheck: true },
    });
    // A length within timer slack of `expected` reads as `expected`; any other shows as measured.
    const about = (ms: number, expected: number) => (ms >= expected - 5 && ms < expected + 150 ? expected : ms);
    // 200, 400, 600, then capped at 700.
    const lengths = [await ejection(c), await ejection(c), await ejection(c), await ejection(c)];
    expect(lengths.map((ms, i) => about(ms, [200, 400, 600, 700][i]))).toEqual([200, 400, 600, 700]);

    // The host recovers: the trial call succeeds and it is back in.
    grpcStatus = '0';
    expect(await outcomes(c, 1)).toEqual(['0']);
    expect(c.hosts[0].state).toBe('closed');
    // Three outlier intervals in, the back-off (4) is down to 1: the next ejection is the
    // second step, 400 ms (without the shrinking it would stay capped at 700).
    await new Promise((r) => setTimeout(r, 950));
    expect(about(await ejection(c), 400)).toBe(400);
    grpcStatus = '0';
    expect(await outcomes(c, 1)).toEqual(['0']);
    // Long after, one base_ejection_time again (without the shrinking, 600).
    await new Promise((r) => setTimeout(r, 1000));
    expect(about(await ejection(c), 200)).toBe(200);
  }, 15_000);

  test('aTrialCallWhoseCallerLeaves_isFollowedToItsAnswer_whichDecidesWhetherTheHostIsBack', async () => {
    const c = cluster('ROUND_ROBIN', [failing.address], undefined, {
      outlier: { ejectOn: 'gateway-failures', consecutiveFailures: 1, intervalMs: 300, baseEjectionMs: 100, maxEjectionMs: 1000, maxEjectionJitterMs: 0, unejectOnHealthCheck: true },
    });
    const breaker = c.hosts[0].breaker;
    /**
     * Sends the trial call; once the host holds it, its caller leaves. The host then answers
     * with `answer`, or never. What the caller got, and whether the held call was still open
     * (not reset) once the caller had left.
     */
    const leaveTrial = async (req: UpstreamRequest, answer?: string): Promise<{ got: unknown; openAfterLeaving: boolean; held: http2.ServerHttp2Stream }> => {
      grpcStatus = 'hold';
      const held = new Promise<http2.ServerHttp2Stream>((resolve) => (onHeld = resolve));
      const got = c.send(req).catch((e: unknown) => e);
      const stream = await held;
      cancelAttempt(req);
      await new Promise((r) => setTimeout(r, 50));
      const openAfterLeaving = !stream.closed && !stream.destroyed;
      if (answer !== undefined && openAfterLeaving) stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': answer }, { endStream: true });
      return { got: await got, openAfterLeaving, held: stream };
    };

    // The host answers OK after the caller left: it is back. The caller is told it left.
    await ejection(c);
    const ok = await leaveTrial(unaryRequest(), '0');
    expect(ok.openAfterLeaving).toBe(true);
    expect(ok.got).toBeInstanceOf(UpstreamCancelled);
    expect(c.hosts[0].state).toBe('closed');

    // It answers UNAVAILABLE: ejected again.
    await ejection(c);
    const failed = await leaveTrial(unaryRequest(), '14');
    expect(failed.openAfterLeaving).toBe(true);
    expect(failed.got).toBeInstanceOf(UpstreamCancelled);
    expect(c.hosts[0].state).toBe('open');

    // A trial without a timer of its own (a stream with no deadline) whose host never answers:
    // given up after one outlier interval and counted as a failed trial; its stream is reset.
    const halfOpen = new Promise((resolve) => breaker.once('halfOpen', resolve));
    await halfOpen;
    const reopened = new Promise((resolve) => breaker.once('open', resolve));
    const silent = await leaveTrial({ ...unaryRequest(), headersTimeoutMs: 0, waitMs: 0 });
    expect(silent.openAfterLeaving).toBe(true);
    await reopened;
    expect(silent.got).toBeInstanceOf(UpstreamCancelled);
    expect(c.hosts[0].state).toBe('open');
    await new Promise((r) => setTimeout(r, 50));
    expect(silent.held.closed || silent.held.destroyed).toBe(true);
    expect(c.inFlight).toBe(0);
  });

  test('gatewayFailuresOnly_internalAnswersDoNotEject_butDeadlineExceededOnesDo', async () => {
    grpcStatus = '13';
    const internal = cluster('ROUND_ROBIN', [failing.address], undefined, { outlier: outlier('gateway-failures') });
    expect(await outcomes(internal, 8)).toEqual(Array(8).fill('13'));
    expect(internal.hosts[0].state).toBe('closed');

    // DEADLINE_EXCEEDED is Envoy's 504, a gateway failure: each caller still gets the answer,
    // and the fifth ejects the host.
    grpcStatus = '4';
    const deadline = cluster('ROUND_ROBIN', [failing.address], undefined, { outlier: outlier('gateway-failures') });
    expect(await outcomes(deadline, 6)).toEqual(['4', '4', '4', '4', '4', 'UPSTREAM_CIRCUIT_OPEN']);
    expect(deadline.inFlight).toBe(0);
  });

  test('every5xxEnforced_internalAnswersEject', async () => {
    grpcStatus = '13';
    const c = cluster('ROUND_ROBIN', [failing.address], undefined, { outlier: outlier('all-5xx') });
    expect(await outcomes(c, 6)).toEqual(['13', '13', '13', '13', '13', 'UPSTREAM_CIRCUIT_OPEN']);
    // Errors Envoy maps to 4xx never count.
    grpcStatus = '5'; // NOT_FOUND
    const notFound = cluster('ROUND_ROBIN', [failing.address], undefined, { outlier: outlier('all-5xx') });
    expect(await outcomes(notFound, 6)).toEqual(Array(6).fill('5'));
    expect(notFound.hosts[0].state).toBe('closed');
  });

  test('failuresInARow_eject_butAnAnswerBetweenThemStartsTheCountAgain', async () => {
    // Envoy counts consecutive failures, not a share of the calls.
    const c = cluster('ROUND_ROBIN', [failing.address], undefined, { outlier: outlier('gateway-failures') });
    for (let round = 0; round < 4; round++) {
      // Four UNAVAILABLE, then one OK: 80% of the calls fail, never five in a row.
      grpcStatus = '14';
      expect(await outcomes(c, 4)).toEqual(Array(4).fill('unavailable'));
      grpcStatus = '0';
      expect(await outcomes(c, 1)).toEqual(['0']);
    }
    expect(c.hosts[0].state).toBe('closed');
    // After ten answers, five failures in a row (a third of the calls) eject it.
    expect(await outcomes(c, 10)).toEqual(Array(10).fill('0'));
    grpcStatus = '14';
    expect(await outcomes(c, 6)).toEqual([...Array(5).fill('unavailable'), 'UPSTREAM_CIRCUIT_OPEN']);
  });

  test('theCallersOwnDeadlinePassing_neverEjects_butPerTryTimeoutsDo', async () => {
    // As in Envoy, whose connection manager ends a stream at its max duration (the caller's
    // grpc-timeout) without a word to outlier detection, while its router reports a per-try
    // timeout against the host.
    hosts[0].hold = true;
    const c = cluster('ROUND_ROBIN', [hosts[0].address], undefined, { outlier: outlier('gateway-failures') });
    const timedOut = async (timeoutIsCallers: boolean): Promise<string> => {
      const err = (await c.send({ ...unaryRequest(), headersTimeoutMs: 40, waitMs: 40, deadlineIsCallers: timeoutIsCallers, timeoutIsCallers }).catch((e: unknown) => e)) as Error;
      return err instanceof UpstreamRefused ? err.reason : err.constructor.name;
    };
    const callers: string[] = [];
    for (let i = 0; i < 8; i++) callers.push(await timedOut(true));
    expect(callers).toEqual(Array(8).fill('UpstreamDeadlinePassed'));
    expect(c.hosts[0].state).toBe('closed');
    // Nor do they break a run of counted failures: four per-try timeouts, then the caller's
    // deadline, then one more per-try timeout make five in a row.
    const mixed: string[] = [];
    for (let i = 0; i < 4; i++) mixed.push(await timedOut(false));
    mixed.push(await timedOut(true));
    mixed.push(await timedOut(false));
    mixed.push(await timedOut(false));
    expect(mixed).toEqual([...Array(4).fill('UpstreamTimeout'), 'UpstreamDeadlinePassed', 'UpstreamTimeout', 'UPSTREAM_CIRCUIT_OPEN']);
    hosts[0].hold = false;
  });

  test('withoutOutlierDetection_noFailedCallEjectsTheHost', async () => {
    grpcStatus = '14';
    const c = cluster('ROUND_ROBIN', [failing.address]);
    expect(await outcomes(c, 8)).toEqual(Array(8).fill('unavailable'));
    expect(c.hosts[0].state).toBe('closed');
  });
});

/** Answers every call the host holds, and stops holding. */
function answerHeld(h: Host): void {
  h.hold = false;
  for (const s of h.held.splice(0)) answer(s);
}

async function finish(pending: Promise<unknown>): Promise<void> {
  const res = (await pending) as { stream: http2.ClientHttp2Stream; release(): void };
  res.stream.resume();
  res.release();
}

test('maxConcurrentStreams_moreCallsThanOneConnectionCarries_opensAnotherConnection', async () => {
  // envoy.yaml's http2_protocol_options.max_concurrent_streams caps the streams the gateway
  // opens on one connection; past it, Envoy's pool opens another, within max_connections.
  const c = cluster('ROUND_ROBIN', [hosts[0].address], undefined, { http2: { ...ENVOY_HTTP2_DEFAULTS, maxConcurrentStreams: 2 } });
  hosts[0].hold = true;
  const before = hosts[0].connections;
  const calls = Array.from({ length: 5 }, () => c.send(unaryRequest()));
  await waitFor(() => hosts[0].hits === 5, 'the host holds five calls', 2000);
  expect(hosts[0].connections - before).toBe(3);
  expect(c.hosts[0].pool).toEqual({ connections: 3, streams: 5, waiting: 0 });

  answerHeld(hosts[0]);
  for (const call of calls) await finish(call);
  await waitFor(() => c.hosts[0].pool.streams === 0, 'no stream open', 2000);
  expect(c.inFlight).toBe(0);
});

/** A cluster of host 0 allowed one connection of one stream (and `breaker`'s other thresholds), with that stream taken by a held call. */
async function oneStreamBusy(breaker: Pick<ClusterPlan['breaker'], 'maxPendingRequests'> & Partial<ClusterPlan['breaker']>): Promise<{ c: Cluster; first: Promise<unknown> }> {
  const c = cluster('ROUND_ROBIN', [hosts[0].address], undefined, {
    http2: { ...ENVOY_HTTP2_DEFAULTS, maxConcurrentStreams: 1 },
    breaker: { maxConnections: 1, maxRequests: 100, maxRetries: 3, ...breaker },
  });
  hosts[0].hold = true;
  const first = c.send(unaryRequest());
  await waitFor(() => hosts[0].hits === 1, 'the host holds one call', 2000);
  return { c, first };
}

test('maxConnectionsReached_aCallWaitsForAStream_andOnePastMaxPendingIsRefused', async () => {
  const { c, first } = await oneStreamBusy({ maxPendingRequests: 1 });

  // The one connection carries its one stream: the next call waits, the one after is refused.
  const second = c.send(unaryRequest());
  await waitFor(() => c.hosts[0].pool.waiting === 1, 'one call waits for a stream', 2000);
  await expect(c.send(unaryRequest())).rejects.toMatchObject({ constructor: UpstreamRefused, reason: 'UPSTREAM_OVERLOADED' });
  expect(hosts[0].hits).toBe(1);
  expect(c.inFlight).toBe(2);
  expect(c.resources).toMatchObject({ requests: 1, pending: 1, connections: 1 });
  // Operators see the pool as Envoy's upstream_cx_active and upstream_rq_pending_active.
  const metrics = new Metrics('cluster-test');
  new GatewayMetrics(metrics, () => [c]);
  const text = await metrics.registry.metrics();
  expect(text).toContain(`coursereg_gateway_upstream_connections{cluster="stand-in",host="${hosts[0].address}",service="cluster-test"} 1`);
  expect(text).toContain(`coursereg_gateway_upstream_pending{cluster="stand-in",host="${hosts[0].address}",service="cluster-test"} 1`);

  // When the first call's stream ends, the waiting call takes its place on the same connection.
  answer(hosts[0].held.shift()!);
  await finish(first);
  await waitFor(() => hosts[0].hits === 2, 'the host holds the second call', 2000);
  expect(c.hosts[0].pool).toEqual({ connections: 1, streams: 1, waiting: 0 });
  answerHeld(hosts[0]);
  await finish(second);
  // An overflow says nothing about the host: its breaker stays closed.
  expect(c.hosts[0].state).toBe('closed');
});

test.each([
  ['the router timeout', false, UpstreamTimeout],
  ["the caller's own deadline", true, UpstreamDeadlinePassed],
])('waitingForAStream_past %s, the call fails without counting against the host', async (_what, callers, failure) => {
  const { c, first } = await oneStreamBusy({ maxPendingRequests: 10 });
  const started = Date.now();
  await expect(c.send({ ...unaryRequest(), headersTimeoutMs: 100, waitMs: 100, deadlineIsCallers: callers, timeoutIsCallers: callers })).rejects.toBeInstanceOf(failure);
  expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  expect(c.hosts[0].pool.waiting).toBe(0);
  // The wait was the pool's, not the host's failure: its breaker stays closed.
  expect(c.hosts[0].state).toBe('closed');
  answerHeld(hosts[0]);
  await finish(first);
});

test('thePerTryTimeout_startsWhenTheCallGetsItsStream_notWhileItWaits', async () => {
  // As in Envoy, where the per-try timer starts when the pool hands the request a stream.
  const { c, first } = await oneStreamBusy({ maxPendingRequests: 10 });
  const second = c.send({ ...unaryRequest(), headersTimeoutMs: 150, waitMs: 0 });
  await waitFor(() => c.hosts[0].pool.waiting === 1, 'one call waits for a stream', 2000);
  await new Promise((r) => setTimeout(r, 300));
  // Twice its per-try timeout in the queue, and it is still waiting, not failed.
  expect(c.hosts[0].pool.waiting).toBe(1);
  answerHeld(hosts[0]);
  await finish(first);
  await finish(second);
});

test('maxRequests_countsCallsThatHaveAStream_notThoseWaitingForOne', async () => {
  // Envoy checks max_requests when a call gets its stream; a waiting call counts only
  // against max_pending_requests.
  const { c, first } = await oneStreamBusy({ maxPendingRequests: 5, maxRequests: 1 });
  const second = c.send(unaryRequest());
  await waitFor(() => c.resources.pending === 1, 'one call pending', 2000);
  expect(c.resources.requests).toBe(1);

  answer(hosts[0].held.shift()!);
  await finish(first);
  await waitFor(() => hosts[0].hits === 2, 'the host holds the second call', 2000);
  expect(c.resources).toMatchObject({ requests: 1, pending: 0 });
  answerHeld(hosts[0]);
  await finish(second);
  await waitFor(() => c.resources.requests === 0, 'no request active', 2000);
});

test('maxRequestsReached_withStreamsFree_refusesTheNextCallAtOnce', async () => {
  const c = cluster('ROUND_ROBIN', [hosts[0].address], undefined, { breaker: { maxConnections: 4, maxPendingRequests: 5, maxRequests: 1, maxRetries: 3 } });
  hosts[0].hold = true;
  const first = c.send(unaryRequest());
  await waitFor(() => hosts[0].hits === 1, 'the host holds one call', 2000);
  await expect(c.send(unaryRequest())).rejects.toMatchObject({ constructor: UpstreamRefused, reason: 'UPSTREAM_OVERLOADED', message: expect.stringContaining('max_requests') });
  expect(hosts[0].hits).toBe(1);
  expect(c.inFlight).toBe(1);
  expect(c.hosts[0].state).toBe('closed');
  answerHeld(hosts[0]);
  await finish(first);
});

test('maxConnections_isCountedAcrossTheClustersHosts', async () => {
  // Two hosts, one stream per connection, two connections for the whole cluster (Envoy's
  // max_connections is per cluster): the third call waits although its host has one connection.
  const c = cluster('ROUND_ROBIN', [hosts[0].address, hosts[1].address], undefined, {
    http2: { ...ENVOY_HTTP2_DEFAULTS, maxConcurrentStreams: 1 },
    breaker: { maxConnections: 2, maxPendingRequests: 5, maxRequests: 100, maxRetries: 3 },
  });
  hosts[0].hold = true;
  hosts[1].hold = true;
  const calls = [c.send(unaryRequest()), c.send(unaryRequest())];
  await waitFor(() => hosts[0].hits === 1 && hosts[1].hits === 1, 'each host holds one call', 2000);
  calls.push(c.send(unaryRequest()));
  await waitFor(() => c.resources.pending === 1, 'one call pending', 2000);
  expect(c.resources).toMatchObject({ connections: 2, requests: 2 });
  expect(c.hosts.map((h) => h.pool.connections)).toEqual([1, 1]);

  // Host 0's stream comes free and the waiting call takes it there.
  answer(hosts[0].held.shift()!);
  await finish(calls[0]);
  await waitFor(() => hosts[0].hits === 2, 'the host holds the second call', 2000);
  expect(c.resources).toMatchObject({ connections: 2, pending: 0 });
  answerHeld(hosts[0]);
  answerHeld(hosts[1]);
  await finish(calls[1]);
  await finish(calls[2]);
});

test('idleTimeout_closesConnectionsWithoutACall_andTheNextCallOpensOneAgain', async () => {
  // common_http_protocol_options.idle_timeout: the extra connections a burst opened close
  // once idle, the kept one too; a later call connects again.
  const c = cluster('ROUND_ROBIN', [hosts[0].address], undefined, { http2: { ...ENVOY_HTTP2_DEFAULTS, maxConcurrentStreams: 1 }, idleTimeoutMs: 100 });
  hosts[0].hold = true;
  const calls = Array.from({ length: 3 }, () => c.send(unaryRequest()));
  await waitFor(() => hosts[0].hits === 3, 'the host holds three calls', 2000);
  expect(c.hosts[0].pool.connections).toBe(3);
  answerHeld(hosts[0]);
  for (const call of calls) await finish(call);
  await waitFor(() => c.hosts[0].pool.connections === 0, 'no connection open', 2000);
  expect(c.resources.connections).toBe(0);

  const before = hosts[0].connections;
  await finish(c.send(unaryRequest()));
  expect(hosts[0].connections - before).toBe(1);
  expect(c.hosts[0].pool.connections).toBe(1);
});
