import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { UpstreamRequest } from '../src/proxy/upstream';

/** A stand-in gRPC service (plain HTTP/2) on a port the system picks; each test answers its calls its own way. */
export interface StandIn {
  server: http2.Http2Server;
  /** host:port, as the gateway's *_SERVICE_ADDR variables take it. */
  address: string;
  /**
   * Stops it. Sessions still open are destroyed first: a stream the stand-in never
   * answered keeps its session, and so the test process, alive after the caller has gone.
   */
  close(): Promise<void>;
}

const HEALTH_CHECK = '/grpc.health.v1.Health/Check';

/**
 * Starts a stand-in; `onStream` gets every call, already reading (resumed) and with its errors
 * ignored. The gateway health-checks its hosts and takes none into rotation before a check
 * passes, so the stand-in answers health checks itself, SERVING, unless `passHealthChecks`
 * hands them to `onStream` too.
 */
export async function startStandIn(onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void, opts: { passHealthChecks?: boolean } = {}): Promise<StandIn> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    stream.resume();
    if (headers[':path'] === HEALTH_CHECK && !opts.passHealthChecks) answerHealthCheck(stream, true);
    else onStream(stream, headers);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      for (const s of sessions) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A gRPC frame holding an empty message (every field at its default). */
export const EMPTY_MESSAGE = Buffer.from([0, 0, 0, 0, 0]);

/** Answers a call OK: HTTP 200, one gRPC frame (`message`, empty unless given), then trailers with grpc-status 0. */
export function answerOk(stream: http2.ServerHttp2Stream, message: Buffer = EMPTY_MESSAGE): void {
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
  stream.end(message);
}

/** Answers a grpc.health.v1 Check: SERVING, or NOT_SERVING (as a service says while it drains). */
export function answerHealthCheck(stream: http2.ServerHttp2Stream, serving: boolean): void {
  answerOk(stream, Buffer.from([0, 0, 0, 0, 2, 0x08, serving ? 0x01 : 0x02]));
}

/** Waits until `cond` holds, looking every 10 ms; fails naming `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A unary call to a stand-in, with an empty message, as a cluster sends it; `timeoutMs` bounds both its wait for a stream and its answer. */
export function unaryRequest(timeoutMs = 2000): UpstreamRequest {
  return {
    headers: { ':method': 'POST', ':path': '/test.v1.Service/Method', 'content-type': 'application/grpc', te: 'trailers' },
    body: Buffer.from([0, 0, 0, 0, 0]),
    headersTimeoutMs: timeoutMs,
    waitMs: timeoutMs,
  };
}
