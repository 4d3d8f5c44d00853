import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { NodeHttpTransport } from '@improbable-eng/grpc-web-node-http-transport';
import { grpc as grpcWeb } from '@improbable-eng/grpc-web';
import { TermStatus } from '../../../gen/web/coursereg/course/v1/course';
import { CourseServiceClientImpl, GrpcWebImpl } from '../../../gen/web/coursereg/course/v1/course_service';
import { GrpcWebImpl as StudentWeb, StudentServiceClientImpl } from '../../../gen/web/coursereg/student/v1/student_service';
import { startCourseService } from '../../course/src/main';
import { createTestEnv, type TestEnv } from '../../shared/testing/harness';
import { createLogger } from '../../shared/src/logger';
import { ENVOY_HTTP2_DEFAULTS, type ClusterPlan } from '../src/envoy/plan';
import { startGateway, type StartedGateway } from '../src/main';
import { Cluster } from '../src/proxy/upstream';
import { changedEnvoyConfig, webFailure } from './gateway.fixtures';
import { answerHealthCheck, startStandIn, unaryRequest, waitFor } from './stand-in';

let env: TestEnv;
let gateway: StartedGateway;
let course: Awaited<ReturnType<typeof startCourseService>> | undefined;
let client: CourseServiceClientImpl;
let md: grpcWeb.Metadata;
let coursePort: number;

beforeAll(async () => {
  env = await createTestEnv('gateway_breaker');
  course = await startCourseService(env.env);
  coursePort = course.port;
  gateway = await startGateway({ ...env.env, GATEWAY_PORT: '0', GATEWAY_METRICS_PORT: '0', COURSE_SERVICE_ADDR: `127.0.0.1:${coursePort}`, WEB_DIST_DIR: '/nonexistent' });
  client = new CourseServiceClientImpl(new GrpcWebImpl(`http://127.0.0.1:${gateway.port}`, { transport: NodeHttpTransport() }));
  md = new grpcWeb.Metadata({ authorization: `Bearer ${await env.signer.sign('registrar-1', 'registrar', 3600)}` });
});

afterAll(async () => {
  await gateway?.stop();
  await course?.stop();
  await env?.cleanup();
});

test('upstreamStopped_opensBreakerForFastUnavailable_andRestartClosesIt', async () => {
  await client.ListTerms({ pageSize: 1 }, md);
  expect(gateway.upstreams.get('course')!.state).toBe('closed');

  await course!.stop();
  course = undefined;

  // The first calls reach for the dead address (and reads are retried) until the breaker opens.
  const reasons: Array<string | undefined> = [];
  for (let i = 0; i < 6; i++) {
    const err = await webFailure(client.ListTerms({ pageSize: 1 }, md));
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    reasons.push(err.reason);
  }
  expect(reasons[0]).toBe('UPSTREAM_UNAVAILABLE');
  expect(reasons).toContain('UPSTREAM_CIRCUIT_OPEN');
  expect(gateway.upstreams.get('course')!.state).toBe('open');

  // While open, calls are refused without trying the upstream: fast, and counted as refused.
  const started = process.hrtime.bigint();
  const fast = await webFailure(client.ListTerms({ pageSize: 1 }, md));
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  expect(fast.reason).toBe('UPSTREAM_CIRCUIT_OPEN');
  expect(ms).toBeLessThan(1000); // one connect timeout is 1 s; refusing is far quicker
  // A write is refused the same way.
  const write = await webFailure(client.CreateTerm({ term: { code: '2029FA', name: 'Fall 2029' } }, md));
  expect(write.reason).toBe('UPSTREAM_CIRCUIT_OPEN');

  // Restart on the same address: health checks (or the half-open trial) close the breaker by themselves.
  course = await startCourseService({ ...env.env, COURSE_GRPC_ADDR: `127.0.0.1:${coursePort}` });
  const until = Date.now() + 20_000;
  for (;;) {
    try {
      await client.ListTerms({ pageSize: 1 }, md);
      break;
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  expect(gateway.upstreams.get('course')!.state).toBe('closed');
  expect(gateway.upstreams.get('course')!.inFlight).toBe(0);
}, 60_000);

describe('retries', () => {
  test('unavailableAnswer_isRetriedForReadsOnly', async () => {
    // A stand-in upstream that always answers UNAVAILABLE and counts what reaches it.
    const seen: string[] = [];
    const flaky = await startStandIn((stream, headers) => {
      seen.push(String(headers[':path']));
      stream.on('end', () => stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '14', 'grpc-message': 'busy' }, { endStream: true }));
    });
    const gw = await startGateway({ ...env.env, GATEWAY_PORT: '0', GATEWAY_METRICS_PORT: '0', STUDENT_SERVICE_ADDR: flaky.address, WEB_DIST_DIR: '/nonexistent' });
    try {
      const students = new StudentServiceClientImpl(new StudentWeb(`http://127.0.0.1:${gw.port}`, { transport: NodeHttpTransport() }));
      const read = await webFailure(students.GetStudent({ id: 'S0001' }, md));
      expect(read.code).toBe(grpc.status.UNAVAILABLE);
      expect(seen.filter((p) => p.endsWith('/GetStudent'))).toHaveLength(3); // first try + num_retries 2
      const write = await webFailure(students.PlaceHold({ studentId: 'S0001', reason: 'library fine' }, md));
      expect(write.code).toBe(grpc.status.UNAVAILABLE);
      expect(seen.filter((p) => p.endsWith('/PlaceHold'))).toHaveLength(1);
      // Every attempt, failed or relayed, is counted out again (max_requests stays honest).
      expect(gw.upstreams.get('student')!.inFlight).toBe(0);
    } finally {
      await gw.stop();
      await flaky.close();
    }
  });
});

