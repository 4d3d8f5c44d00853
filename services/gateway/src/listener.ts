import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { Logger } from '../../shared/src/logger';
import type { ListenerPlan } from './envoy/plan';
import { http1Downstream, http2Downstream, type Downstream } from './proxy/downstream';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export interface Listening {
  port: number;
  /**
   * Starts draining, as Envoy does before it stops: no new connections, GOAWAY on
   * every HTTP/2 connection (its open streams go on), idle HTTP/1.1 connections
   * closed, and `connection: close` on every HTTP/1.1 answer from now on.
   */
  drain(): void;
  /** Closes every connection that is left. */
  close(): Promise<void>;
  /** HTTP/1.1 answers under way (gRPC-web calls, static files, development sign-in). */
  readonly openAnswers: number;
}

/**
 * One plaintext port for both kinds of callers, like Envoy's `codec_type: AUTO`:
 * connections that open with the HTTP/2 preface (native gRPC) go to an HTTP/2
 * server, everything else (browsers' gRPC-web, static files) to HTTP/1.1.
 */
export async function listen(
  host: string,
  port: number,
  listener: Pick<ListenerPlan, 'idleTimeoutMs' | 'http2'>,
  handle: (ds: Downstream) => Promise<void>,
  log: Logger,
): Promise<Listening> {
  const onError = (err: unknown) => log.error({ err: (err as Error).message }, 'gateway request failed');
  let draining = false;
  // HTTP/1.1 answers not yet started, so a drain can ask their connections to close after them.
  const h1Pending = new Set<http.ServerResponse>();
  let openAnswers = 0;
  // Envoy's default max_request_headers_kb: 60 KiB of request headers (Node's own limit is 16 KiB).
  const h1 = http.createServer({ maxHeaderSize: 60 * 1024 }, (req, res) => {
    openAnswers++;
    if (draining) {
      res.setHeader('connection', 'close');
      res.once('close', () => openAnswers--);
    } else {
      h1Pending.add(res);
      res.once('close', () => {
        h1Pending.delete(res);
        openAnswers--;
      });
    }
    void handle(http1Downstream(req, res)).catch(onError);
  });
  // envoy.yaml's idle_timeout: a keep-alive connection with no request in flight closes after it.
  h1.keepAliveTimeout = listener.idleTimeoutMs;
  const h2 = http2.createServer({
    settings: { maxConcurrentStreams: listener.http2.maxConcurrentStreams, initialWindowSize: listener.http2.initialStreamWindowSize },
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on('session', (session) => {
    // A connection accepted before the drain whose preface came after it: GOAWAY at once.
    if (draining) session.close();
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    const connectionWindow = listener.http2.initialConnectionWindowSize;
    if (connectionWindow > 65_535) session.setLocalWindowSize(connectionWindow);
    // idle_timeout for HTTP/2: close the connection once it has had no open stream for that long.
    if (listener.idleTimeoutMs > 0) {
      let open = 0;
      let idle: NodeJS.Timeout | undefined;
      const arm = () => {
        idle = setTimeout(() => session.close(), listener.idleTimeoutMs);
        idle.unref();
      };
      const onStreamClose = () => {
        if (--open === 0 && !session.closed && !session.destroyed) arm();
      };
      session.on('stream', (stream) => {
        open++;
        if (idle) clearTimeout(idle);
        idle = undefined;
        stream.on('close', onStreamClose);
      });
      session.once('close', () => clearTimeout(idle));
      arm();
    }
  });
  h2.on('stream', (stream, headers) => void handle(http2Downstream(stream, headers)).catch(onError));
  h2.on('sessionError', (err) => log.debug({ err: err.message }, 'http2 session error'));
  const sockets = new Set<net.Socket>();

  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // A connection that sends nothing is closed after idle_timeout, as Envoy's idle timer runs
    // from the connection's start; once its protocol is known, the HTTP servers take over.
    const silent = listener.idleTimeoutMs > 0 ? setTimeout(() => socket.destroy(), listener.idleTimeoutMs) : undefined;
    silent?.unref();
    socket.once('close', () => clearTimeout(silent));
    // The bytes read so far. They go back into the socket only once the protocol is decided:
    // put back any earlier, they would wake 'readable' again at once, and a caller that sent
    // "P" and waited would have the gateway reading the same byte forever.
    let head: Buffer = Buffer.alloc(0);
    socket.on('readable', function sniff() {
      const more = socket.read() as Buffer | null;
      if (!more) return;
      head = head.length === 0 ? more : Buffer.concat([head, more]);
      const seen = head.subarray(0, H2_PREFACE.length);
      const isH2 = H2_PREFACE.subarray(0, seen.length).equals(seen);
      // "P" or "PR" could still be "POST" or "PRI": wait for a few more bytes.
      if (isH2 && head.length < 4) return;
      socket.off('readable', sniff);
      clearTimeout(silent);
      socket.unshift(head);
      (isH2 ? h2 : h1).emit('connection', socket);
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    get openAnswers() {
      return openAnswers;
    },
    drain() {
      if (draining) return;
      draining = true;
      server.close();
      for (const session of sessions) session.close();
      for (const res of h1Pending) if (!res.headersSent) res.setHeader('connection', 'close');
      h1Pending.clear();
      h1.closeIdleConnections();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        h1.closeIdleConnections();
        for (const s of sockets) s.destroy();
      }),
  };
}
