import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { isServing } from '../../services/shared/src/health';
import { ROOT } from './config';

/** A child process of the benchmark, with its log file. */
export interface Child {
  name: string;
  proc: ChildProcess;
  logFile: string;
}

const running = new Set<Child>();

/** Kills every child still running (on exit, on Ctrl+C, on failure). */
export function killAll(signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const c of running) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill(signal);
}
process.once('exit', () => killAll());
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    killAll();
    process.exit(130);
  });
}

/** A TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts `node --import tsx <entry>` with the environment, logging to bench/results/logs. */
export function startTs(name: string, entry: string, env: Record<string, string>, logDir: string, opts: { ipc?: boolean; args?: string[] } = {}): Child {
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${name}.log`);
  const log = createWriteStream(logFile);
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, entry), ...(opts.args ?? [])], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: opts.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  // Both streams go to one file, which is closed once the process and both streams are done:
  // piped with the default end: true, the first stream to end would close the file under the other.
  proc.stdout!.pipe(log, { end: false });
  proc.stderr!.pipe(log, { end: false });
  proc.once('close', () => log.end());
  const child = { name, proc, logFile };
  running.add(child);
  proc.once('exit', () => running.delete(child));
  return child;
}

/** Sends SIGTERM, waits up to graceMs, then SIGKILL. */
export async function stop(child: Child, graceMs = 8000): Promise<void> {
  const p = child.proc;
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
  p.kill('SIGTERM');
  const timer = setTimeout(() => p.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function exitedError(child: Child): Error {
  return new Error(`${child.name} exited with ${child.proc.signalCode ?? `code ${child.proc.exitCode}`} while starting; see ${child.logFile}`);
}

/** Waits until a gRPC service reports SERVING on the standard health service. */
export async function waitHealthy(child: Child, addr: string, service: string, timeoutMs = 90_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.proc.exitCode !== null || child.proc.signalCode !== null) throw exitedError(child);
    if (await isServing(addr, service)) return;
    await sleep(200);
  }
  throw new Error(`${child.name} did not become healthy at ${addr} within ${timeoutMs / 1000}s; see ${child.logFile}`);
}

function httpOk(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', timeout: 1000 }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 500) < 500);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

/**
 * Waits for a process without a gRPC server (the worker): ready when its metrics
 * endpoint answers, or, if it serves none, when it has stayed up for `settleMs`.
 */
export async function waitMetricsOrSettled(child: Child, metricsPort: number, settleMs = 15_000, timeoutMs = 90_000): Promise<'metrics' | 'settled'> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (child.proc.exitCode !== null || child.proc.signalCode !== null) throw exitedError(child);
    if (await httpOk(metricsPort)) return 'metrics';
    if (Date.now() - start > settleMs) return 'settled';
    await sleep(200);
  }
  return 'settled';
}

export { sleep };

/** CPU seconds (user + system) a process has used so far; 0 when unknown (not Linux, or gone). */
export function cpuSecondsOf(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** CPU seconds the whole machine has spent busy (all cores), from /proc/stat; 0 when unknown. */
export function machineBusySeconds(): number {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = cpu[3] + (cpu[4] ?? 0);
    return (cpu.reduce((a, b) => a + b, 0) - idle) / 100;
  } catch {
    return 0;
  }
}

/** CPU seconds so far of every process whose command name is in `names` (all processes without `names`), by pid (Linux only). */
export function cpuByCommand(names?: readonly string[]): Map<number, { comm: string; cpu: number }> {
  const out = new Map<number, { comm: string; cpu: number }>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (names && !names.includes(comm)) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(pid), { comm, cpu: (Number(fields[11]) + Number(fields[12])) / 100 });
    } catch {
      // The process ended meanwhile.
    }
  }
  return out;
}

/** CPU seconds used between two {@link cpuByCommand} snapshots, summed by command name. */
export function cpuDeltaByCommand(before: Map<number, { comm: string; cpu: number }>, after: Map<number, { comm: string; cpu: number }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [pid, a] of after) out[a.comm] = (out[a.comm] ?? 0) + a.cpu - (before.get(pid)?.cpu ?? 0);
  return out;
}
