import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import send from 'send';
import type { PlainHandler } from '../proxy/gateway';

/** Vite's hashed build output: a name never changes content, so browsers may keep it. */
const HASHED_ASSETS = '/assets/';

/**
 * Serves the built web client (web/dist) for the `web` cluster of envoy.yaml, with
 * index.html for any other path without a file extension, so the client's own routes work
 * on reload. Files are looked up on disk for every request (with `send`, which also
 * answers Range, HEAD and conditional requests), so a rebuild while the gateway runs is
 * served as it is; a file gone between lookup and read is a failed answer, never a crash.
 * Says how to build the client when it is missing.
 */
export function staticFiles(dir: string): { handler: PlainHandler; built: boolean } {
  const notBuilt = `the web client is not built in ${dir}: run \`npm run build:web\``;
  const handler: PlainHandler = (ds, cors) => {
    if (!ds.raw) {
      ds.sendHeaders(404, { 'content-type': 'text/plain; charset=utf-8', ...cors });
      ds.end(undefined, 'not found');
      return;
    }
    const { req, res } = ds.raw;
    for (const [k, v] of Object.entries(cors)) res.setHeader(k, v);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      plain(res, 405, 'the web client is read with GET or HEAD', { allow: 'GET, HEAD' });
      return;
    }
    const file = send(req, ds.path, { root: dir, index: false, dotfiles: 'ignore', ...cacheFor(ds.path) });
    file.on('error', (err: HttpError) => {
      const status = statusOf(err);
      // Not a file: a route of the client itself (no extension), answered with the app.
      if (status === 404 && !/\.[^/]*$/.test(ds.path)) serveApp(req, res, dir, notBuilt);
      else plain(res, status, status === 404 ? 'not found' : status === 416 ? 'range not satisfiable' : 'the file could not be read');
    });
    file.on('directory', () => serveApp(req, res, dir, notBuilt));
    file.pipe(res);
  };
  return { handler, built: existsSync(join(dir, 'index.html')) };
}

/** Hashed assets may be kept for a year; everything else is checked again on every use. */
function cacheFor(path: string): send.SendOptions {
  return path.startsWith(HASHED_ASSETS) ? { maxAge: '365d', immutable: true } : { maxAge: 0 };
}

function serveApp(req: IncomingMessage, res: ServerResponse, dir: string, notBuilt: string): void {
  const app = send(req, '/index.html', { root: dir, index: false, maxAge: 0 });
  app.on('error', (err: HttpError) => {
    const status = statusOf(err);
    plain(res, status, status === 404 ? notBuilt : 'the web client could not be read');
  });
  app.pipe(res);
}

/** What `send` emits as 'error': an http-errors object. */
type HttpError = { status?: number; statusCode?: number };

function statusOf(err: HttpError): number {
  return err.status ?? err.statusCode ?? 500;
}

function plain(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...extra });
  res.end(text);
}
