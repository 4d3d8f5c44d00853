import * as http from 'node:http';
import * as http2 from 'node:http2';
import { DEFAULT_UPSTREAM_CONNECTIONS } from '../../services/gateway/src/config';
import { trailerFrame } from '../../services/gateway/src/proxy/grpc-web';

/**
 * The `bare-h2` and `bare-h1` references of `npm run bench:gateway`: the least a
 * Node process can do to carry gRPC-web over HTTP/2 (or, for browsers' path,
 * HTTP/1.1 keep-alive) to a gRPC service, measured beside the real
 * gateway in the same run. It answers one question: how much of the gateway's
 * cost is Node's HTTP/2 on both sides, which any Node gateway pays, and how much
 * is the gateway's own work (JWT, limits in Redis, breaker, retries, deadlines,
 * metrics).
 *
 * Per call it does only the translation: content-type to application/grpc, the
 * caller's authorization and grpc-timeout forwarded, the body relayed, and the
 * upstream's trailers turned into gRPC-web's final frame. No authentication, no
 * limits, no breaker, no timeouts, no metrics: never a gateway to run, only a floor.
 *
 * Environment: BARE_PROXY_PORT (HTTP/2), BARE_PROXY_H1_PORT (HTTP/1.1),
 * COURSE_SERVICE_ADDR, BARE_PROXY_CONNECTIONS (HTTP/2 connections to the course
 * service, as GATEWAY_UPSTREAM_CONNECTIONS). Sends { type: 'ready', port, h1Port }
 * over IPC once both listen.
 */

const upstreamAddr = process.env.COURSE_SERVICE_ADDR ?? '127.0.0.1:50051';
const connections = Math.max(1, Number(process.env.BARE_PROXY_CONNECTIONS ?? DEFAULT_UPSTREAM_CONNECTIONS));
const sessions = Array.from({ length: connections }, () => http2.connect(`http://${upstreamAddr}`));
for (const s of sessions) s.on('error', (err) => console.error(`upstream connection error: ${err.message}`));
let next = 0;

/** gRPC-web's final frame from HTTP/2 trailers (or a trailers-only answer's headers), by the gateway's own encoder. */
function finalFrame(headers: http2.IncomingHttpHeaders): Buffer {
  const trailers: Record<string, string> = {};
  for (const k in headers) if (k.charCodeAt(0) !== 58 /* ':' */) trailers[k] = String(headers[k]);
  return trailerFrame(trailers);
}

/** Sends one call upstream; `reply` gets the whole gRPC-web body, or null if the upstream failed. */
function forward(path: string, authorization: string, grpcTimeout: string, body: NodeJS.ReadableStream, reply: (body: Buffer | null) => void): http2.ClientHttp2Stream {
  const up = sessions[next++ % sessions.length].request({
    ':method': 'POST',
    ':path': path,
    'content-type': 'application/grpc',
    te: 'trailers',
    authorization,
    'grpc-timeout': grpcTimeout,
  });
  body.pipe(up);
  const chunks: Buffer[] = [];
  let responseHeaders: http2.IncomingHttpHeaders = {};
  up.on('response', (h) => {
    responseHeaders = h;
  });
  up.on('data', (c: Buffer) => chunks.push(c));
  up.on('trailers', (t) => chunks.push(finalFrame(t)));
  up.on('end', () => {
    // A trailers-only answer carries its status in the headers.
    if (responseHeaders['grpc-status'] !== undefined) chunks.push(finalFrame(responseHeaders));
    reply(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
  });
  up.on('error', () => reply(null));
  return up;
}

const server = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
server.on('stream', (down, headers) => {
  const up = forward(String(headers[':path']), String(headers.authorization ?? ''), String(headers['grpc-timeout'] ?? '10S'), down, (body) => {
    if (down.destroyed) return;
    if (!body) return void down.destroy();
    // Ended by an empty DATA frame after the body's write completes, as the gateway does: a
    // stream ended by the write itself makes Node build an ERR_STREAM_DESTROYED per answer.
    down.respond({ ':status': 200, 'content-type': 'application/grpc-web+proto', 'content-length': body.length }, { waitForTrailers: true });
    down.once('wantTrailers', () => down.sendTrailers({}));
    down.end(body);
  });
  down.on('error', () => up.close(http2.constants.NGHTTP2_CANCEL));
});

const h1 = http.createServer((req, res) => {
  const up = forward(req.url ?? '/', String(req.headers.authorization ?? ''), String(req.headers['grpc-timeout'] ?? '10S'), req, (body) => {
    if (res.destroyed) return;
    if (!body) return void res.destroy();
    res.writeHead(200, { 'content-type': 'application/grpc-web+proto', 'content-length': body.length });
    res.end(body);
  });
  res.on('close', () => {
    if (!res.writableFinished) up.close(http2.constants.NGHTTP2_CANCEL);
  });
});
h1.on('connection', (socket: import('node:net').Socket) => socket.setNoDelay(true));

let listening = 0;
const ready = () => {
  if (++listening < 2) return;
  process.send?.({ type: 'ready', port: (server.address() as { port: number }).port, h1Port: (h1.address() as { port: number }).port });
};
server.listen(Number(process.env.BARE_PROXY_PORT ?? 0), '127.0.0.1', ready);
h1.listen(Number(process.env.BARE_PROXY_H1_PORT ?? 0), '127.0.0.1', ready);
process.on('SIGTERM', () => {
  server.close();
  h1.close();
  for (const s of sessions) s.close();
  process.exit(0);
});
