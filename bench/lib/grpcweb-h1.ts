import type { IncomingHttpHeaders } from 'node:http';
import { errors, Pool, type Dispatcher } from 'undici';
import { decodeGrpcMessage, grpcCodeForHttpStatus, parseGrpcWebBody, toUnaryResult, type UnaryOptions, type UnaryResult } from './h2grpc';

/**
 * A minimal gRPC-web unary client over HTTP/1.1 keep-alive, for load generation
 * only: what a browser's gRPC-web library sends (POST, `content-type:
 * application/grpc-web+proto`, `x-grpc-web: 1`, the request as one
 * length-prefixed frame), with the status read from the trailer frame at the
 * end of the body, or from the headers of a trailers-only answer.
 *
 * HTTP/1.1 carries one call per connection at a time, as browsers do (no
 * pipelining), so `sockets` connections are kept open; with fewer sockets than
 * calls in flight the extra calls queue, as they would in a browser. The
 * connections are an undici Pool driven through its dispatch API: the load
 * generator shares the machine's cores with what it measures, and undici's
 * client costs much less per call than node:http's (see bench/README.md).
 */
export class H1GrpcWebClient {
  private readonly pool: Pool;

  constructor(addr: string, readonly sockets: number) {
    this.pool = new Pool(`http://${addr}`, { connections: sockets, pipelining: 1, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 30_000 });
  }

  /** Sockets currently open (busy or idle). */
  openSockets(): number {
    return this.pool.stats.connected;
  }

  close(): void {
    void this.pool.destroy();
  }

  /** One unary call: `path` is /package.Service/Method, `message` the encoded request. */
  unary(path: string, message: Uint8Array, authorization: string, timeoutMs: number, opts: UnaryOptions = {}): Promise<UnaryResult> {
    return new Promise((resolve) => {
      const frame = Buffer.allocUnsafe(5 + message.length);
      frame[0] = 0;
      frame.writeUInt32BE(message.length, 1);
      frame.set(message, 5);
      // The server enforces grpc-timeout; these only guard against one that never answers.
      const guardMs = timeoutMs + 2000;
      this.pool.dispatch(
        {
          method: 'POST',
          path,
          headers: {
            'content-type': opts.contentType ?? 'application/grpc-web+proto',
            'x-grpc-web': '1',
            'x-user-agent': 'grpc-web-javascript/0.1',
            'grpc-timeout': `${Math.max(1, Math.round(timeoutMs))}m`,
            authorization,
          },
          body: frame,
          headersTimeout: guardMs,
          bodyTimeout: guardMs,
        },
        new CallHandler(resolve, opts.captureHeader),
      );
    });
  }
}

/** One call's answer, gathered from undici's dispatch callbacks. */
class CallHandler implements Dispatcher.DispatchHandler {
  private statusCode = 0;
  private headers: IncomingHttpHeaders = {};
  private chunks: Buffer[] = [];
  private done = false;

  constructor(
    private readonly resolve: (r: UnaryResult) => void,
    private readonly captureHeader: string | undefined,
  ) {}

  // undici tells this handler style from the legacy one by this method.
  onRequestStart(): void {}

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.statusCode = statusCode;
    this.headers = headers;
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    const h = this.headers;
    const one = (name: string): string | undefined => {
      const v = h[name];
      return v === undefined ? undefined : Array.isArray(v) ? v.join(', ') : String(v);
    };
    const captured = this.captureHeader ? one(this.captureHeader) : undefined;
    let status = one('grpc-status');
    let statusMessage = status !== undefined ? decodeGrpcMessage(one('grpc-message') ?? '') : '';
    let details = one('grpc-status-details-bin');
    let body: Buffer | undefined;
    if (status === undefined) {
      const parsed = parseGrpcWebBody(this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks));
      const t = parsed?.trailers;
      if (t?.['grpc-status'] !== undefined) {
        status = t['grpc-status'];
        statusMessage = t['grpc-message'] !== undefined ? decodeGrpcMessage(t['grpc-message']) : '';
        details = t['grpc-status-details-bin'] ?? details;
      } else {
        status = String(this.statusCode === 200 ? 13 : grpcCodeForHttpStatus(this.statusCode));
        statusMessage = parsed ? `HTTP ${this.statusCode}, no grpc-status` : 'broken gRPC-web framing';
      }
      body = parsed?.message;
    }
    const code = Number(status);
    const result = toUnaryResult(code, statusMessage, details, code === 0 ? body : undefined);
    if (captured !== undefined) result.captured = captured;
    this.finish(result);
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    if (err instanceof errors.HeadersTimeoutError || err instanceof errors.BodyTimeoutError) this.finish({ code: 4, message: 'deadline exceeded (no answer)' });
    else this.finish({ code: 14, message: `request failed: ${err.message}` });
  }

  private finish(r: UnaryResult): void {
    if (this.done) return;
    this.done = true;
    this.resolve(r);
  }
}
