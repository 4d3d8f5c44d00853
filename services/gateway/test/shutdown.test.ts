import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestEnv, type TestEnv } from '../../shared/testing/harness';
import { startGateway } from '../src/main';
import { answerOk, EMPTY_MESSAGE, startStandIn, type StandIn } from './stand-in';

/**
 * The gateway's drain on stop: unary calls in flight finish, streams and calls
 * still open when the grace period ends get UNAVAILABLE, and nothing new gets in.
 */

const STUDENT = '/coursereg.student.v1.StudentService';
const WATCH_STUDENT = '/coursereg.registration.v1.RegistrationService/WatchStudent';
let env: TestEnv;
let upstream: StandIn;
let token: string;


beforeAll(async () => {
  env = await createTestEnv('gateway_shutdown');
  token = await env.signer.sign('registrar-1', 'registrar', 3600);
  // A stand-in student and registration service: GetStudent answers after 500 ms,
  // GetAcademicRecord sends half its answer at once and the rest after 500 ms, WatchStudent
  // sends one message and never ends (a stream in progress), GetHolds never answers.
  upstream = await startStandIn((stream, headers) => {
    const path = String(headers[':path']);
    if (path === `${STUDENT}/GetStudent`) {
      setTimeout(() => {
        if (!stream.destroyed) answerOk(stream);
      }, 500);
    } else if (path === `${STUDENT}/GetAcademicRecord`) {
      // A unary answer whose body takes a while to arrive (a large record): its headers and
      // first bytes are through the gateway well before its trailers.
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      const message = Buffer.alloc(5 + 64 * 1024);
      message.writeUInt32BE(64 * 1024, 1);
      stream.write(message.subarray(0, 32 * 1024));
      setTimeout(() => {
        if (!stream.destroyed) stream.end(message.subarray(32 * 1024));
      }, 500);
    } else if (path === WATCH_STUDENT) {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      stream.write(EMPTY_MESSAGE);
    }
  });
});

afterAll(async () => {
  await upstream?.close();
  await env?.cleanup();
});

function gatewayWithGrace(graceMs: number) {
  return startGateway({ ...env.env, GATEWAY_PORT: '0', GATEWAY_METRICS_PORT: '0', STUDENT_SERVICE_ADDR: upstream.address, REGISTRATION_SERVICE_ADDR: upstream.address, WEB_DIST_DIR: '/nonexistent', SHUTDOWN_GRACE_MS: String(graceMs) });
}

interface WebAnswer {
  httpStatus: number;
  grpcStatus?: string;
  grpcMessage?: string;
  reason?: string;
}

/** One gRPC-web call over HTTP/2 (a StudentService method, or a full path); its `firstData` settles when the first body bytes arrive. */
function webCall(session: http2.ClientHttp2Session, method: string): Promise<WebAnswer> & { firstData: Promise<void> } {
  let onFirstData!: () => void;
  const firstData = new Promise<void>((resolve) => (onFirstData = resolve));
  const answer = new Promise<WebAnswer>((resolve) => {
    const req = session.request({ ':method': 'POST', ':path': method.startsWith('/') ? method : `${STUDENT}/${method}`, 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1', authorization: `Bearer ${token}` });
    req.on('error', () => undefined);
    let headers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => (headers = h));
    req.on('data', (c: Buffer) => {
      if (chunks.push(c) === 1) onFirstData();
    });
    req.on('close', () => {
      const answer: WebAnswer = { httpStatus: Number(headers[':status'] ?? 0) };
      if (headers['grpc-status'] !== undefined) {
        answer.grpcStatus = String(headers['grpc-status']);
        answer.grpcMessage = decodeURIComponent(String(headers['grpc-message'] ?? ''));
      }
      // gRPC-web: the status is in the last frame of the body (flag 0x80).
      const body = Buffer.concat(chunks);
      for (let at = 0; at + 5 <= body.length; ) {
        const len = body.readUInt32BE(at + 1);
        if (body[at] & 0x80) {
          for (const line of body.subarray(at + 5, at + 5 + len).toString('utf8').split('\r\n')) {
            const i = line.indexOf(':');
            if (line.slice(0, i) === 'grpc-status') answer.grpcStatus = line.slice(i + 1).trim();
            if (line.slice(0, i) === 'grpc-message') answer.grpcMessage = decodeURIComponent(line.slice(i + 1).trim());
          }
        }
        at += 5 + len;
      }
      resolve(answer);
    });
    req.end(EMPTY_MESSAGE);
  });
  return Object.assign(answer, { firstData });
}

function connect(port: number): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.once('connect', () => resolve(session));
    session.once('error', reject);
  });
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

