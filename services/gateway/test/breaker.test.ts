import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { NodeHttpTransport } from '@improbable-eng/grpc-web-node-http-transport';
import { grpc as grpcWeb } from '@improbable-eng/grpc-web';
import { TermStatus } from '../../../gen/web/coursereg/course/v1/course';
import { CourseServiceClientImpl, GrpcWebImpl } from '../../../gen/web/coursereg/course/v1/course_service';
import { GrpcWebImpl as StudentWeb, StudentServiceClientImpl } from '../../../gen/web/coursereg/student/v1/student_service';
import { startCourseService } from '../../course/src/main';
import { createTestEnv, type TestEnv } from '../../shared/testing/harness';
import { startGateway, type StartedGateway } from '../src/main';
import { webFailure } from './gateway.fixtures';

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
    const flaky = http2.createServer();
    flaky.on('stream', (stream, headers) => {
      seen.push(String(headers[':path']));
      stream.resume();
      stream.on('end', () => stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '14', 'grpc-message': 'busy' }, { endStream: true }));
    });
    await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', r));
    const port = (flaky.address() as { port: number }).port;
    const gw = await startGateway({ ...env.env, GATEWAY_PORT: '0', GATEWAY_METRICS_PORT: '0', STUDENT_SERVICE_ADDR: `127.0.0.1:${port}`, WEB_DIST_DIR: '/nonexistent' });
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
      flaky.close();
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
      const back = Date.now() + 20_000;
      while (cluster.state !== 'closed') {
        if (Date.now() > back) throw new Error(`the restarted host was not taken back (cluster ${cluster.state})`);
        await new Promise((r) => setTimeout(r, 200));
      }
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
