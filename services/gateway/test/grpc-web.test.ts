import * as http from 'node:http';
import * as http2 from 'node:http2';
import { createTestEnv, type TestEnv } from '../../shared/testing/harness';
import { startGateway, type StartedGateway } from '../src/main';
import { startStandIn, waitFor, type StandIn } from './stand-in';

/**
 * gRPC-web edge cases a browser (or a grpc-web SDK) runs into, against a stand-in
 * registration service whose answers each test chooses (header x-test-case).
 */

const REGISTRATION = '/coursereg.registration.v1.RegistrationService';
/** A gRPC frame holding an empty message. */
const EMPTY_MESSAGE = Buffer.from([0, 0, 0, 0, 0]);

interface Seen {
  headers: http2.IncomingHttpHeaders;
  /** The gateway closed (or cancelled) the upstream stream. */
  closed: boolean;
}

let env: TestEnv;
let upstream: StandIn;
let gw: StartedGateway;
let token: string;
const seen = new Map<string, Seen>();

beforeAll(async () => {
  env = await createTestEnv('gateway_grpc_web');
  token = await env.signer.sign('registrar-1', 'registrar', 3600);
  upstream = await startStandIn((stream, headers) => {
    const testCase = String(headers['x-test-case'] ?? '');
    const record: Seen = { headers, closed: false };
    seen.set(testCase, record);
    stream.on('close', () => (record.closed = true));
    // A stream that answers at once and then sends a message every 20 ms.
    const streamMessages = () => {
      if (stream.destroyed) return;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      stream.write(EMPTY_MESSAGE);
      const tick = setInterval(() => {
        if (stream.destroyed) clearInterval(tick);
        else stream.write(EMPTY_MESSAGE);
      }, 20);
    };
    if (testCase.startsWith('late-stream')) setTimeout(streamMessages, 300);
    else if (testCase.startsWith('stream')) streamMessages();
    // Any other case is never answered.
  });
  gw = await startGateway({ ...env.env, GATEWAY_PORT: '0', GATEWAY_METRICS_PORT: '0', REGISTRATION_SERVICE_ADDR: upstream.address, WEB_DIST_DIR: '/nonexistent', SHUTDOWN_GRACE_MS: '200' });
});

afterAll(async () => {
  await gw?.stop();
  await upstream?.close();
  await env?.cleanup();
});

interface WebAnswer {
  httpStatus: number;
  headers: http.IncomingHttpHeaders;
  /** Message frames seen. */
  messages: number;
  /** grpc-status, from the headers (trailers-only) or the trailer frame. */
  grpcStatus?: string;
}

function parseBody(res: http.IncomingMessage, body: Buffer): WebAnswer {
  const answer: WebAnswer = { httpStatus: res.statusCode ?? 0, headers: res.headers, messages: 0 };
  if (res.headers['grpc-status'] !== undefined) answer.grpcStatus = String(res.headers['grpc-status']);
  for (let at = 0; at + 5 <= body.length; ) {
    const len = body.readUInt32BE(at + 1);
    if (body[at] & 0x80) {
      const m = /(?:^|\r\n)grpc-status:(\d+)/.exec(body.subarray(at + 5, at + 5 + len).toString('latin1'));
      if (m) answer.grpcStatus = m[1];
    } else {
      answer.messages++;
    }
    at += 5 + len;
  }
  return answer;
}

