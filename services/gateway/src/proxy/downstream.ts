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
  /** Reads the whole request body; rejects past `limit` bytes. */
  readBody(limit: number): Promise<Buffer>;
  /** Sends the response headers; `endStream` ends the response there (gRPC trailers-only). */
  sendHeaders(status: number, headers: Record<string, string>, opts?: { endStream?: boolean; trailers?: boolean }): void;
  /** Writes body bytes; false means wait for `onDrain`. */
  write(chunk: Buffer | string): boolean;
  onDrain(cb: () => void): void;
  /** Ends the response, after `last` body bytes if given, with HTTP/2 trailers if headers were sent with `trailers: true`. */
  end(trailers?: Record<string, string>, last?: Buffer | string): void;
  /** Called if the client goes away before the response ends. */
  onAbort(cb: () => void): void;
}

export class BodyTooLarge extends Error {}

function firstValues(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v[0] : String(v);
  }
  return out;
}

function readAll(stream: NodeJS.ReadableStream & { destroy?: (err?: Error) => void }, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        stream.removeAllListeners('data');
        reject(new BodyTooLarge(`request body over ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    stream.once('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

function pathOf(raw: string): string {
  const q = raw.indexOf('?');
  return q === -1 ? raw : raw.slice(0, q);
}

/** Wraps an HTTP/1.1 request and its response. */
export function http1Downstream(req: IncomingMessage, res: ServerResponse): Downstream {
  let aborted = false;
  res.on('close', () => {
    if (!res.writableFinished) aborted = true;
  });
  return {
    method: req.method ?? 'GET',
    path: pathOf(req.url ?? '/'),
    headers: firstValues(req.headers),
    remoteAddress: req.socket.remoteAddress ?? '',
    http2: false,
    raw: { req, res },
    get headersSent() {
      return res.headersSent;
    },
    get closed() {
      return aborted || res.writableEnded;
    },
    readBody: (limit) => readAll(req, limit),
    sendHeaders(status, headers, opts) {
      res.writeHead(status, headers);
      if (opts?.endStream) res.end();
    },
    write: (chunk) => res.write(chunk),
    onDrain: (cb) => void res.once('drain', cb),
    end: (_trailers, last) => void (last === undefined ? res.end() : res.end(last)),
    onAbort(cb) {
      res.on('close', () => {
        if (!res.writableFinished) cb();
      });
    },
  };
}

/** Wraps an HTTP/2 stream (native gRPC, or gRPC-web from an HTTP/2 client). */
export function http2Downstream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Downstream {
  let ended = false;
  let aborted = false;
  let waitsForTrailers = false;
  stream.on('close', () => {
    if (!ended) aborted = true;
  });
  return {
    method: String(headers[':method'] ?? 'GET'),
    path: pathOf(String(headers[':path'] ?? '/')),
    headers: firstValues(headers),
    remoteAddress: stream.session?.socket?.remoteAddress ?? '',
    http2: true,
    get headersSent() {
      return stream.headersSent;
    },
    get closed() {
      return aborted || ended || stream.destroyed;
    },
    readBody: (limit) => readAll(stream, limit),
    sendHeaders(status, hdrs, opts) {
      if (stream.destroyed) return;
      if (opts?.endStream) ended = true;
      waitsForTrailers = !opts?.endStream && (opts?.trailers ?? false);
      stream.respond({ ':status': status, ...hdrs }, { endStream: opts?.endStream ?? false, waitForTrailers: waitsForTrailers });
    },
    write: (chunk) => (stream.destroyed ? true : stream.write(chunk)),
    onDrain: (cb) => void stream.once('drain', cb),
    end(trailers, last) {
      if (ended || stream.destroyed) return;
      ended = true;
      if (waitsForTrailers) stream.once('wantTrailers', () => stream.sendTrailers(trailers ?? {}));
      if (last === undefined) stream.end();
      else stream.end(last);
    },
    onAbort(cb) {
      stream.on('close', () => {
        if (!ended) cb();
      });
    },
  };
}