describe('retry_on conditions, as Envoy tells them apart', () => {
  /** A stand-in student service that resets a call (RST_STREAM INTERNAL_ERROR), answers HTTP 503 (as a proxy in front of it would) or answers UNAVAILABLE, by method; counts what reaches it. */
  async function standInStudents() {
    const seen: string[] = [];
    const service = await startStandIn((stream, headers) => {
      const path = String(headers[':path']);
      seen.push(path);
      stream.on('end', () => {
        if (path.endsWith('/GetStudent')) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        else if (path.endsWith('/ListHolds')) stream.respond({ ':status': 503, 'content-type': 'text/plain' }, { endStream: true });
        else stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '14', 'grpc-message': 'busy' }, { endStream: true });
      });
    });
    return { service, count: (method: string) => seen.filter((p) => p.endsWith(`/${method}`)).length };
  }

  /** A gateway whose student-reads route retries on `retryOn` (and with `backOff` as both intervals, if given) instead of what envoy.yaml says. */
  async function gatewayRetryingOn(address: string, retryOn: string | undefined, backOff?: string): Promise<{ gw: StartedGateway; config: { remove(): void } }> {
    const config = changedEnvoyConfig((yaml) => {
      const at = yaml.indexOf('- name: student-reads');
      let route = yaml.slice(at);
      if (retryOn !== undefined) route = route.replace(/retry_on: [^\n]+/, `retry_on: ${retryOn}`);
      if (backOff !== undefined) route = route.replace(/base_interval: [^\n]+/, `base_interval: ${backOff}`).replace(/max_interval: [^\n]+/, `max_interval: ${backOff}`);
      return yaml.slice(0, at) + route;
    });
    const gw = await startGateway({ ...env.env, GATEWAY_PORT: '0', GATEWAY_METRICS_PORT: '0', STUDENT_SERVICE_ADDR: address, WEB_DIST_DIR: '/nonexistent', ENVOY_CONFIG_FILE: config.file });
    return { gw, config };
  }

  /** Runs `body` against a stand-in student service behind two gateways: one as envoy.yaml says, one retrying student reads on `unavailable` alone. */
  async function withGateways(body: (g: { asConfigured: StudentServiceClientImpl; unavailableOnly: StudentServiceClientImpl; count: (method: string) => number }) => Promise<void>): Promise<void> {
    const { service, count } = await standInStudents();
    const started = [await gatewayRetryingOn(service.address, undefined), await gatewayRetryingOn(service.address, 'unavailable')];
    const students = (gw: StartedGateway) => new StudentServiceClientImpl(new StudentWeb(`http://127.0.0.1:${gw.port}`, { transport: NodeHttpTransport() }));
    try {
      await body({ asConfigured: students(started[0].gw), unavailableOnly: students(started[1].gw), count });
    } finally {
      for (const g of started) {
        await g.gw.stop();
        g.config.remove();
      }
      await service.close();
    }
  }

  test('aResetRead_isRetriedUnderGatewayError_butNotUnderUnavailableAlone', () =>
    withGateways(async ({ asConfigured, unavailableOnly, count }) => {
      // envoy.yaml (unavailable,gateway-error): a reset is a gateway error, so the read is tried three times.
      expect((await webFailure(asConfigured.GetStudent({ id: 'S0001' }, md))).code).toBe(grpc.status.UNAVAILABLE);
      expect(count('GetStudent')).toBe(3);
      // With unavailable alone, Envoy retries only an UNAVAILABLE answer: the reset is not retried,
      expect((await webFailure(unavailableOnly.GetStudent({ id: 'S0001' }, md))).code).toBe(grpc.status.UNAVAILABLE);
      expect(count('GetStudent')).toBe(4);
      // and an UNAVAILABLE answer still is.
      expect((await webFailure(unavailableOnly.ListStudents({ pageSize: 1, pageToken: '', query: '' }, md))).code).toBe(grpc.status.UNAVAILABLE);
      expect(count('ListStudents')).toBe(3);
    }));

  test('aBackOffLongerThanTheDeadline_endsAtTheDeadline_withDeadlineExceeded', async () => {
    const { service } = await standInStudents();
    // A 5 s back-off: without the deadline's cut, a retry would wait up to 5 s past it.
    const { gw, config } = await gatewayRetryingOn(service.address, undefined, '5s');
    try {
      const students = new StudentServiceClientImpl(new StudentWeb(`http://127.0.0.1:${gw.port}`, { transport: NodeHttpTransport() }));
      const withDeadline = new grpcWeb.Metadata({ authorization: md.get('authorization')[0], 'grpc-timeout': '200m' });
      const started = Date.now();
      const err = await webFailure(students.ListStudents({ pageSize: 1, pageToken: '', query: '' }, withDeadline));
      expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      await gw.stop();
      config.remove();
      await service.close();
    }
  });

  test('anHttp503_isRetriedUnderGatewayError_andReachesTheCallerAsUnavailable', () =>
    withGateways(async ({ asConfigured, unavailableOnly, count }) => {
      // 503 is a gateway error: tried three times, then answered with gRPC's mapping of 503.
      const err = await webFailure(asConfigured.ListHolds({ studentId: 'S0001' }, md));
      expect(err.code).toBe(grpc.status.UNAVAILABLE);
      expect(err.message).toMatch(/HTTP 503/);
      expect(count('ListHolds')).toBe(3);
      // Not a retry_on unavailable condition (that is grpc-status 14 in the answer).
      expect((await webFailure(unavailableOnly.ListHolds({ studentId: 'S0001' }, md))).code).toBe(grpc.status.UNAVAILABLE);
      expect(count('ListHolds')).toBe(4);
    }));
});