/** A gRPC-web call over HTTP/1.1; resolves with what arrived when it ended or after `readMs`, whichever is first. */
function webCall(method: string, testCase: string, extra: Record<string, string> = {}, readMs = 5000): Promise<WebAnswer> {
  return new Promise((resolve, reject) => {
    let res: http.IncomingMessage | undefined;
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      resolve(res ? parseBody(res, Buffer.concat(chunks)) : { httpStatus: 0, headers: {}, messages: 0 });
      req.destroy();
    };
    const timer = setTimeout(done, readMs);
    const req = http.request(
      `http://127.0.0.1:${gw.port}${REGISTRATION}/${method}`,
      { method: 'POST', headers: { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1', authorization: `Bearer ${token}`, 'x-test-case': testCase, ...extra } },
      (r) => {
        res = r;
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', done);
      },
    );
    req.on('error', reject);
    req.end(EMPTY_MESSAGE);
  });
}

describe('a caller that goes away before the service answers', () => {
  test('callerGone_overHttp1BeforeTheServiceAnswers_cancelsTheUpstreamStream', async () => {
    const req = http.request(`http://127.0.0.1:${gw.port}${REGISTRATION}/WatchStudent`, {
      method: 'POST',
      headers: { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1', authorization: `Bearer ${token}`, 'x-test-case': 'late-stream-h1' },
    });
    req.on('error', () => undefined);
    req.end(EMPTY_MESSAGE);
    await waitFor(() => seen.has('late-stream-h1'), 'the service gets the call', 2000);
    req.destroy();
    // The service would answer 300 ms after the call came and stream on, to nobody: the gateway cancels it.
    await waitFor(() => seen.get('late-stream-h1')!.closed, 'the upstream stream is cancelled', 1500);
  });
});

describe('grpc-accept-encoding', () => {
  test('grpcAcceptEncoding_notNamedByAWebCaller_reachesTheServiceAsIdentity', async () => {
    await webCall('WatchStudent', 'stream-accept-none', {}, 100);
    expect(seen.get('stream-accept-none')!.headers['grpc-accept-encoding']).toBe('identity');
  });

  test('grpcAcceptEncoding_namedByAWebCaller_reachesTheServiceUnchanged', async () => {
    await webCall('WatchStudent', 'stream-accept-gzip', { 'grpc-accept-encoding': 'identity,gzip' }, 100);
    expect(seen.get('stream-accept-gzip')!.headers['grpc-accept-encoding']).toBe('identity,gzip');
  });

  test('requestHeaders_reachTheServiceAsBehindEnvoy', async () => {
    await webCall('WatchStudent', 'stream-headers', { 'user-agent': 'Mozilla/5.0 test', 'x-forwarded-for': '203.0.113.7', cookie: 'session=secret', origin: 'http://localhost:5173' }, 100);
    const headers = seen.get('stream-headers')!.headers;
    // Passed on as they came, as Envoy passes them.
    expect(headers['user-agent']).toBe('Mozilla/5.0 test');
    expect(headers['authorization']).toBe(`Bearer ${token}`);
    // use_remote_address with no trusted hops: the caller's address is appended.
    expect(headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(headers['content-type']).toBe('application/grpc+proto');
    expect(headers.te).toBe('trailers');
    expect(headers['content-length']).toBeUndefined();
    // Browser headers no service reads are not passed on (Envoy would pass them).
    expect(headers.cookie).toBeUndefined();
    expect(headers.origin).toBeUndefined();
    expect(headers['x-grpc-web']).toBeUndefined();
  });
});

describe('grpc-timeout', () => {
  test('grpcTimeout_passesBeforeTheServiceAnswers_isDeadlineExceeded_andTheUpstreamCallIsReset', async () => {
    // Register's route has no retries; the stand-in never answers.
    const answer = await webCall('Register', 'never-register', { 'grpc-timeout': '200m' });
    expect(answer.grpcStatus).toBe('4');
    await waitFor(() => seen.get('never-register')?.closed === true, 'the upstream call is reset', 2000);
  });

  test('grpcTimeout_ofZero_isDeadlineExceededAtOnce_andNeverReachesTheService', async () => {
    // Envoy's connection manager takes grpc-timeout as it stands (capped only when larger than
    // grpc_timeout_header_max): 0 leaves no time at all, rather than asking for no limit.
    const started = Date.now();
    const answer = await webCall('Register', 'never-register-zero', { 'grpc-timeout': '0m' });
    expect(answer.grpcStatus).toBe('4');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(seen.has('never-register-zero')).toBe(false);
  });

  test('grpcTimeout_reachesTheServiceAsTheCallerSentIt_andACallWithoutOneGoesWithout', async () => {
    // As behind Envoy, whose router leaves grpc-timeout alone on routes with
    // max_stream_duration: the gateway enforces the (capped) limit itself and resets the
    // upstream call when it passes. Register's route caps grpc-timeout at 10 s; 30S is sent on.
    await webCall('Register', 'never-register-30s', { 'grpc-timeout': '30S' }, 150);
    expect(seen.get('never-register-30s')!.headers['grpc-timeout']).toBe('30S');
    await webCall('Register', 'never-register-none', {}, 150);
    expect(seen.get('never-register-none')!.headers['grpc-timeout']).toBeUndefined();
    // A stream route without a cap (grpc_timeout_header_max: 0s), two days.
    const answer = await webCall('WatchStudent', 'stream-48h', { 'grpc-timeout': '48H' }, 200);
    expect(answer.messages).toBeGreaterThan(0);
    expect(seen.get('stream-48h')!.headers['grpc-timeout']).toBe('48H');
  });

  test('grpcTimeout_longerThanATimerCanHold_doesNotEndTheStreamAtOnce', async () => {
    // 1000 hours is past setTimeout's 2^31-1 ms: a timer given it fires after 1 ms instead.
    const answer = await webCall('WatchStudent', 'stream-1000h', { 'grpc-timeout': '1000H' }, 300);
    expect(answer.httpStatus).toBe(200);
    expect(answer.grpcStatus).toBeUndefined();
    expect(answer.messages).toBeGreaterThan(2);
  });
});
