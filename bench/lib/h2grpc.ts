import { connect, constants, type ClientHttp2Session } from 'node:http2';
import type { Metadata, ServiceError } from '@grpc/grpc-js';
import { decodeServiceError, type DecodedError } from '../../services/shared/src/errors';

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
  unary(path: string, message: Uint8Array, authorization: string, timeoutMs: number): Promise<UnaryResult> {
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
        [HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
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
      const take = (h: Record<string, string | string[] | undefined>) => {
        if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
        if (h['grpc-message'] !== undefined) statusMessage = decodeURIComponent(String(h['grpc-message']));
        if (h['grpc-status-details-bin'] !== undefined) details = String(h['grpc-status-details-bin']);
      };
      stream.on('response', take);
      stream.on('trailers', take);
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', () => undefined);
      stream.on('close', () => {
        if (status === undefined) {
          if (timedOut) resolve({ code: 4, message: 'deadline exceeded (no answer)' });
          else resolve({ code: stream.rstCode === constants.NGHTTP2_CANCEL ? 1 : 14, message: `stream closed without status (rst ${stream.rstCode})` });
          return;
        }
        const code = Number(status);
        if (code === 0) {
          const data = Buffer.concat(chunks);
          resolve({ code, message: statusMessage, body: data.subarray(5, 5 + data.readUInt32BE(1)) });
          return;
        }
        const md = { get: (k: string) => (k === 'grpc-status-details-bin' && details ? [Buffer.from(details, 'base64')] : []) } as unknown as Metadata;
        const error = decodeServiceError({ code, details: statusMessage, metadata: md, message: statusMessage, name: 'Error' } as ServiceError);
        resolve({ code, message: statusMessage, error });
      });
      stream.end(frame);
    });
  }
}