describe('max_retries', () => {
  test('retriesPastTheClustersMaxRetries_areNotMade_andTheCallerGetsTheServicesOwnAnswer', async () => {
    // A stand-in student service that answers UNAVAILABLE (with its own message), holding
    // the first two calls until both have arrived, so that both fail at the same moment.
    let calls = 0;
    const held: http2.ServerHttp2Stream[] = [];
    const refuse = (stream: http2.ServerHttp2Stream) => stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '14', 'grpc-message': 'student records are being reindexed' }, { endStream: true });
    const service = await startStandIn((stream) => {
      stream.on('end', () => {
        if (++calls > 2) return refuse(stream);
        held.push(stream);
        if (held.length === 2) for (const h of held.splice(0)) refuse(h);
      });
    });
    // One retry at a time for the student cluster, and back-offs of up to 300 ms: Envoy holds
    // a retry's place from the decision through the back-off and the retried attempt.
    const config = changedEnvoyConfig((yaml) => {
      const cluster = yaml.indexOf('- name: student\n      type: STRICT_DNS');
      const route = yaml.indexOf('- name: student-reads');
      let out = yaml.slice(0, cluster) + yaml.slice(cluster).replace('max_retries: 32', 'max_retries: 1');
      const at = out.indexOf('- name: student-reads');
      expect(at).toBe(route);
      out = out.slice(0, at) + out.slice(at).replace(/base_interval: [^\n]+/, 'base_interval: 0.3s').replace(/max_interval: [^\n]+/, 'max_interval: 0.3s');
      return out;
    });
    const gw = await startGateway({ ...env.env, GATEWAY_PORT: '0', GATEWAY_METRICS_PORT: '0', STUDENT_SERVICE_ADDR: service.address, WEB_DIST_DIR: '/nonexistent', ENVOY_CONFIG_FILE: config.file });
    try {
      const students = new StudentServiceClientImpl(new StudentWeb(`http://127.0.0.1:${gw.port}`, { transport: NodeHttpTransport() }));
      const errors = await Promise.all([webFailure(students.GetStudent({ id: 'S0001' }, md)), webFailure(students.GetStudent({ id: 'S0002' }, md))]);
      // One call took the one place and was tried three times (num_retries 2); the other was not
      // retried at all. Both callers got the service's own answer, not one of the gateway's.
      expect(calls).toBe(4);
      for (const err of errors) {
        expect(err.code).toBe(grpc.status.UNAVAILABLE);
        expect(err.message).toBe('student records are being reindexed');
      }
      expect(gw.upstreams.get('student')!.retriesInFlight).toBe(0);
      const metrics = await (await fetch(`http://127.0.0.1:${gw.metricsPort}/metrics`)).text();
      expect(metrics).toMatch(/coursereg_gateway_upstream_retries_total\{[^}]*cluster="student"[^}]*result="overflow"[^}]*\} 1\n/);
      expect(metrics).toMatch(/coursereg_gateway_upstream_retries_total\{[^}]*cluster="student"[^}]*result="retried"[^}]*\} 2\n/);
    } finally {
      await gw.stop();
      config.remove();
      await service.close();
    }
  });
});

