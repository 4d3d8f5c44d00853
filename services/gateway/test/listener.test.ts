import * as http2 from 'node:http2';
import * as net from 'node:net';
import { createLogger } from '../../shared/src/logger';
import { listen } from '../src/listener';
import type { Downstream } from '../src/proxy/downstream';

const log = createLogger('gateway-test', 'silent');
const h2Settings = { maxConcurrentStreams: 100, initialStreamWindowSize: 65536, initialConnectionWindowSize: 1048576 };

/** Answers every request at once, or holds it open while `hold` is set. */
function handler(hold: { open: boolean }) {
  return async (ds: Downstream): Promise<void> => {
    await ds.readBody(1024);
    if (hold.open) return; // never answered: the stream stays open
    ds.sendHeaders(200, { 'content-type': 'text/plain', 'content-length': '2' });
    ds.end(undefined, 'ok');
  };
}

/** `p`, or a failure after `ms`; the timer is cleared either way, so nothing outlives the test. */
async function within(ms: number, what: string, p: Promise<unknown>): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('listener idle_timeout', () => {
  test('http2_connectionWithoutStreams_closedAfterIdleTimeout_butNotWhileAStreamIsOpen', async () => {
    const hold = { open: true };
    const server = await listen('127.0.0.1', 0, { idleTimeoutMs: 300, http2: h2Settings }, handler(hold), log);
    const session = http2.connect(`http://127.0.0.1:${server.port}`);
    session.on('error', () => undefined);
    try {
      const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
      await new Promise<void>((resolve) => session.once('connect', () => resolve()));
      // A stream held open keeps the connection past the idle timeout.
      const stream = session.request({ ':method': 'POST', ':path': '/x' });
      stream.on('error', () => undefined);
      stream.end('hi');
      await new Promise((r) => setTimeout(r, 700));
      expect(session.closed || session.destroyed).toBe(false);
      // Once it ends, the idle connection is closed by the gateway.
      stream.close(http2.constants.NGHTTP2_CANCEL);
      await within(3000, 'the idle HTTP/2 connection closing', closed);
    } finally {
      session.destroy();
      await server.close();
    }
  });

  test('http1_keepAliveConnection_closedAfterIdleTimeout', async () => {
    const server = await listen('127.0.0.1', 0, { idleTimeoutMs: 300, http2: h2Settings }, handler({ open: false }), log);
    // A raw socket, so no client-side keep-alive policy closes it first.
    const socket = net.connect(server.port, '127.0.0.1');
    try {
      let received = '';
      const answered = new Promise<void>((resolve) =>
        socket.on('data', (chunk) => {
          received += chunk.toString('latin1');
          if (received.endsWith('ok')) resolve();
        }),
      );
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.write('POST /x HTTP/1.1\r\nhost: gateway\r\nconnection: keep-alive\r\ncontent-length: 2\r\n\r\nhi');
      await within(3000, 'the answer', answered);
      expect(received).toMatch(/^HTTP\/1\.1 200/);
      const started = Date.now();
      await within(3000, 'the idle keep-alive connection closing', closed);
      expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    } finally {
      socket.destroy();
      await server.close();
    }
  });
});

describe('listener protocol sniffing', () => {
  const PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
  /** An empty SETTINGS frame, the first frame an HTTP/2 client sends after the preface. */
  const SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);

  /** Everything the socket receives until it closes, or until `ms` pass. */
  function received(socket: net.Socket, ms: number): Promise<string> {
    return new Promise((resolve) => {
      let text = '';
      const done = () => resolve(text);
      socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      socket.once('close', done);
      setTimeout(done, ms).unref();
    });
  }

  test.each(['P', 'PR', 'PRI'])('aFirstPacketOf_%s_waitsForMoreBytes_whileOthersAreServed', async (first) => {
    const server = await listen('127.0.0.1', 0, { idleTimeoutMs: 5000, http2: h2Settings }, handler({ open: false }), log);
    const slow = net.connect(server.port, '127.0.0.1');
    slow.on('error', () => undefined);
    try {
      await new Promise<void>((resolve) => slow.once('connect', () => resolve()));
      slow.write(first);
      await new Promise((r) => setTimeout(r, 50));
      // The gateway is not stuck on the undecided connection: another caller is answered.
      const res = await within(3000, 'another caller answered', fetch(`http://127.0.0.1:${server.port}/x`, { method: 'POST', body: 'hi' }));
      expect((res as Response).status).toBe(200);
      if (first === 'PRI') {
        // The rest of HTTP/2's preface, then an empty SETTINGS frame: the HTTP/2 server answers with its own.
        const answer = received(slow, 1000);
        slow.write(Buffer.concat([Buffer.from(PREFACE.slice(first.length)), SETTINGS]));
        const bytes = Buffer.from(await answer, 'latin1');
        expect(bytes[3]).toBe(4); // a SETTINGS frame
      } else {
        // "P" or "PR" turns out to start "POST" or WebDAV's "PROPFIND": an HTTP/1.1 request like any other.
        const answer = received(slow, 2000);
        const method = first === 'P' ? 'POST' : 'PROPFIND';
        slow.write(`${method.slice(first.length)} /x HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\nconnection: close\r\n\r\nhi`);
        expect(await answer).toMatch(/^HTTP\/1\.1 200 [\s\S]*\r\n\r\nok$/);
      }
    } finally {
      slow.destroy();
      await server.close();
    }
  });

  test('http2PrefaceArrivingAfterTheDrain_getsGoawayAtOnce', async () => {
    const server = await listen('127.0.0.1', 0, { idleTimeoutMs: 5000, http2: h2Settings }, handler({ open: false }), log);
    const early = net.connect(server.port, '127.0.0.1');
    early.on('error', () => undefined);
    try {
      await new Promise<void>((resolve) => early.once('connect', () => resolve()));
      server.drain();
      // Accepted before the drain; its HTTP/2 preface and SETTINGS come after it.
      const frames = received(early, 1000);
      early.write(Buffer.concat([Buffer.from(PREFACE), SETTINGS]));
      const bytes = Buffer.from(await frames, 'latin1');
      const types: number[] = [];
      for (let at = 0; at + 9 <= bytes.length; at += 9 + bytes.readUIntBE(at, 3)) types.push(bytes[at + 3]);
      expect(types).toContain(7); // GOAWAY
    } finally {
      early.destroy();
      await server.close();
    }
  });

  test('aConnectionThatSendsNothing_isClosedAfterIdleTimeout', async () => {
    const server = await listen('127.0.0.1', 0, { idleTimeoutMs: 300, http2: h2Settings }, handler({ open: false }), log);
    const silent = net.connect(server.port, '127.0.0.1');
    silent.on('error', () => undefined);
    try {
      const closed = new Promise<void>((resolve) => silent.once('close', () => resolve()));
      await within(3000, 'the silent connection closing', closed);
    } finally {
      silent.destroy();
      await server.close();
    }
  });
});
