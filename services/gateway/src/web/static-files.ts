import { existsSync } from 'node:fs';
import { join } from 'node:path';
import sirv from 'sirv';
import type { PlainHandler } from '../proxy/gateway';

/**
 * Serves the built web client (web/dist) for the `web` cluster of envoy.yaml, with
 * index.html for any other path so the client's own routes work on reload. Says
 * how to build it when it is missing.
 */
export function staticFiles(dir: string): { handler: PlainHandler; built: boolean } {
  const built = existsSync(join(dir, 'index.html'));
  const serve = built ? sirv(dir, { single: true, etag: true, gzip: false, brotli: false, immutable: false }) : undefined;
  const handler: PlainHandler = (ds, cors) => {
    if (!serve || !ds.raw) {
      ds.sendHeaders(404, { 'content-type': 'text/plain; charset=utf-8', ...cors });
      ds.write(serve ? 'not found' : `the web client is not built in ${dir}: run \`npm run build:web\``);
      ds.end();
      return;
    }
    const { req, res } = ds.raw;
    for (const [k, v] of Object.entries(cors)) res.setHeader(k, v);
    serve(req, res, () => {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    });
  };
  return { handler, built };
}
