import { connect, constants, type ClientHttp2Session } from 'node:http2';
import { decodeStatus, type DecodedError } from '../../services/shared/src/errors';

/**
 * A minimal gRPC unary client over node:http2, for load generation only. It
 * speaks the gRPC wire protocol (length-prefixed protobuf over HTTP/2, status in
 * trailers) to the real servers, but skips grpc-js's per-call machinery
 * (interceptor chains, call objects, metadata cloning), which on a 2-core
 * machine would otherwise take CPU from the system under test. Requests and
 * responses are encoded with the generated ts-proto types, like any client.
 */
export interface UnaryResult {
  /** gRPC status code (0 OK). */
  code: number;
  message: string;
  /** Response message bytes when OK. */
  body?: Buffer;
  error?: DecodedError;
  /** The value of the response header named by {@link UnaryOptions.captureHeader}, if asked and present. */
  captured?: string;
}

/** Per-call options of {@link H2GrpcClient.unary}; the defaults are native gRPC. */
export interface UnaryOptions {
  /**
   * The request's content-type: `application/grpc` (default) or a gRPC-web type such as
   * `application/grpc-web+proto`. With a gRPC-web type the request is otherwise identical
   * (same frame, same headers), and the status is read from the trailer frame at the end of
   * the body (or from the headers of a trailers-only answer), as gRPC-web requires.
   */
  contentType?: string;
  /** A response header to return in {@link UnaryResult.captured} (lower case). */
  captureHeader?: string;
}

/** Maps an HTTP status without a grpc-status to a gRPC code, as the gRPC spec does for proxies. */
export function grpcCodeForHttpStatus(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return 13;
    case 401:
      return 16;
    case 403:
      return 7;
    case 404:
      return 12;
    case 429:
    case 502:
    case 503:
    case 504:
      return 14;
    default:
      return 2;
  }
}

/**
 * Splits a gRPC-web response body into its message and its trailers: data frames have flag
 * 0x00, the trailer frame has the high bit (0x80) set and holds "name:value\r\n" lines.
 * Returns undefined if the framing is broken.
 */