test('stop_unaryCallInFlight_finishesOk_newConnectionsRefused_http2CallersGetGoaway', async () => {
  const gw = await gatewayWithGrace(5000);
  const session = await connect(gw.port);
  session.on('error', () => undefined);
  const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
  try {
    const slow = webCall(session, 'GetStudent');
    await new Promise((r) => setTimeout(r, 150));
    const started = Date.now();
    const stopping = gw.stop();

    await goaway;
    expect(await refused(gw.port)).toBe(true);
    expect(await slow).toMatchObject({ httpStatus: 200, grpcStatus: '0' });
    await stopping;
    // It waited for the call, not for the whole grace period.
    expect(Date.now() - started).toBeLessThan(4000);
  } finally {
    session.destroy();
  }
}, 20_000);

test('stop_unaryAnswerPartlySent_finishesOk_ratherThanBeingEndedLikeAStream', async () => {
  const gw = await gatewayWithGrace(5000);
  const session = await connect(gw.port);
  session.on('error', () => undefined);
  try {
    const answer = webCall(session, 'GetAcademicRecord');
    await answer.firstData;
    const stopping = gw.stop();
    // A unary call ends by itself (its route has a timeout): the drain waits for it.
    expect(await answer).toMatchObject({ httpStatus: 200, grpcStatus: '0' });
    await stopping;
  } finally {
    session.destroy();
  }
}, 20_000);

test('stop_streamInProgressAndUnansweredCall_endWithUnavailable_streamAtOnce_callAfterTheGrace', async () => {
  const gw = await gatewayWithGrace(600);
  const session = await connect(gw.port);
  session.on('error', () => undefined);
  try {
    const stream = webCall(session, WATCH_STUDENT);
    const unanswered = webCall(session, 'GetHolds');
    await stream.firstData;
    await new Promise((r) => setTimeout(r, 100));

    const stopping = gw.stop();
    const streamEnd = await stream;
    expect(streamEnd).toMatchObject({ httpStatus: 200, grpcStatus: '14' });
    expect(streamEnd.grpcMessage).toMatch(/shutting down; reconnect/); // at once, not after the grace

    const call = await unanswered;
    expect(call.grpcStatus).toBe('14');
    expect(call.grpcMessage).toMatch(/shutting down/);
    await stopping;
  } finally {
    session.destroy();
  }
}, 20_000);

test('stop_http1CallInFlight_isAnsweredWithConnectionClose_andTheConnectionEnds', async () => {
  const gw = await gatewayWithGrace(5000);
  const socket = net.connect(gw.port, '127.0.0.1');
  try {
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(
      `POST ${STUDENT}/GetStudent HTTP/1.1\r\nhost: gateway\r\nconnection: keep-alive\r\ncontent-type: application/grpc-web+proto\r\n` +
        `x-grpc-web: 1\r\nauthorization: Bearer ${token}\r\ncontent-length: ${EMPTY_MESSAGE.length}\r\n\r\n`,
    );
    socket.write(EMPTY_MESSAGE);
    await new Promise((r) => setTimeout(r, 150));
    const stopping = gw.stop();
    // The answer comes, says the connection closes, and the gateway closes it.
    await ended;
    expect(received).toMatch(/^HTTP\/1\.1 200/);
    expect(received.toLowerCase()).toContain('connection: close');
    expect(received).toContain('grpc-status:0');
    await stopping;
  } finally {
    socket.destroy();
  }
}, 20_000);

test('stop_staticFileDownloading_isLetFinishWithinTheGrace', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'coursereg-web-stop-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><div id="root"></div>');
  const size = 16 * 1024 * 1024;
  writeFileSync(join(dir, 'big.bin'), Buffer.alloc(size, 7));
  const gw = await startGateway({ ...env.env, GATEWAY_PORT: '0', GATEWAY_METRICS_PORT: '0', STUDENT_SERVICE_ADDR: upstream.address, REGISTRATION_SERVICE_ADDR: upstream.address, WEB_DIST_DIR: dir, SHUTDOWN_GRACE_MS: '5000' });
  try {
    // A slow reader: the download is under way (headers in, most bytes not) when the stop comes.
    const got = await new Promise<{ bytes: number; stopped: boolean }>((resolve, reject) => {
      let bytes = 0;
      let stopped = false;
      const req = httpGet(`http://127.0.0.1:${gw.port}/big.bin`, (res) => {
        res.pause();
        void gw.stop().then(() => (stopped = true));
        setTimeout(() => {
          res.on('data', (c: Buffer) => (bytes += c.length));
          res.on('end', () => resolve({ bytes, stopped }));
          res.on('error', reject);
          res.resume();
        }, 300);
      });
      req.on('error', reject);
    });
    expect(got).toEqual({ bytes: size, stopped: false });
  } finally {
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