describe('a cluster of two hosts', () => {
  test('oneHostStopped_isEjected_callsGoToTheOther_andItReturnsAfterRestart', async () => {
    const a = await startCourseService(env.env);
    let b: Awaited<ReturnType<typeof startCourseService>> | undefined = await startCourseService(env.env);
    const bPort = b.port;
    const gw = await startGateway({ ...env.env, GATEWAY_PORT: '0', GATEWAY_METRICS_PORT: '0', COURSE_SERVICE_ADDR: `127.0.0.1:${a.port},127.0.0.1:${bPort}`, WEB_DIST_DIR: '/nonexistent' });
    const courses = new CourseServiceClientImpl(new GrpcWebImpl(`http://127.0.0.1:${gw.port}`, { transport: NodeHttpTransport() }));
    const cluster = gw.upstreams.get('course')!;
    // Several callers, so the per-account limit (20/s) never decides a call here.
    const callers = await Promise.all(Array.from({ length: 10 }, async (_, k) => new grpcWeb.Metadata({ authorization: `Bearer ${await env.signer.sign(`registrar-${k + 2}`, 'registrar', 3600)}` })));
    let turn = 0;
    const caller = () => callers[turn++ % callers.length];
    try {
      expect(cluster.hosts.map((h) => h.address)).toEqual([`127.0.0.1:${a.port}`, `127.0.0.1:${bPort}`]);
      // Both hosts take calls (LEAST_REQUEST: two hosts drawn at random, the less busy one wins).
      for (let i = 0; i < 20; i++) await courses.ListTerms({ pageSize: 1 }, caller());
      expect(cluster.hosts.map((h) => h.breaker.stats.successes > 0)).toEqual([true, true]);

      await b.stop();
      b = undefined;
      // Reads that land on the stopped host are retried on the other one (retry_host_predicate
      // previous_hosts), so none fails, until the stopped host is ejected.
      const until = Date.now() + 20_000;
      let reads = 0;
      while (cluster.hosts[1].state !== 'open') {
        if (Date.now() > until) throw new Error('the stopped host was never ejected');
        await courses.ListTerms({ pageSize: 1 }, caller());
        reads++;
      }
      expect(reads).toBeGreaterThan(0);
      expect(cluster.state).toBe('partial');
      expect(cluster.hosts[0].state).toBe('closed');
      // With it ejected, every call goes to the healthy host: reads and writes succeed.
      for (let i = 0; i < 10; i++) await courses.ListTerms({ pageSize: 1 }, caller());
      const term = { code: '2031FA', name: 'Fall 2031', startDate: '2031-08-25', endDate: '2031-12-12', registrationOpensTime: new Date('2031-04-01T14:00:00Z'), addDropDeadlineTime: new Date('2031-09-05T23:59:00Z'), status: TermStatus.TERM_STATUS_OPEN };
      const created = await courses.CreateTerm({ term }, caller());
      expect(created.term?.code).toBe('2031FA');

      // Restarted on its address, the host is taken back once its health checks pass.
      b = await startCourseService({ ...env.env, COURSE_GRPC_ADDR: `127.0.0.1:${bPort}` });
      await waitFor(() => cluster.state === 'closed', 'the restarted host is taken back', 20_000);
      const before = cluster.hosts[1].breaker.stats.successes;
      for (let i = 0; i < 20; i++) await courses.ListTerms({ pageSize: 1 }, caller());
      expect(cluster.hosts[1].breaker.stats.successes).toBeGreaterThan(before);
      expect(cluster.inFlight).toBe(0);
    } finally {
      await gw.stop();
      await b?.stop();
      await a.stop();
    }
  }, 60_000);
});

