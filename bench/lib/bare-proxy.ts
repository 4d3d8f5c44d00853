import * as http2 from 'node:http2';
import { trailerFrame } from '../../services/gateway/src/proxy/grpc-web';

/**
 * The `bare-h2` reference of `npm run bench:gateway`: the least a Node process can
 * do to carry gRPC-web over HTTP/2 to a gRPC service, measured beside the real
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
 * Environment: BARE_PROXY_PORT, COURSE_SERVICE_ADDR, BARE_PROXY_CONNECTIONS
 * (HTTP/2 connections to the course service, as GATEWAY_UPSTREAM_CONNECTIONS).
 * Sends { type: 'ready', port } over IPC once listening.
 */

const upstreamAddr = process.env.COURSE_SERVICE_ADDR ?? '127.0.0.1:50051';
const connections = Math.max(1, Number(process.env.BARE_PROXY_CONNECTIONS ?? 2));
const sessions = Array.from({ length: connections }, () => http2.connect(`http://${upstreamAddr}`));
for (const s of sessions) s.on('error', (err) => console.error(`upstream connection error: ${err.message}`));
let next = 0;

/** gRPC-web's final frame from HTTP/2 trailers (or a trailers-only answer's headers), by the gateway's own encoder. */
function finalFrame(headers: http2.IncomingHttpHeaders): Buffer {
  const trailers: Record<string, string> = {};
  for (const k in headers) if (k.charCodeAt(0) !== 58 /* ':' */) trailers[k] = String(headers[k]);
  return trailerFrame(trailers);
}

const server = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
server.on('stream', (down, headers) => {
  const up = sessions[next++ % sessions.length].request({
    ':method': 'POST',
    ':path': String(headers[':path']),
    'content-type': 'application/grpc',
    te: 'trailers',
    authorization: String(headers.authorization ?? ''),
    'grpc-timeout': String(headers['grpc-timeout'] ?? '10S'),
  });
  down.pipe(up);
  const chunks: Buffer[] = [];
  let responseHeaders: http2.IncomingHttpHeaders = {};
  up.on('response', (h) => {
    responseHeaders = h;
  });
  up.on('data', (c: Buffer) => chunks.push(c));
  up.on('trailers', (t) => chunks.push(finalFrame(t)));
  up.on('end', () => {
    if (down.destroyed) return;
    // A trailers-only answer carries its status in the headers.
    if (responseHeaders['grpc-status'] !== undefined) chunks.push(finalFrame(responseHeaders));
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    down.respond({ ':status': 200, 'content-type': 'application/grpc-web+proto', 'content-length': body.length });
    down.end(body);
  });
  up.on('error', () => down.destroy());
  down.on('error', () => up.close(http2.constants.NGHTTP2_CANCEL));
});
server.listen(Number(process.env.BARE_PROXY_PORT ?? 0), '127.0.0.1', () => {
  const port = (server.address() as { port: number }).port;
  process.send?.({ type: 'ready', port });
});
process.on('SIGTERM', () => {
  server.close();
  for (const s of sessions) s.close();
  process.exit(0);
});
