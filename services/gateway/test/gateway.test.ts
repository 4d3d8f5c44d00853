import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import * as http2 from 'node:http2';
import { createServer, type AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { firstValueFrom, filter, lastValueFrom, take, toArray } from 'rxjs';
import { RegistrationState } from '../../../gen/web/coursereg/registration/v1/registration';
import { ListCoursesRequest, ListCoursesResponse } from '../../../gen/coursereg/course/v1/course_service';
import { CourseServiceClient } from '../../../gen/coursereg/course/v1/course_service';
import { promiseClient, rpcError } from '../../shared/testing/harness';
import { startGateway } from '../src/main';
import { gatewayEnvFor, startGatewayWorld, webFailure, type GatewayWorld } from './gateway.fixtures';

let w: GatewayWorld;
/** The gateway's log lines (LOG_LEVEL info, so the access log is on), parsed. */
const logLines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  w = await startGatewayWorld('gateway', { LOG_LEVEL: 'info' }, { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) });
  await w.addStudents(1, 40);
});

afterAll(async () => {
  await w?.stopAll();
});

function frame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(out, 5);
  return out;
}

describe('gRPC-web through the gateway', () => {
  test('register_throughGatewayWithBrowserClient_enrollsAndStreamsTheOutcome', async () => {
    const section = await w.section({ capacity: 5 });
    const md = w.bearer(await w.token('student', 'S0001'));
    const { registration } = await w.web.registration.Register({ sectionId: section.id, requestId: randomUUID(), studentId: 'S0001' }, md);
    expect(registration!.state).toBe(RegistrationState.REGISTRATION_STATE_PENDING);

    // Server streaming over gRPC-web: the stream reports the outcome once the worker decides.
    const outcome = await firstValueFrom(
      w.web.registration.WatchRegistration({ id: registration!.id }, md).pipe(filter((m) => m.registration!.state !== RegistrationState.REGISTRATION_STATE_PENDING)),
    );
    expect(outcome.registration!.state).toBe(RegistrationState.REGISTRATION_STATE_ENROLLED);

    const schedule = await w.web.registration.GetSchedule({ studentId: 'S0001', termCode: '2027SP' }, md);
    expect(schedule.entries.map((e) => e.registration!.sectionId)).toEqual([section.id]);
  });

  test('watchSection_throughGateway_streamsSeatCountsAsTheyChange', async () => {
    const section = await w.section({ capacity: 3 });
    const md = w.bearer(await w.token('student', 'S0002'));
    const updates = firstValueFrom(w.web.registration.WatchSection({ sectionId: section.id }, md).pipe(take(2), toArray()));
    await new Promise((r) => setTimeout(r, 300));
    await w.web.registration.Register({ sectionId: section.id, requestId: randomUUID(), studentId: 'S0002' }, md);
    const [first, second] = await updates;
    expect(first.seats!.enrolledCount).toBe(0);
    expect(second.seats!.enrolledCount).toBe(1);
  });

  test('grpcWebText_unaryCall_isDecodedAndAnsweredInBase64', async () => {
    await w.section({ capacity: 5 }); // a course to list, whichever tests ran before
    const token = await w.token('student', 'S0003');
    const body = frame(ListCoursesRequest.encode({ pageSize: 2, pageToken: '', department: '', query: '' }).finish()).toString('base64');
    const res = await fetch(`${w.origin}/coursereg.course.v1.CourseService/ListCourses`, {
      method: 'POST',
      headers: { 'content-type': 'application/grpc-web-text', 'x-grpc-web': '1', authorization: `Bearer ${token}`, accept: 'application/grpc-web-text' },
      body,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/grpc-web-text+proto');
    const bytes = Buffer.from(await res.text(), 'base64');
    const len = bytes.readUInt32BE(1);
    expect(bytes[0]).toBe(0);
    const message = ListCoursesResponse.decode(bytes.subarray(5, 5 + len));
    expect(message.courses.length).toBeGreaterThan(0);
    const trailer = bytes.subarray(5 + len);
    expect(trailer[0]).toBe(0x80);
    expect(trailer.subarray(5).toString()).toContain('grpc-status:0');
  });

  test.each([
    ['characters outside base64', (b64: string) => `${b64.slice(0, 4)}!!${b64.slice(4)}`],
    ['a length that is not whole groups of four', (b64: string) => b64.replace(/=+$/, '').slice(0, -1)],
  ])('grpcWebText_badBase64_isRefusedWith400_asEnvoysFilterRefusesIt: %s', async (_what, spoil) => {
    const token = await w.token('student', 'S0003');
    // A body that is fine until spoiled.
    const piece = frame(ListCoursesRequest.encode({ pageSize: 2, pageToken: '', department: '', query: '' }).finish()).toString('base64');
    const res = await fetch(`${w.origin}/coursereg.course.v1.CourseService/ListCourses`, {
      method: 'POST',
      headers: { 'content-type': 'application/grpc-web-text', 'x-grpc-web': '1', authorization: `Bearer ${token}` },
      body: spoil(piece),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('grpc-status')).toBe(String(grpc.status.INTERNAL));
    expect(decodeURIComponent(res.headers.get('grpc-message')!)).toBe('Bad gRPC-web request, invalid base64 data.');
  });

  test.each(['application/grpc-web+json', 'application/grpc-web+proto; charset=utf-8', 'application/grpc-webby'])('grpcWeb_contentTypeEnvoysFilterDoesNotTranslate_isRefusedWith415: %s', async (contentType) => {
    const token = await w.token('student', 'S0003');
    const res = await fetch(`${w.origin}/coursereg.course.v1.CourseService/ListCourses`, {
      method: 'POST',
      headers: { 'content-type': contentType, 'x-grpc-web': '1', authorization: `Bearer ${token}` },
      body: frame(ListCoursesRequest.encode({ pageSize: 2, pageToken: '', department: '', query: '' }).finish()),
    });
    expect(res.status).toBe(415);
    expect(await res.text()).toContain('application/grpc-web+proto');
  });

  test('grpcWeb_requestHeadersUpTo60KiB_areTaken_asEnvoysDefaultLimit', async () => {
    // A browser's cookies for the site (never passed on to the services) can be large.
    const token = await w.token('student', 'S0003');
    const res = await fetch(`${w.origin}/coursereg.course.v1.CourseService/ListCourses`, {
      method: 'POST',
      headers: { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1', authorization: `Bearer ${token}`, cookie: `big=${'a'.repeat(30 * 1024)}` },
      body: frame(ListCoursesRequest.encode({ pageSize: 2, pageToken: '', department: '', query: '' }).finish()),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('grpc-status') ?? '0').toBe('0');
  });

  test.each([
    ['a text request without Accept gets binary', 'application/grpc-web-text', undefined, 'application/grpc-web+proto'],
    ['a binary request asking for text gets text', 'application/grpc-web+proto', 'application/grpc-web-text', 'application/grpc-web-text+proto'],
  ])('grpcWeb_answerEncoding_followsAccept_asEnvoysFilter: %s', async (_what, contentType, accept, answerType) => {
    // Envoy's grpc_web filter encodes the answer as base64 text only when Accept asks for it,
    // whatever the request's own encoding.
    await w.section({ capacity: 5 });
    const token = await w.token('student', 'S0003');
    const request = frame(ListCoursesRequest.encode({ pageSize: 2, pageToken: '', department: '', query: '' }).finish());
    const res = await fetch(`${w.origin}/coursereg.course.v1.CourseService/ListCourses`, {
      method: 'POST',
      headers: { 'content-type': contentType, 'x-grpc-web': '1', authorization: `Bearer ${token}`, ...(accept ? { accept } : {}) },
      body: contentType.startsWith('application/grpc-web-text') ? request.toString('base64') : request,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(answerType);
    const raw = Buffer.from(await res.arrayBuffer());
    const bytes = answerType.startsWith('application/grpc-web-text') ? Buffer.from(raw.toString('latin1'), 'base64') : raw;
    expect(bytes[0]).toBe(0);
    const len = bytes.readUInt32BE(1);
    expect(ListCoursesResponse.decode(bytes.subarray(5, 5 + len)).courses.length).toBeGreaterThan(0);
    expect(bytes.subarray(5 + len + 5).toString()).toContain('grpc-status:0');
  });

  test('nativeGrpc_sameListenerAsGrpcWeb_isProxied', async () => {
    const client = promiseClient(new CourseServiceClient(`127.0.0.1:${w.gateway.port}`, grpc.credentials.createInsecure()));
    const res = await client.listCourses({ pageSize: 2, pageToken: '', department: '', query: '' }, await w.env.auth('student', 'S0004'));
    expect(res.courses.length).toBeGreaterThan(0);
    const err = await rpcError(client.listCourses({ pageSize: 2, pageToken: '', department: '', query: '' }, new grpc.Metadata()));
    expect(err.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(err.reason).toBe('TOKEN_MISSING');
  });

  test('grpcTimeout_shorterThanTheStream_endsItWithDeadlineExceeded', async () => {
    const section = await w.section();
    const md = w.bearer(await w.token('student', 'S0005'));
    md.set('grpc-timeout', '300m');
    const started = Date.now();
    const err = await webFailure(lastValueFrom(w.web.registration.WatchSection({ sectionId: section.id }, md).pipe(toArray())));
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  test('corsPreflight_fromAllowedOrigin_isAnsweredWithoutAToken', async () => {
    const res = await fetch(`${w.origin}/coursereg.registration.v1.RegistrationService/Register`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,x-grpc-web' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(res.headers.get('access-control-allow-headers')).toContain('x-grpc-web');
    const denied = await fetch(`${w.origin}/coursereg.registration.v1.RegistrationService/Register`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST' },
    });
    expect(denied.status).toBe(403);
    expect(denied.headers.get('access-control-allow-origin')).toBeNull();
    // Local development origins match whole, so look-alike hosts do not pass for them.
    for (const origin of ['http://localhost.evil.example', 'http://127.0.0.1.nip.io', 'http://localhost:5173.evil.example']) {
      const lookAlike = await fetch(`${w.origin}/coursereg.course.v1.CourseService/ListCourses`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
      expect(lookAlike.status).toBe(403);
    }
    const local = await fetch(`${w.origin}/coursereg.course.v1.CourseService/ListCourses`, { method: 'OPTIONS', headers: { origin: 'http://127.0.0.1:8080', 'access-control-request-method': 'POST' } });
    expect(local.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8080');
  });

  test('staticFiles_anyClientRoute_fallsBackToIndexHtml', async () => {
    const asset = await fetch(`${w.origin}/assets/app.js`);
    expect(asset.status).toBe(200);
    expect(await asset.text()).toContain('coursereg');
    const page = await fetch(`${w.origin}/schedule/week`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div id="root">');
  });

  test('staticFiles_aRebuildWhileRunning_isServedAsItIsNow_andAFileGoneIsA404NotACrash', async () => {
    const at = (name: string) => join(w.webDir, 'assets', name);
    writeFileSync(at('old-1.js'), 'old();');
    expect((await fetch(`${w.origin}/assets/old-1.js`)).status).toBe(200);
    // A rebuild takes the old chunk away: a page still open asks for it.
    rmSync(at('old-1.js'));
    const gone = await fetch(`${w.origin}/assets/old-1.js`);
    expect(gone.status).toBe(404);
    expect(await gone.text()).toBe('not found');
    // The gateway is still up, and serves what the rebuild wrote, at its new size.
    writeFileSync(at('new-2.js'), 'brand(new);');
    const added = await fetch(`${w.origin}/assets/new-2.js`);
    expect(await added.text()).toBe('brand(new);');
    writeFileSync(at('new-2.js'), 'brand(new); and(longer);');
    const grown = await fetch(`${w.origin}/assets/new-2.js`);
    expect(grown.headers.get('content-length')).toBe(String('brand(new); and(longer);'.length));
    expect(await grown.text()).toBe('brand(new); and(longer);');
  });

  test('staticFiles_rangesCachingAndMethods_asAFileServerAnswersThem', async () => {
    const asset = `${w.origin}/assets/app.js`;
    const whole = 'console.log("coursereg")';
    const tail = await fetch(asset, { headers: { range: 'bytes=-5' } });
    expect(tail.status).toBe(206);
    expect(await tail.text()).toBe(whole.slice(-5));
    // A range that ends before it starts is answered, not left hanging.
    const backwards = await fetch(asset, { headers: { range: 'bytes=5-2' } });
    expect(backwards.status).toBe(416);
    const beyond = await fetch(asset, { headers: { range: `bytes=${whole.length + 10}-` } });
    expect(beyond.status).toBe(416);
    // Hashed build output is kept by browsers; the app itself is checked on every load.
    expect((await fetch(asset)).headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((await fetch(`${w.origin}/schedule/week`)).headers.get('cache-control')).toBe('public, max-age=0');
    const post = await fetch(asset, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  test('start_aPortInUse_failsNamingItsSetting', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = String((taken.address() as AddressInfo).port);
    try {
      await expect(startGateway(gatewayEnvFor(w, w.webDir, { GATEWAY_PORT: port }))).rejects.toThrow(new RegExp(`GATEWAY_HOST/GATEWAY_PORT 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
      await expect(startGateway(gatewayEnvFor(w, w.webDir, { GATEWAY_METRICS_PORT: port }))).rejects.toThrow(new RegExp(`GATEWAY_METRICS_PORT 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });

  test('staticFiles_notBuiltAtStart_servedOnceBuilt_withoutARestart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'coursereg-web-later-'));
    const gw = await startGateway(gatewayEnvFor(w, dir, { REDIS_KEY_PREFIX: `gw-later-${randomUUID()}:` }));
    try {
      const before = await fetch(`http://127.0.0.1:${gw.port}/`);
      expect(before.status).toBe(404);
      expect(await before.text()).toContain('npm run build:web');
      writeFileSync(join(dir, 'index.html'), '<!doctype html><div id="root"></div>');
      const after = await fetch(`http://127.0.0.1:${gw.port}/courses`);
      expect(after.status).toBe(200);
      expect(await after.text()).toContain('<div id="root">');
    } finally {
      await gw.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('unaryAnswer_overHttp1_leavesWholeWithContentLengthNotChunked', async () => {
    const token = await w.token('student', 'S0007');
    const body = frame(ListCoursesRequest.encode({ pageSize: 2, pageToken: '', department: '', query: '' }).finish());
    const res = await new Promise<import('node:http').IncomingMessage & { body: Buffer }>((resolve, reject) => {
      const req = httpRequest(`${w.origin}/coursereg.course.v1.CourseService/ListCourses`, {
        method: 'POST',
        headers: { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1', authorization: `Bearer ${token}` },
      }, (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => resolve(Object.assign(r, { body: Buffer.concat(chunks) })));
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(res.statusCode).toBe(200);
    // The gateway held the first flush for the service's trailers, so the answer went out whole.
    expect(res.headers['transfer-encoding']).toBeUndefined();
    expect(Number(res.headers['content-length'])).toBe(res.body.length);
    // Message frame, then the trailer frame (0x80) with grpc-status 0.
    const trailerAt = 5 + res.body.readUInt32BE(1);
    expect(res.body[trailerAt]).toBe(0x80);
    expect(res.body.subarray(trailerAt + 5).toString()).toContain('grpc-status:0');
  });

  test('devSignIn_whenNotEnabled_isNotFound', async () => {
    const res = await fetch(`${w.origin}/dev/token`, { method: 'POST', body: JSON.stringify({ role: 'student', studentId: 'S0001' }) });
    expect(res.status).toBe(404);
  });

  test('devSignIn_firstStudentHostDown_listsStudentsFromTheNextAndSignsTokensTheServicesAccept', async () => {
    // A port nothing listens on, ahead of the real student service.
    const down = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as AddressInfo;
        srv.close(() => resolve(port));
      });
    });
    const dev = await startGateway(
      gatewayEnvFor(w, w.webDir, { STUDENT_SERVICE_ADDR: `127.0.0.1:${down},${w.env.env.STUDENT_SERVICE_ADDR}`, GATEWAY_DEV_TOKENS: 'true' }),
    );
    try {
      const origin = `http://127.0.0.1:${dev.port}`;
      const identities = await fetch(`${origin}/dev/identities`);
      expect(identities.status).toBe(200);
      const body = (await identities.json()) as { students: Array<{ studentId: string }> };
      expect(body.students.map((s) => s.studentId)).toContain('S0001');

      const signed = await fetch(`${origin}/dev/token`, { method: 'POST', body: JSON.stringify({ role: 'student', studentId: 'S0001' }) });
      expect(signed.status).toBe(200);
      const { token } = (await signed.json()) as { token: string };
      const res = await w.web.course.ListCourses(ListCoursesRequest.fromPartial({ pageSize: 1 }), w.bearer(token));
      expect(res.courses.length).toBeLessThanOrEqual(1);

      const bad = await fetch(`${origin}/dev/token`, { method: 'POST', body: JSON.stringify({ role: 'student', studentId: 'nobody; drop' }) });
      expect(bad.status).toBe(400);
      for (const body of ['null', '[]', '"student"', '7']) {
        const notAnObject = await fetch(`${origin}/dev/token`, { method: 'POST', body });
        expect(notAnObject.status).toBe(400);
        expect(((await notAnObject.json()) as { error: string }).error).toContain('expected a JSON object');
      }
    } finally {
      await dev.stop();
    }
  });
});

describe('authentication at the gateway', () => {
  test('call_withoutToken_isUnauthenticatedWith401', async () => {
    const res = await fetch(`${w.origin}/coursereg.course.v1.CourseService/ListCourses`, {
      method: 'POST',
      headers: { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1' },
      body: frame(new Uint8Array()),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('grpc-status')).toBe(String(grpc.status.UNAUTHENTICATED));
    // A headers-only answer says it has no body instead of being chunked.
    expect(res.headers.get('content-length')).toBe('0');
    expect(res.headers.get('transfer-encoding')).toBeNull();
  });

  test('call_withExpiredToken_isUnauthenticated', async () => {
    const expired = await w.token('student', 'S0006', -60);
    const err = await webFailure(w.web.course.ListCourses({ pageSize: 1 }, w.bearer(expired)));
    expect(err.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(err.reason).toBe('TOKEN_EXPIRED');
  });

  test('call_withForgedToken_isUnauthenticated', async () => {
    const forged = (await w.env.forgedAuth('student', 'S0007')).get('authorization')[0] as string;
    const err = await webFailure(w.web.course.ListCourses({ pageSize: 1 }, w.bearer(forged.slice('Bearer '.length))));
    expect(err.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(err.reason).toBe('TOKEN_INVALID');
  });

  test('studentToken_actingForAnotherStudent_isPermissionDenied', async () => {
    const section = await w.section();
    const md = w.bearer(await w.token('student', 'S0008'));
    const err = await webFailure(w.web.registration.Register({ sectionId: section.id, requestId: randomUUID(), studentId: 'S0009' }, md));
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
  });
});

describe('rate limits at the gateway', () => {
  test('burst_overPerStudentLimit_isResourceExhaustedWhileAnotherStudentIsServed', async () => {
    const hammer = w.bearer(await w.token('student', 'S0010'));
    const results = await Promise.allSettled(Array.from({ length: 45 }, () => w.web.course.ListCourses({ pageSize: 1 }, hammer)));
    const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as { code: number; metadata: { get(k: string): string[] } });
    expect(refused.length).toBeGreaterThan(0);
    for (const e of refused) {
      expect(e.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(Number(e.metadata.get('retry-after')[0])).toBeGreaterThanOrEqual(1);
    }
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThan(0);

    const other = await w.web.course.ListCourses({ pageSize: 1 }, w.bearer(await w.token('student', 'S0011')));
    expect(other.courses.length).toBe(1);
  });

  test('overLimit_grpcWeb_getsHttp429WithRetryAfter', async () => {
    const token = await w.token('student', 'S0012');
    const call = () =>
      fetch(`${w.origin}/coursereg.course.v1.CourseService/ListCourses`, {
        method: 'POST',
        headers: { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1', authorization: `Bearer ${token}` },
        body: frame(ListCoursesRequest.encode({ pageSize: 1, pageToken: '', department: '', query: '' }).finish()),
      });
    const responses = await Promise.all(Array.from({ length: 30 }, call));
    const limited = responses.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0].headers.get('grpc-status')).toBe(String(grpc.status.RESOURCE_EXHAUSTED));
    expect(Number(limited[0].headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(limited[0].headers.get('x-ratelimit-remaining')).toBe('0');
    // As Envoy's ratelimit filter marks its refusals, with draft-03 quota policies per descriptor.
    expect(limited[0].headers.get('x-envoy-ratelimited')).toBe('true');
    expect(limited[0].headers.get('x-ratelimit-limit')).toMatch(/^20, 20;w=1, \d+;w=1$/);
  });
});

describe('rate limits on the web client\'s files', () => {
  test('staticFiles_countAgainstTheAddressLimit_asEnvoyCountsEveryRequest', async () => {
    // A gateway whose per-address limit is 3 a second, with counters of its own.
    const dir = mkdtempSync(join(tmpdir(), 'coursereg-ratelimit-'));
    const limits = join(dir, 'config.yaml');
    writeFileSync(limits, readFileSync('envoy/ratelimit/config.yaml', 'utf8').replace('requests_per_unit: 500', 'requests_per_unit: 3'));
    const gw = await startGateway(gatewayEnvFor(w, w.webDir, { RATELIMIT_CONFIG_FILE: limits, REDIS_KEY_PREFIX: `gw-static-${randomUUID()}:` }));
    try {
      const answers = [];
      for (let i = 0; i < 5; i++) answers.push(await fetch(`http://127.0.0.1:${gw.port}/assets/app.js`));
      expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 429, 429]);
      expect(answers[0].headers.get('x-ratelimit-limit')).toBe('3, 3;w=1');
      expect(answers[2].headers.get('x-ratelimit-remaining')).toBe('0');
      expect(answers[3].headers.get('x-envoy-ratelimited')).toBe('true');
      for (const r of answers) await r.arrayBuffer();
    } finally {
      await gw.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('HTTP/2 framing', () => {
  test('grpcWeb_overHttp2_getsTrailersInTheBody', async () => {
    const token = await w.token('student', 'S0013');
    const session = http2.connect(w.origin);
    try {
      const stream = session.request({
        ':method': 'POST',
        ':path': '/coursereg.course.v1.CourseService/ListCourses',
        'content-type': 'application/grpc-web+proto',
        authorization: `Bearer ${token}`,
      });
      stream.end(frame(ListCoursesRequest.encode({ pageSize: 1, pageToken: '', department: '', query: '' }).finish()));
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      await new Promise((r) => stream.on('end', r));
      const body = Buffer.concat(chunks);
      const len = body.readUInt32BE(1);
      expect(body[5 + len]).toBe(0x80);
      expect(body.subarray(10 + len).toString()).toContain('grpc-status:0');
    } finally {
      session.close();
    }
  });
});

describe('access log (envoy.yaml access_log)', () => {
  const accessLines = (path: string) => logLines.filter((l) => l.msg === 'access' && l.path === path);

  test('eachGrpcWebCall_writesOneAccessLineWithRouteStatusAndDuration', async () => {
    const path = '/coursereg.course.v1.CourseService/ListCourses';
    const before = accessLines(path).length;
    await w.web.course.ListCourses({ pageSize: 1 }, w.bearer(await w.token('student', 'S0020')));
    const refused = await webFailure(w.web.course.ListCourses({ pageSize: 1 }, w.bearer('not-a-token')));
    expect(refused.code).toBe(grpc.status.UNAUTHENTICATED);

    const lines = accessLines(path).slice(before);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ service: 'gateway', level: 30, method: 'POST', protocol: 'grpc-web', route: 'course-reads', grpcStatus: 'OK', remote: '127.0.0.1' });
    expect(lines[1]).toMatchObject({ route: 'course-reads', grpcStatus: 'UNAUTHENTICATED' });
    for (const l of lines) expect(typeof l.durationMs === 'number' && l.durationMs >= 0).toBe(true);
  });
});