export function parseGrpcWebBody(data: Buffer): { message?: Buffer; trailers?: Record<string, string> } | undefined {
  let message: Buffer | undefined;
  let trailers: Record<string, string> | undefined;
  let at = 0;
  while (at < data.length) {
    if (at + 5 > data.length) return undefined;
    const flag = data[at];
    const len = data.readUInt32BE(at + 1);
    if (at + 5 + len > data.length) return undefined;
    const payload = data.subarray(at + 5, at + 5 + len);
    at += 5 + len;
    if (flag & 0x80) {
      trailers = {};
      for (const line of payload.toString('latin1').split('\r\n')) {
        const colon = line.indexOf(':');
        if (colon > 0) trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
    } else if (message === undefined) {
      message = payload;
    }
  }
  return { message, trailers };
}

/** Builds the call's result from its gRPC status, message, status details (base64) and response message. */
export function toUnaryResult(code: number, statusMessage: string, details: string | undefined, body: Buffer | undefined): UnaryResult {
  if (code === 0) return { code, message: statusMessage, body };
  return { code, message: statusMessage, error: decodeStatus(code, statusMessage, details) };
}

/** Percent-decodes a grpc-message value, keeping it as it is if it is not valid percent-encoding. */
export function decodeGrpcMessage(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

const { HTTP2_HEADER_METHOD, HTTP2_HEADER_PATH, HTTP2_HEADER_CONTENT_TYPE, HTTP2_HEADER_TE } = constants;

export class H2GrpcClient {
  private readonly sessions: ClientHttp2Session[] = [];
  private next = 0;

  constructor(private readonly addr: string, private readonly connections: number) {}

  /** Opens the connections and waits until each is established. */
  async connect(timeoutMs = 30_000): Promise<void> {
    await Promise.all(
      Array.from({ length: this.connections }, () =>
        new Promise<void>((resolve, reject) => {
          const session = connect(`http://${this.addr}`, { settings: { enablePush: false } });
          const timer = setTimeout(() => reject(new Error(`could not connect to ${this.addr}`)), timeoutMs);
          session.once('connect', () => {
            clearTimeout(timer);
            resolve();
          });
          session.once('error', (err) => {
            clearTimeout(timer);
            reject(err);
          });
          session.on('error', () => undefined);
          this.sessions.push(session);
        }),
      ),
    );
  }

  close(): void {
    for (const s of this.sessions) s.close();
  }

  /** One unary call: `path` is /package.Service/Method, `message` the encoded request. */
  unary(path: string, message: Uint8Array, authorization: string, timeoutMs: number, opts: UnaryOptions = {}): Promise<UnaryResult> {
    const contentType = opts.contentType ?? 'application/grpc';
    const web = contentType.startsWith('application/grpc-web');
    const session = this.sessions[this.next++ % this.sessions.length];
    return new Promise((resolve) => {
      if (session.closed || session.destroyed) {
        resolve({ code: 14, message: 'connection closed' });
        return;
      }
      const frame = Buffer.allocUnsafe(5 + message.length);
      frame[0] = 0;
      frame.writeUInt32BE(message.length, 1);
      frame.set(message, 5);
      const stream = session.request({
        [HTTP2_HEADER_METHOD]: 'POST',
        [HTTP2_HEADER_PATH]: path,
        [HTTP2_HEADER_CONTENT_TYPE]: contentType,
        [HTTP2_HEADER_TE]: 'trailers',
        'grpc-timeout': `${Math.max(1, Math.round(timeoutMs))}m`,
        authorization,
      });
      const chunks: Buffer[] = [];
      let timedOut = false;
      // The server enforces grpc-timeout; this only guards against one that never answers.
      stream.setTimeout(timeoutMs + 2000, () => {
        timedOut = true;
        stream.close(constants.NGHTTP2_CANCEL);
      });
      let status: string | undefined;
      let statusMessage = '';
      let details: string | undefined;
      let httpStatus = 0;
      let captured: string | undefined;
      const take = (h: Record<string, string | string[] | number | undefined>) => {
        if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
        if (h['grpc-message'] !== undefined) statusMessage = decodeGrpcMessage(String(h['grpc-message']));
        if (h['grpc-status-details-bin'] !== undefined) details = String(h['grpc-status-details-bin']);
      };
      stream.on('response', (h) => {
        httpStatus = Number(h[':status'] ?? 0);
        if (opts.captureHeader && h[opts.captureHeader] !== undefined) captured = String(h[opts.captureHeader]);
        take(h);
      });
      stream.on('trailers', take);
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', () => undefined);
      stream.on('close', () => {
        let body: Buffer | undefined;
        if (web && status === undefined && httpStatus !== 0 && !timedOut) {
          // gRPC-web: the status is in the trailer frame at the end of the body.
          const parsed = parseGrpcWebBody(Buffer.concat(chunks));
          if (parsed?.trailers) take(parsed.trailers);
          body = parsed?.message;
          if (status === undefined && stream.rstCode === constants.NGHTTP2_NO_ERROR) {
            status = String(httpStatus === 200 ? 13 : grpcCodeForHttpStatus(httpStatus));
            statusMessage = parsed ? 'the answer has no grpc-status' : 'broken gRPC-web framing';
          }
        }
        if (status === undefined) {
          if (timedOut) resolve({ code: 4, message: 'deadline exceeded (no answer)' });
          else resolve({ code: stream.rstCode === constants.NGHTTP2_CANCEL ? 1 : 14, message: `stream closed without status (rst ${stream.rstCode})` });
          return;
        }
        const code = Number(status);
        if (code === 0 && !web) {
          const data = Buffer.concat(chunks);
          body = data.length >= 5 ? data.subarray(5, 5 + data.readUInt32BE(1)) : undefined;
        }
        const result = toUnaryResult(code, statusMessage, details, code === 0 ? body : undefined);
        if (captured !== undefined) result.captured = captured;
        resolve(result);
      });
      stream.end(frame);
    });
  }
}