/**
 * A cluster of one stand-in host, ejected after 5 gateway failures in a row (as envoy.yaml has
 * it) for `baseEjectionMs`, with a health check every `healthIntervalMs`: two failing take the
 * host out, one passing brings it back.
 */
function healthCheckedCluster(address: string, baseEjectionMs: number, healthIntervalMs: number, healthTimeoutMs = 1000, healthyThreshold = 1): Cluster {
  const plan: ClusterPlan = {
    name: 'stand-in',
    addresses: [address],
    lbPolicy: 'ROUND_ROBIN',
    http2: ENVOY_HTTP2_DEFAULTS,
    idleTimeoutMs: 0,
    connectTimeoutMs: 1000,
    panicThresholdPercent: 0,
    breaker: { maxConnections: 4, maxPendingRequests: 100, maxRequests: 100, maxRetries: 3 },
    outlier: { ejectOn: 'gateway-failures', consecutiveFailures: 5, intervalMs: 10_000, baseEjectionMs, maxEjectionMs: 300_000, maxEjectionJitterMs: 0, unejectOnHealthCheck: true },
    health: {
      timeoutMs: healthTimeoutMs,
      intervalMs: healthIntervalMs,
      unhealthyThreshold: 2,
      healthyThreshold,
      serviceName: 'stand-in',
      // These stand-ins rarely carry calls: every interval is the same one.
      noTrafficIntervalMs: healthIntervalMs,
      noTrafficHealthyIntervalMs: healthIntervalMs,
      unhealthyIntervalMs: healthIntervalMs,
      unhealthyEdgeIntervalMs: healthIntervalMs,
      healthyEdgeIntervalMs: healthIntervalMs,
      intervalJitterMs: 0,
      intervalJitterPercent: 0,
      initialJitterMs: 0,
    },
  };
  return new Cluster(plan, [address], 1, createLogger('breaker-test', 'silent'));
}

/** Waits up to 5 s for the cluster's only host to reach `state`. */
function waitForHostState(cluster: Cluster, state: string): Promise<void> {
  return waitFor(() => cluster.hosts[0].state === state, `the host becomes ${state}`, 5000);
}

describe('a host taken back by its health checks', () => {
  test('oneFailureAfterwards_doesNotEjectItAgain', async () => {
    // A stand-in host: its health service always answers SERVING; its calls fail with
    // UNAVAILABLE while `failing` is set.
    let failing = true;
    const host = await startStandIn((stream, headers) => {
      stream.on('end', () => {
        if (headers[':path'] === '/grpc.health.v1.Health/Check') {
          answerHealthCheck(stream, true);
        } else {
          stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': failing ? '14' : '0' }, { endStream: true });
        }
      });
    }, { passHealthChecks: true });
    // An ejection longer than the test, so only a health check ends it.
    const cluster = healthCheckedCluster(host.address, 60_000, 100);
    const call = async () => {
      try {
        const res = await cluster.send(unaryRequest(1000));
        res.stream.resume();
        res.release();
        return true;
      } catch {
        return false;
      }
    };
    try {
      cluster.startHealthChecks();
      // Five failures in a row: ejected (consecutive_gateway_failure).
      for (let i = 0; i < 5; i++) expect(await call()).toBe(false);
      expect(cluster.hosts[0].state).toBe('open');
      // The host recovers; its passing health check takes it back (successful_active_health_check_uneject_host).
      failing = false;
      await waitForHostState(cluster, 'closed');
      expect(await call()).toBe(true);
      // One failure now is one failure, not the sixth of a run: Envoy's count of consecutive
      // failures started again, so the host stays in.
      failing = true;
      expect(await call()).toBe(false);
      expect(cluster.hosts[0].state).toBe('closed');
    } finally {
      cluster.close();
      await host.close();
    }
  });
});

