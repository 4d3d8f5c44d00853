import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';

/**
 * One incoming request, whether it came over HTTP/1.1 (browsers' gRPC-web,
 * static files) or HTTP/2 (native gRPC, or gRPC-web from an HTTP/2 client), so
 * the gateway's pipeline is written once.
 */
export interface Downstream {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  /** Lower-case names, first value only. */
  readonly headers: Record<string, string>;
  readonly remoteAddress: string;
  readonly http2: boolean;
  /** The HTTP/1.1 request and response, for handlers written against Node's http API (static files). */
  readonly raw?: { req: IncomingMessage; res: ServerResponse };
  readonly headersSent: boolean;
  /** True once the client has gone away or the response has ended. */
  readonly closed: boolean;
  /** The whole request body is known to have arrived, so reading it cannot wait on the caller (false when not known). */
  readonly bodyArrived: boolean;
  /** Reads the whole request body; rejects past `limit` bytes, or with BodyIdle when no byte comes for `idleMs` (0: no limit). */
  readBody(limit: number, idleMs?: number): Promise<Buffer>;
  /** Sends the response headers (the object is handed over, not copied); `endStream` ends the response there (gRPC trailers-only). */
  sendHeaders(status: number, headers: Record<string, string>, opts?: { endStream?: boolean }): void;
  /** Writes body bytes; false means wait for `onDrain`. */
  write(chunk: Buffer | string): boolean;
  onDrain(cb: () => void): void;
  /** Ends the response, after `last` body bytes if given, with `trailers` as HTTP/2 trailers (HTTP/2 only; gRPC-web carries its trailers in the body). */
  end(trailers?: Record<string, string>, last?: Buffer | string): void;
  /** Sets the one callback run if the client goes away before the response ends. */
  onAbort(cb: () => void): void;
}

export class BodyTooLarge extends Error {}

/** The request body stopped coming: nothing arrived for the idle timeout. */
export class BodyIdle extends Error {}

function firstValues(headers: IncomingHttpHeaders): Record<string, string> {
  // Usually every value is already one string: then the object is used as it is.
  let plain = true;
  for (const k in headers) {
    if (typeof headers[k] !== 'string') {
      plain = false;
      break;
    }
  }
  if (plain) return headers as Record<string, string>;
  const out: Record<string, string> = {};
  for (const k in headers) {
    const v = headers[k];
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v[0] : String(v);
  }
  return out;
}

/** The caller went away (reset its stream, or closed its connection) before its request body ended. */
export class BodyAborted extends Error {}

type Body = NodeJS.ReadableStream & { readonly destroyed: boolean; readonly aborted?: boolean; readonly rstCode?: number };

