import { Agent, request } from 'node:http';
import { decodeGrpcMessage, grpcCodeForHttpStatus, parseGrpcWebBody, toUnaryResult, type UnaryOptions, type UnaryResult } from './h2grpc';

/**
 * A minimal gRPC-web unary client over HTTP/1.1 keep-alive, for load generation
 * only: what a browser's gRPC-web library sends (POST, `content-type:
 * application/grpc-web+proto`, `x-grpc-web: 1`, the request as one
 * length-prefixed frame), with the status read from the trailer frame at the
 * end of the body, or from the headers of a trailers-only answer. HTTP/1.1
 * carries one call per connection at a time, so `sockets` connections are kept
 * open (an http.Agent with keepAlive); with fewer sockets than calls in flight
 * the extra calls queue in the agent, as they would in a browser.
 */
export class H1GrpcWebClient {
  private readonly agent: Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(addr: string, readonly sockets: number) {
    const colon = addr.lastIndexOf(':');
    this.host = addr.slice(0, colon);
    this.port = Number(addr.slice(colon + 1));
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets, scheduling: 'fifo', keepAliveMsecs: 30_000 });
  }

  /** Sockets currently open (busy or idle). */
  openSockets(): number {
    const count = (m: NodeJS.ReadOnlyDict<unknown[]>) => Object.values(m).reduce((n, l) => n + (l?.length ?? 0), 0);
    return count(this.agent.sockets) + count(this.agent.freeSockets);
  }

  close(): void {
    this.agent.destroy();
  }

  /** One unary call: `path` is /package.Service/Method, `message` the encoded request. */
  unary(path: string, message: Uint8Array, authorization: string, timeoutMs: number, opts: UnaryOptions = {}): Promise<UnaryResult> {
    return new Promise((resolve) => {
      const frame = Buffer.allocUnsafe(5 + message.length);
      frame[0] = 0;
      frame.writeUInt32BE(message.length, 1);
      frame.set(message, 5);
      let done = false;
      const finish = (r: UnaryResult) => {
        if (done) return;
        done = true;
        resolve(r);
      };
      const req = request(
        {
          host: this.host,
          port: this.port,
          method: 'POST',
          path,
          agent: this.agent,
          headers: {
            'content-type': opts.contentType ?? 'application/grpc-web+proto',
            'content-length': frame.length,
            'x-grpc-web': '1',
            'x-user-agent': 'grpc-web-javascript/0.1',
            'grpc-timeout': `${Math.max(1, Math.round(timeoutMs))}m`,
            authorization,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => finish({ code: 14, message: `response failed: ${err.message}` }));
          res.on('end', () => {
            const h = res.headers;
            const captured = opts.captureHeader && h[opts.captureHeader] !== undefined ? String(h[opts.captureHeader]) : undefined;
            let status = h['grpc-status'] !== undefined ? String(h['grpc-status']) : undefined;
            let statusMessage = h['grpc-message'] !== undefined ? decodeGrpcMessage(String(h['grpc-message'])) : '';
            let details = h['grpc-status-details-bin'] !== undefined ? String(h['grpc-status-details-bin']) : undefined;
            let body: Buffer | undefined;
            if (status === undefined) {
              const parsed = parseGrpcWebBody(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
              const t = parsed?.trailers;
              if (t?.['grpc-status'] !== undefined) {
                status = t['grpc-status'];
                statusMessage = t['grpc-message'] !== undefined ? decodeGrpcMessage(t['grpc-message']) : '';
                details = t['grpc-status-details-bin'] ?? details;
              } else {
                status = String(res.statusCode === 200 ? 13 : grpcCodeForHttpStatus(res.statusCode ?? 0));
                statusMessage = parsed ? `HTTP ${res.statusCode}, no grpc-status` : 'broken gRPC-web framing';
              }
              body = parsed?.message;
            }
            const code = Number(status);
            const result = toUnaryResult(code, statusMessage, details, code === 0 ? body : undefined);
            if (captured !== undefined) result.captured = captured;
            finish(result);
          });
        },
      );
      // The server enforces grpc-timeout; this only guards against one that never answers.
      req.setTimeout(timeoutMs + 2000, () => {
        req.destroy();
        finish({ code: 4, message: 'deadline exceeded (no answer)' });
      });
      req.on('error', (err) => finish({ code: 14, message: `request failed: ${err.message}` }));
      req.end(frame);
    });
  }
}