describe('health checks at start-up, as Envoy warms a cluster', () => {
  test('aHostIsOutUntilItsFirstCheck_whichRunsAtOnce_andAFirstPassTakesItInWhateverTheThreshold', async () => {
    // Envoy marks a health-checked host unhealthy until its first check, runs that check at
    // once, and takes the host in at its first pass (first_check_), healthy_threshold or not.
    let serving = false;
    let checks = 0;
    const host = await startStandIn((stream, headers) => {
      stream.on('end', () => {
        if (headers[':path'] !== '/grpc.health.v1.Health/Check') return;
        checks++;
        answerHealthCheck(stream, serving);
      });
    }, { passHealthChecks: true });
    // A long interval: only the first check can decide within the test.
    const failing = healthCheckedCluster(host.address, 60_000, 60_000);
    let passing: Cluster | undefined;
    try {
      const started = Date.now();
      await failing.startHealthChecks();
      expect(Date.now() - started).toBeLessThan(1000);
      expect(checks).toBe(1);
      // Out from the first failed check, although unhealthy_threshold is 2 and no call failed.
      expect(failing.hosts[0].state).toBe('open');
      await expect(failing.send(unaryRequest(1000))).rejects.toMatchObject({ reason: 'UPSTREAM_CIRCUIT_OPEN' });

      serving = true;
      passing = healthCheckedCluster(host.address, 60_000, 60_000, 1000, 3);
      const checking = passing.startHealthChecks();
      // Out while its first check is under way.
      expect(passing.hosts[0].state).toBe('open');
      await checking;
      // In after one pass, although healthy_threshold is 3.
      expect(passing.hosts[0].state).toBe('closed');
    } finally {
      failing.close();
      passing?.close();
      await host.close();
    }
  });

  test('untilTheClusterCarriesACall_checksRunAtNoTrafficInterval_thenAtInterval', async () => {
    // As Envoy: a cluster that has never opened a connection for a call is checked at
    // no_traffic_interval; once it has, at interval.
    let checks = 0;
    const host = await startStandIn((stream, headers) => {
      stream.on('end', () => {
        if (headers[':path'] === '/grpc.health.v1.Health/Check') {
          checks++;
          answerHealthCheck(stream, true);
        } else {
          stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' }, { endStream: true });
        }
      });
    }, { passHealthChecks: true });
    const base = healthCheckedCluster(host.address, 60_000, 50);
    const cluster = new Cluster({ ...base.plan, health: { ...base.plan.health!, noTrafficIntervalMs: 600, noTrafficHealthyIntervalMs: 600 } }, [host.address], 1, createLogger('breaker-test', 'silent'));
    base.close();
    try {
      await cluster.startHealthChecks();
      await new Promise((r) => setTimeout(r, 300));
      // Only the first check: the next waits no_traffic_interval.
      expect(checks).toBe(1);
      const res = await cluster.send(unaryRequest(1000));
      res.stream.resume();
      res.release();
      // The check already scheduled keeps its time; after it, every 50 ms.
      await waitFor(() => checks >= 2, 'the check scheduled before the call');
      const at = checks;
      await new Promise((r) => setTimeout(r, 400));
      expect(checks - at).toBeGreaterThanOrEqual(4);
    } finally {
      cluster.close();
      await host.close();
    }
  });

  test('theGateway_listensOnlyOnceEveryHostHasHadItsFirstCheck_soADownHostNeverGetsACall', async () => {
    const down = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const port = (probe.address() as net.AddressInfo).port;
        probe.close(() => resolve(port));
      });
    });
    const gw = await startGateway({ ...env.env, GATEWAY_PORT: '0', GATEWAY_METRICS_PORT: '0', COURSE_SERVICE_ADDR: `127.0.0.1:${coursePort},127.0.0.1:${down}`, WEB_DIST_DIR: '/nonexistent' });
    try {
      const cluster = gw.upstreams.get('course')!;
      expect(cluster.hosts.map((h) => h.state)).toEqual(['closed', 'open']);
      const courses = new CourseServiceClientImpl(new GrpcWebImpl(`http://127.0.0.1:${gw.port}`, { transport: NodeHttpTransport() }));
      const callers = await Promise.all(Array.from({ length: 5 }, async (_, k) => new grpcWeb.Metadata({ authorization: `Bearer ${await env.signer.sign(`registrar-start-${k}`, 'registrar', 3600)}` })));
      for (let i = 0; i < 10; i++) await courses.ListTerms({ pageSize: 1 }, callers[i % callers.length]);
      // Every call went to the live host; the down one was never tried.
      expect(cluster.hosts[1].breaker.stats.fires).toBe(0);
    } finally {
      await gw.stop();
    }
  });
});