/** `http2`: the body is an HTTP/2 stream's, whose end may be a reset rather than the caller's END_STREAM. */
function readAll(stream: Body, limit: number, idleMs = 0, http2 = false): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // Destroyed before anyone listened (the caller left while the call waited for its token
    // or limit checks): no event will come.
    if (stream.destroyed) {
      reject(new BodyAborted('the caller went away before its request body was read'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    // Restarted by every chunk, so only a body that stops coming runs it out.
    const idle =
      idleMs > 0
        ? setTimeout(() => {
            stream.removeAllListeners('data');
            reject(new BodyIdle(`no request body bytes came for ${idleMs} ms`));
          }, idleMs)
        : undefined;
    stream.on('data', (chunk: Buffer) => {
      idle?.refresh();
      size += chunk.length;
      if (size > limit) {
        clearTimeout(idle);
        stream.removeAllListeners('data');
        reject(new BodyTooLarge(`request body over ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    let ended = false;
    stream.once('end', () => {
      ended = true;
      clearTimeout(idle);
      // An HTTP/2 caller that resets its stream ends the readable side too, before Node marks
      // the stream reset: what came is not the whole request and must not reach the service as
      // if it were (Envoy would reset the upstream stream, which never sees END_STREAM).
      if (stream.aborted || (stream.rstCode ?? 0) !== 0 || (http2 && (stream as unknown as ServerHttp2Stream).state.remoteClose !== 1)) reject(new BodyAborted('the caller reset its call before the request body ended'));
      else resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    });
    stream.once('error', (err) => {
      clearTimeout(idle);
      reject(err);
    });
    stream.once('close', () => {
      if (ended) return;
      clearTimeout(idle);
      reject(new BodyAborted('the caller went away before its request body ended'));
    });
  });
}

function pathOf(raw: string): string {
  const q = raw.indexOf('?');
  return q === -1 ? raw : raw.slice(0, q);
}

/** Wraps an HTTP/1.1 request and its response. */
export function http1Downstream(req: IncomingMessage, res: ServerResponse): Downstream {
  return new Http1Downstream(req, res);
}

/** Wraps an HTTP/2 stream (native gRPC, or gRPC-web from an HTTP/2 client). */
export function http2Downstream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Downstream {
  return new Http2Downstream(stream, headers);
}

// Classes rather than object literals of closures: one of these is made per call.
class Http1Downstream implements Downstream {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly remoteAddress: string;
  readonly http2 = false;
  readonly raw: { req: IncomingMessage; res: ServerResponse };
  private aborted = false;
  private abortCallback?: () => void;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
  ) {
    this.method = req.method ?? 'GET';
    this.path = pathOf(req.url ?? '/');
    this.headers = firstValues(req.headers);
    this.remoteAddress = req.socket.remoteAddress ?? '';
    this.raw = { req, res };
    res.on('close', () => {
      if (res.writableFinished) return;
      this.aborted = true;
      this.abortCallback?.();
    });
  }

  get headersSent(): boolean {
    return this.res.headersSent;
  }

  get closed(): boolean {
    return this.aborted || this.res.writableEnded;
  }

  get bodyArrived(): boolean {
    return this.req.complete;
  }

  readBody(limit: number, idleMs?: number): Promise<Buffer> {
    return readAll(this.req, limit, idleMs);
  }

  sendHeaders(status: number, headers: Record<string, string>, opts?: { endStream?: boolean }): void {
    // A headers-only answer (gRPC trailers-only) says it has no body, rather than being chunked.
    if (opts?.endStream && headers['content-length'] === undefined) headers['content-length'] = '0';
    this.res.writeHead(status, headers);
    if (opts?.endStream) this.res.end();
  }

  write(chunk: Buffer | string): boolean {
    return this.res.write(chunk);
  }

  onDrain(cb: () => void): void {
    this.res.once('drain', cb);
  }

  end(_trailers?: Record<string, string>, last?: Buffer | string): void {
    if (last === undefined) this.res.end();
    else this.res.end(last);
  }

  onAbort(cb: () => void): void {
    this.abortCallback = cb;
  }
}

class Http2Downstream implements Downstream {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly remoteAddress: string;
  readonly http2 = true;
  private ended = false;
  private aborted = false;
  private waitsForTrailers = false;
  private abortCallback?: () => void;
  private trailers?: Record<string, string>;

  constructor(
    private readonly stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
  ) {
    this.method = String(headers[':method'] ?? 'GET');
    this.path = pathOf(String(headers[':path'] ?? '/'));
    this.headers = firstValues(headers);
    this.remoteAddress = stream.session?.socket?.remoteAddress ?? '';
    stream.on('close', () => {
      if (this.ended) return;
      this.aborted = true;
      this.abortCallback?.();
    });
  }

  get headersSent(): boolean {
    return this.stream.headersSent;
  }

  get closed(): boolean {
    return this.aborted || this.ended || this.stream.destroyed;
  }

  get bodyArrived(): boolean {
    // Known only for a request that ended with its headers; otherwise not without reading.
    return this.stream.endAfterHeaders;
  }

  readBody(limit: number, idleMs?: number): Promise<Buffer> {
    return readAll(this.stream, limit, idleMs, true);
  }

  sendHeaders(status: number, headers: Record<string, string>, opts?: { endStream?: boolean }): void {
    if (this.stream.destroyed) return;
    if (opts?.endStream) this.ended = true;
    // Every answer with a body waits for trailers, even one without any (gRPC-web carries
    // them in the body): the stream then ends after its last write has completed. Ended
    // by the write itself, Node destroys the stream first and builds an ERR_STREAM_DESTROYED
    // error, stack trace and all, for every answer (about 4 µs each).
    this.waitsForTrailers = !opts?.endStream;
    (headers as Record<string, string | number>)[':status'] = status;
    this.stream.respond(headers, { endStream: opts?.endStream ?? false, waitForTrailers: this.waitsForTrailers });
  }

  write(chunk: Buffer | string): boolean {
    return this.stream.destroyed ? true : this.stream.write(chunk);
  }

  onDrain(cb: () => void): void {
    this.stream.once('drain', cb);
  }

  end(trailers?: Record<string, string>, last?: Buffer | string): void {
    if (this.ended || this.stream.destroyed) return;
    this.ended = true;
    if (this.waitsForTrailers) {
      // With no trailers, Node ends the stream with an empty DATA frame rather than empty HEADERS.
      this.trailers = trailers ?? {};
      this.stream.once('wantTrailers', () => this.stream.sendTrailers(this.trailers!));
    }
    if (last === undefined) this.stream.end();
    else this.stream.end(last);
  }

  onAbort(cb: () => void): void {
    this.abortCallback = cb;
  }
}
