import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { findSourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';
import { startGateway } from '../../services/gateway/src/main';
import { onShutdownSignal } from '../../services/shared/src/lifecycle';
import { createLogger } from '../../services/shared/src/logger';
import type { Profile } from './cpuprofile';

/**
 * The gateway with a CPU profiler the benchmark switches on and off, used only by
 * `npm run bench:gateway -- --profile`. It starts the gateway exactly as
 * services/gateway/src/main.ts does (same startGateway, same environment, same
 * shutdown), plus V8's sampling profiler over an inspector session, so only the
 * measured windows of the gateway phases are profiled (--cpu-prof would profile
 * start-up too, and cannot be given through NODE_OPTIONS).
 *
 * Messages from the benchmark: `profile-start`; `profile-stop` with a file name,
 * answered by `profile-written` once the profile is saved. Positions in the saved
 * profile are mapped back to the TypeScript sources through the source maps tsx
 * registers, so file:line in the profile are the .ts file's (1-based lines in
 * `originalLine` fields; callFrame.lineNumber stays 0-based as in any .cpuprofile).
 */

const session = new Session();
session.connect();
const post = <T = unknown>(method: string, params?: object): Promise<T> =>
  new Promise((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res as T))));

/** Rewrites generated positions (tsx's output) to the TypeScript source's, where a source map knows them. */
function mapToSources(profile: Profile): void {
  for (const node of profile.nodes) {
    const f = node.callFrame;
    delete node.positionTicks; // generated-code lines, meaningless after mapping
    if (!f.url || f.url.startsWith('node:') || f.lineNumber < 0) continue;
    let path = f.url;
    try {
      if (path.startsWith('file://')) path = fileURLToPath(path);
    } catch {
      continue;
    }
    const map = findSourceMap(path);
    if (!map) continue;
    const entry = map.findEntry(f.lineNumber, f.columnNumber) as { originalSource?: string; originalLine?: number; originalColumn?: number };
    if (entry?.originalSource === undefined || entry.originalLine === undefined) continue;
    f.url = entry.originalSource;
    f.lineNumber = entry.originalLine;
    f.columnNumber = entry.originalColumn ?? 0;
  }
}

process.on('message', (m: { type: string; file?: string; intervalUs?: number }) => {
  void (async () => {
    if (m.type === 'profile-start') {
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: m.intervalUs ?? 1000 });
      await post('Profiler.start');
      process.send!({ type: 'profile-started' });
    } else if (m.type === 'profile-stop') {
      const { profile } = await post<{ profile: Profile }>('Profiler.stop');
      mapToSources(profile);
      writeFileSync(m.file!, JSON.stringify(profile));
      process.send!({ type: 'profile-written', file: m.file });
    }
  })().catch((err: unknown) => {
    console.error(`profiler: ${(err as Error).message}`);
    process.send!({ type: 'profile-failed', error: (err as Error).message });
  });
});

startGateway().then(
  (g) => onShutdownSignal(createLogger('gateway', 'info'), () => g.stop()),
  (err: unknown) => {
    console.error(`gateway failed to start: ${(err as Error).message}`);
    process.exit(1);
  },
);