describe('a host failing its health checks', () => {
  test('anAnswerOfNotServing_takesItOutAtOnce_whileUnansweredChecksWaitForTheThreshold', async () => {
    // As Envoy's health checker: unhealthy_threshold (2 here) counts only checks that could not
    // reach the host; a host that answers NOT_SERVING (a service draining) is out after one.
    let mode: 'serving' | 'not-serving' | 'silent' = 'serving';
    let notServingAnswers = 0;
    let unanswered = 0;
    const host = await startStandIn((stream, headers) => {
      stream.on('end', () => {
        if (headers[':path'] !== '/grpc.health.v1.Health/Check') return;
        if (mode === 'silent') unanswered++;
        else {
          if (mode === 'not-serving') notServingAnswers++;
          answerHealthCheck(stream, mode === 'serving');
        }
      });
    }, { passHealthChecks: true });
    const cluster = healthCheckedCluster(host.address, 60_000, 200, 100);
    const waitForState = (state: string) => waitForHostState(cluster, state);
    try {
      cluster.startHealthChecks();
      await new Promise((r) => setTimeout(r, 250));
      expect(cluster.hosts[0].state).toBe('closed');
      mode = 'not-serving';
      await waitForState('open');
      expect(notServingAnswers).toBe(1);

      mode = 'serving';
      await waitForState('closed');
      mode = 'silent';
      // One check times out: still in. The second: out.
      await waitFor(() => unanswered >= 1, 'the first unanswered check', 5000);
      await new Promise((r) => setTimeout(r, 150));
      expect(unanswered).toBe(1);
      expect(cluster.hosts[0].state).toBe('closed');
      await waitForState('open');
      expect(unanswered).toBe(2);
    } finally {
      cluster.close();
      await host.close();
    }
  });

  test('staysOut_pastBaseEjectionTime_untilItsHealthCheckPasses', async () => {
    // A stand-in host that answers its calls, while its health service says NOT_SERVING
    // (as a service does while it drains) until `serving` is set.
    let serving = false;
    let calls = 0;
    const host = await startStandIn((stream, headers) => {
      stream.on('end', () => {
        if (headers[':path'] === '/grpc.health.v1.Health/Check') {
          answerHealthCheck(stream, serving);
        } else {
          calls++;
          stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' }, { endStream: true });
        }
      });
    }, { passHealthChecks: true });
    // An ejection much shorter than the test: the health checks, not the ejection time, decide.
    const cluster = healthCheckedCluster(host.address, 100, 50);
    const send = () => cluster.send(unaryRequest(1000));
    const waitForState = (state: string) => waitForHostState(cluster, state);
    try {
      cluster.startHealthChecks();
      await waitForState('open');
      // Several ejection times later the host still says NOT_SERVING: as in Envoy, it stays
      // out, and no trial call reaches it.
      await new Promise((r) => setTimeout(r, 400));
      await expect(send()).rejects.toMatchObject({ reason: 'UPSTREAM_CIRCUIT_OPEN' });
      expect(cluster.hosts[0].state).toBe('open');
      expect(calls).toBe(0);
      // Its health check passes again (healthy_threshold 1): back in.
      serving = true;
      await waitForState('closed');
      const res = await send();
      res.stream.resume();
      res.release();
      expect(calls).toBe(1);
    } finally {
      cluster.close();
      await host.close();
    }
  });
});
