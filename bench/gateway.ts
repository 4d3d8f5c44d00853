import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_UPSTREAM_CONNECTIONS } from '../services/gateway/src/config';
import { TokenSigner } from '../services/shared/src/auth';
import type { GatewayClientPlan, ParentMsg, PhaseResult } from './gateway-client';
import { RESULTS_DIR, ROOT } from './lib/config';
import { summarizeProfiles } from './lib/cpuprofile';
import { createGatewayWorld, dropGatewayWorld, flushPrefix, gatewayBenchConfig, writeEnvoyCopy, writeRateLimitCopy } from './lib/gateway-world';
import {
  renderMarkdown,
  renderText,
  TARGET_TITLES,
  type CpuSplit,
  type GatewayReport,
  type GatewayTarget,
  type Latency,
  type PhaseFigures,
  type TargetSummary,
} from './lib/gateway-report';
import { cpuByCommand, cpuSecondsOf, freePort, killAll, machineBusySeconds, sleep, startTs, stop, waitHealthy, waitMetricsOrSettled, type Child } from './lib/procs';
import { meanInterval95, placeAgainst } from './lib/interval';

/**
 * `npm run bench:gateway`: the same unary RPC (CourseService/ListCourses,
 * page_size 10) directly over gRPC and through the gateway over gRPC-web, in one
 * run, on the same data and the same processes. Phases are interleaved (direct,
 * web-h1, bare-h1, web-h2, bare-h2, then again) so drift on a shared machine hits every
 * path alike. bare-h1 and bare-h2 are references, not targets: a bare Node gRPC-web proxy
 * (bench/lib/bare-proxy.ts) on the same HTTP stacks as the gateway, showing what
 * Node alone costs before any of the gateway's filters. Prints a table, writes JSON and markdown to bench/results/, and exits 1
 * if any answer in a measured window was not OK (2 with --strict when the 0.6x
 * target is missed).
 */

const USAGE = `usage: npm run bench:gateway -- [options]

  --seconds S            measured seconds per phase (default 4)
  --warmup S             warm-up seconds before each phase's window (default 1)
  --rounds N             rounds of the phases (default 5)
  --order LIST           phases of a round (default direct,web-h1,bare-h1,web-h2,bare-h2)
  --concurrency N        calls in flight, all client processes together (default 64)
  --client-procs N       load-generating processes (default 1)
  --h2-connections N     HTTP/2 connections per client process, direct and web-h2 alike (default 2)
  --h1-sockets N         HTTP/1.1 keep-alive sockets per client process (default: its calls in flight)
  --tokens N             student tokens, used round robin (default 2000; the per-student limit is 20/s)
  --page-size N          ListCourses page_size (default 10)
  --address-limit N      remote_address limit per second in the copied ratelimit config (default 10000000)
  --local-limit N|keep   tokens per fill of the course-reads route's local token bucket in the copied
                         envoy.yaml, burst twice that (default keep: as envoy/envoy.yaml says)
  --upstream-connections N  GATEWAY_UPSTREAM_CONNECTIONS (default: the gateway's own default)
  --gateway-node-options=S  NODE_OPTIONS for the gateway process only (say, V8 heap flags), to measure their
                         effect; give it with "=", as its value starts with a dash
  --call-deadline S      grpc-timeout of each call (default 10)
  --gateway-entry PATH   the gateway's entry, relative to the repository (default services/gateway/src/main.ts;
                         another entry measures a candidate change with everything else equal)
  --candidate-entry PATH a second gateway, started from this entry beside the first, measured in the same
                         run (phases cand-h1, cand-h2; the default order becomes direct,web-h1,cand-h1,
                         web-h2,cand-h2). For A/B comparisons that the machine's drift between runs would hide.
  --candidate-node-options=S  NODE_OPTIONS for the candidate gateway instead of the gateway's (say, V8 heap
                         flags); without --candidate-entry the candidate runs the gateway's own entry
  --profile              CPU-profile the gateway during the measured windows of its phases
                         (starts it through bench/lib/gateway-profiled.ts; adds sampling overhead)
  --keep-db              leave the database coursereg_bench_gw after the run (dropped by default)
  --strict               exit 2 when the 0.6x target is missed
`;

const TARGET_RATIO = 0.6;
const ALL_TARGETS: GatewayTarget[] = ['direct', 'web-h1', 'web-h2', 'bare-h1', 'bare-h2', 'cand-h1', 'cand-h2'];
const DEFAULT_ORDER: GatewayTarget[] = ['direct', 'web-h1', 'bare-h1', 'web-h2', 'bare-h2'];
/** Phases measured for reference only: reported with their ratio, never checked against the target. */
const BARE_TARGETS: ReadonlySet<GatewayTarget> = new Set(['bare-h1', 'bare-h2']);
const CANDIDATE_TARGETS: ReadonlySet<GatewayTarget> = new Set(['cand-h1', 'cand-h2']);
const REFERENCE_TARGETS: ReadonlySet<GatewayTarget> = new Set([...BARE_TARGETS, ...CANDIDATE_TARGETS]);
const COURSE_SERVICE = 'coursereg.course.v1.CourseService';
const MEASURED_ROUTE = 'course-reads';

interface Settings {
  seconds: number;
  warmup: number;
  rounds: number;
  order: GatewayTarget[];
  concurrency: number;
  clientProcs: number;
  h2Connections: number;
  h1Sockets?: number;
  tokens: number;
  pageSize: number;
  addressLimit: number;
  localLimit?: number;
  /** GATEWAY_UPSTREAM_CONNECTIONS for the gateway, its candidate and the bare proxy. */
  upstreamConnections: number;
  gatewayNodeOptions?: string;
  callDeadlineS: number;
  gatewayEntry: string;
  candidateEntry?: string;
  candidateNodeOptions?: string;
  profile: boolean;
  keepDb: boolean;
  strict: boolean;
}

class UsageError extends Error {}

function parseSettings(argv: string[]): Settings {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        seconds: { type: 'string', default: '4' },
        warmup: { type: 'string', default: '1' },
        rounds: { type: 'string', default: '5' },
        order: { type: 'string' },
        concurrency: { type: 'string', default: '64' },
        'client-procs': { type: 'string', default: '1' },
        'h2-connections': { type: 'string', default: '2' },
        'h1-sockets': { type: 'string' },
        tokens: { type: 'string', default: '2000' },
        'page-size': { type: 'string', default: '10' },
        'address-limit': { type: 'string', default: '10000000' },
        'local-limit': { type: 'string', default: 'keep' },
        'gateway-entry': { type: 'string', default: 'services/gateway/src/main.ts' },
        'candidate-entry': { type: 'string' },
        'candidate-node-options': { type: 'string' },
        'upstream-connections': { type: 'string' },
        'gateway-node-options': { type: 'string' },
        'call-deadline': { type: 'string', default: '10' },
        profile: { type: 'boolean', default: false },
        'keep-db': { type: 'boolean', default: false },
        strict: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const num = (name: string, v: string | undefined, min: number, max: number, int = true): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < min || n > max || (int && !Number.isInteger(n))) {
      throw new UsageError(`--${name} must be ${int ? 'an integer' : 'a number'} from ${min} to ${max}\n\n${USAGE}`);
    }
    return n;
  };
  const candidateNodeOptions = values['candidate-node-options'];
  const candidateEntry = values['candidate-entry'] ?? (candidateNodeOptions !== undefined ? values['gateway-entry']! : undefined);
  let order: GatewayTarget[];
  if (values.order !== undefined) order = values.order.split(',').map((s) => s.trim()).filter(Boolean) as GatewayTarget[];
  else if (candidateEntry !== undefined) order = ['direct', 'web-h1', 'cand-h1', 'web-h2', 'cand-h2'];
  else order = DEFAULT_ORDER;
  for (const t of order) if (!ALL_TARGETS.includes(t)) throw new UsageError(`--order: unknown phase "${t}" (${ALL_TARGETS.join(', ')})\n\n${USAGE}`);
  if (order.some((t) => CANDIDATE_TARGETS.has(t)) && candidateEntry === undefined) throw new UsageError(`--order: cand-h1 and cand-h2 need --candidate-entry\n\n${USAGE}`);
  if (!order.includes('direct')) throw new UsageError(`--order must include direct (the ratios are against it)\n\n${USAGE}`);
  const s: Settings = {
    seconds: num('seconds', values.seconds, 1, 3600, false),
    warmup: num('warmup', values.warmup, 0, 600, false),
    rounds: num('rounds', values.rounds, 1, 100),
    order,
    concurrency: num('concurrency', values.concurrency, 1, 10_000),
    clientProcs: num('client-procs', values['client-procs'], 1, 16),
    h2Connections: num('h2-connections', values['h2-connections'], 1, 64),
    h1Sockets: values['h1-sockets'] === undefined ? undefined : num('h1-sockets', values['h1-sockets'], 1, 10_000),
    tokens: num('tokens', values.tokens, 1, 100_000),
    pageSize: num('page-size', values['page-size'], 1, 500),
    addressLimit: num('address-limit', values['address-limit'], 1, 1e12),
    localLimit: values['local-limit'] === 'keep' ? undefined : num('local-limit', values['local-limit'], 1, 1e9),
    upstreamConnections: values['upstream-connections'] === undefined ? DEFAULT_UPSTREAM_CONNECTIONS : num('upstream-connections', values['upstream-connections'], 1, 64),
    gatewayNodeOptions: values['gateway-node-options'],
    callDeadlineS: num('call-deadline', values['call-deadline'], 0.1, 3600, false),
    gatewayEntry: values['gateway-entry']!,
    candidateEntry,
    candidateNodeOptions,
    profile: values.profile!,
    keepDb: values['keep-db']!,
    strict: values.strict!,
  };
  if (s.profile && s.gatewayEntry !== 'services/gateway/src/main.ts') throw new UsageError(`--profile runs the gateway through bench/lib/gateway-profiled.ts; it cannot be combined with --gateway-entry\n\n${USAGE}`);
  if (s.clientProcs > s.concurrency) throw new UsageError(`--client-procs cannot exceed --concurrency\n\n${USAGE}`);
  if (s.tokens < s.clientProcs) throw new UsageError(`--tokens must be at least --client-procs\n\n${USAGE}`);
  return s;
}

const log = (msg: string) => console.log(`[gateway-bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);

/** A client process with a queue of the messages it sent, so the orchestrator can wait for one type. */
class ClientProc {
  private readonly waiting = new Map<string, Array<(m: any) => void>>();
  private readonly inbox = new Map<string, any[]>();
  private exitError?: Error;

  constructor(readonly child: Child) {
    child.proc.on('message', (m: { type: string }) => {
      const w = this.waiting.get(m.type);
      if (w && w.length) w.shift()!(m);
      else this.inbox.set(m.type, [...(this.inbox.get(m.type) ?? []), m]);
    });
    child.proc.once('exit', (code, sig) => {
      this.exitError = new Error(`${child.name} exited (${sig ?? code}); see ${child.logFile}`);
      for (const list of this.waiting.values()) list.length = 0;
    });
  }

  get pid(): number | undefined {
    return this.child.proc.pid;
  }

  send(m: ParentMsg): void {
    this.child.proc.send(m);
  }

  next<T>(type: string, timeoutMs = 120_000): Promise<T> {
    const queued = this.inbox.get(type);
    if (queued && queued.length) return Promise.resolve(queued.shift() as T);
    if (this.exitError) return Promise.reject(this.exitError);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.child.name}: no "${type}" within ${timeoutMs / 1000} s; see ${this.child.logFile}`)), timeoutMs);
      const onExit = () => {
        clearTimeout(timer);
        reject(this.exitError ?? new Error(`${this.child.name} exited`));
      };
      this.child.proc.once('exit', onExit);
      this.waiting.set(type, [
        ...(this.waiting.get(type) ?? []),
        (m: T) => {
          clearTimeout(timer);
          this.child.proc.off('exit', onExit);
          resolve(m);
        },
      ]);
    });
  }
}

/** Reads the gateway's request and rate-limit counters from its metrics endpoint. */
function scrapeGatewayCounters(port: number): Promise<Map<string, number>> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        const out = new Map<string, number>();
        for (const line of text.split('\n')) {
          const m = /^coursereg_gateway_(requests_total|rate_limited_total)\{([^}]*)\}\s+(\S+)/.exec(line);
          if (!m) continue;
          const labels = Object.fromEntries([...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
          const key = m[1] === 'requests_total' ? `requests ${labels.route}/${labels.protocol}/${labels.code}` : `limited ${labels.limit}`;
          out.set(key, (out.get(key) ?? 0) + Number(m[3]));
        }
        resolve(out);
      });
    });
    req.on('error', () => resolve(new Map()));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

interface CpuSnapshot {
  gateway: number;
  /** The bare reference proxy (0 without a bare-* phase). */
  bare: number;
  /** The candidate gateway (0 without --candidate-entry). */
  candidate: number;
  course: number;
  clients: number;
  /** Every process on the machine by pid (includes the ones above). */
  all: Map<number, { comm: string; cpu: number }>;
  machine: number;
  self: NodeJS.CpuUsage;
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function latencyOf(samples: number[]): Latency {
  const sorted = Float64Array.from(samples).sort();
  const arr = Array.from(sorted);
  return {
    p50: percentile(arr, 0.5),
    p95: percentile(arr, 0.95),
    p99: percentile(arr, 0.99),
    mean: arr.length ? arr.reduce((a, b) => a + b, 0) / arr.length : NaN,
    max: arr.length ? arr[arr.length - 1] : NaN,
  };
}

const addInto = (to: Record<string, number>, from: Record<string, number>) => {
  for (const [k, v] of Object.entries(from)) to[k] = (to[k] ?? 0) + v;
  return to;
};

/** This process's NODE_OPTIONS with `extra` after them, for one child gateway. */
function withNodeOptions(extra: string): string {
  return [process.env.NODE_OPTIONS, extra].filter(Boolean).join(' ');
}

/**
 * What the rounds say about the target on their own: their mean ratio with its 95% interval,
 * and whether the target lies under, inside or over it. Inside means this run cannot tell the
 * path apart from the target, whichever way the verdict on the summed calls/s went.
 */
function roundsVerdict(ratios: number[]): string {
  const i = meanInterval95(ratios);
  if (!i) return '';
  const where = placeAgainst(i, TARGET_RATIO);
  const says = where === 'inside' ? `${TARGET_RATIO}x is inside it: this run cannot tell the two apart` : where === 'below' ? `${TARGET_RATIO}x is under it` : `${TARGET_RATIO}x is over it`;
  return `; mean of the rounds ${i.mean.toFixed(3)}x, 95% interval ${i.low.toFixed(2)}-${i.high.toFixed(2)}x: ${says}`;
}

/** For each round, `figure` of `target`'s phase over `figure` of `against`'s phase in the same round. */
function byRound(phases: PhaseFigures[], rounds: number, target: GatewayTarget, against: GatewayTarget, figure: (p: PhaseFigures) => number): number[] {
  return Array.from({ length: rounds }, (_, i) => {
    const of = (t: GatewayTarget) => figure(phases.find((p) => p.round === i + 1 && p.target === t)!);
    return of(target) / of(against);
  });
}

async function main(): Promise<void> {
  const s = parseSettings(process.argv.slice(2));
  const startedAt = new Date();
  const runName = `gateway-${startedAt.toISOString().replace(/[:.]/g, '-')}`;
  const dir = join(RESULTS_DIR, 'runs', runName);
  const profileDir = join(dir, 'profile');
  mkdirSync(dir, { recursive: true });
  const loadBefore = loadavg();
  const perProc = Array.from({ length: s.clientProcs }, (_, i) => Math.floor(s.concurrency / s.clientProcs) + (i < s.concurrency % s.clientProcs ? 1 : 0));
  const h1Sockets = s.h1Sockets ?? Math.max(...perProc);
  const students = Math.max(s.tokens, 100);

  log(`${cpus().length} CPUs, node ${process.version}; load average ${loadBefore.map((x) => x.toFixed(2)).join(' ')}`);
  log(`seeding ${new URL(gatewayBenchConfig.databaseUrl).pathname.slice(1)} (${students} students) and emptying the Redis prefix ${gatewayBenchConfig.redisKeyPrefix}`);
  const world = await createGatewayWorld(students);
  log(`seeded term ${world.termCode}: ${world.courses} courses, ${world.studentIds.length} students`);

  const rateLimits = writeRateLimitCopy(dir, s.addressLimit);
  const envoy = writeEnvoyCopy(dir, MEASURED_ROUTE, s.localLimit);
  const [coursePort, gatewayPort, gatewayMetricsPort, unusedStudentPort, unusedRegistrationPort, candidatePort, candidateMetricsPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const addr = (p: number) => `127.0.0.1:${p}`;
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    LOG_LEVEL: gatewayBenchConfig.logLevel,
    DATABASE_URL: world.databaseUrl,
    REDIS_URL: gatewayBenchConfig.redisUrl,
    REDIS_KEY_PREFIX: gatewayBenchConfig.redisKeyPrefix,
    JWT_JWKS_FILE: world.jwksFile,
    JWT_PRIVATE_KEY_FILE: world.privateKeyFile,
    SHUTDOWN_GRACE_MS: '3000',
    COURSE_GRPC_ADDR: addr(coursePort),
    COURSE_METRICS_PORT: '0',
  };
  const gatewayEnv: Record<string, string> = {
    ...env,
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: String(gatewayPort),
    GATEWAY_METRICS_PORT: String(gatewayMetricsPort),
    COURSE_SERVICE_ADDR: addr(coursePort),
    // Nothing listens there: the benchmark only calls the course service, and these
    // keep the gateway's health checks away from whatever runs on the default ports.
    STUDENT_SERVICE_ADDR: addr(unusedStudentPort),
    REGISTRATION_SERVICE_ADDR: addr(unusedRegistrationPort),
    ENVOY_CONFIG_FILE: envoy.file,
    RATELIMIT_CONFIG_FILE: rateLimits.file,
    WEB_DIST_DIR: join(dir, 'no-web-client'),
    GATEWAY_DEV_TOKENS: 'false',
    GATEWAY_UPSTREAM_CONNECTIONS: String(s.upstreamConnections),
  };
  if (s.gatewayNodeOptions !== undefined) gatewayEnv.NODE_OPTIONS = withNodeOptions(s.gatewayNodeOptions);

  const phases: PhaseFigures[] = [];
  const samples = new Map<GatewayTarget, number[]>();
  const profileFiles: string[] = [];
  const notes: string[] = [];
  let course: Child | undefined;
  let gateway: Child | undefined;
  let bare: ClientProc | undefined;
  let barePid = -1;
  let candidate: Child | undefined;
  let candidatePid = -1;
  const clients: ClientProc[] = [];
  let primeSummary = '';
  let gatewayPid = -1;
  let coursePid = -1;
  let clientPids: number[] = [];
  try {
    log(`starting the course service at ${env.COURSE_GRPC_ADDR}`);
    course = startTs('course', 'services/course/src/main.ts', env, dir);
    await waitHealthy(course, env.COURSE_GRPC_ADDR, COURSE_SERVICE);

    log(`starting the gateway at ${addr(gatewayPort)}${s.profile ? ' (with the CPU profiler, bench/lib/gateway-profiled.ts)' : s.gatewayEntry !== 'services/gateway/src/main.ts' ? ` from ${s.gatewayEntry}` : ''}`);
    gateway = startTs('gateway', s.profile ? 'bench/lib/gateway-profiled.ts' : s.gatewayEntry, gatewayEnv, dir, { ipc: s.profile });
    if ((await waitMetricsOrSettled(gateway, gatewayMetricsPort, 60_000)) !== 'metrics') throw new Error(`the gateway did not serve metrics on ${gatewayMetricsPort}; see ${gateway.logFile}`);
    const gatewayProc = gateway;
    gatewayPid = gateway.proc.pid ?? -1;
    coursePid = course.proc.pid ?? -1;
    const gatewayIpc = s.profile ? new ClientProc(gatewayProc) : undefined;
    let candidateAddr: string | undefined;
    if (s.candidateEntry !== undefined) {
      log(`starting the candidate gateway at ${addr(candidatePort)} from ${s.candidateEntry}`);
      const candidateEnv: Record<string, string> = { ...gatewayEnv, GATEWAY_PORT: String(candidatePort), GATEWAY_METRICS_PORT: String(candidateMetricsPort) };
      if (s.candidateNodeOptions !== undefined) candidateEnv.NODE_OPTIONS = withNodeOptions(s.candidateNodeOptions);
      candidate = startTs('candidate', s.candidateEntry, candidateEnv, dir);
      if ((await waitMetricsOrSettled(candidate, candidateMetricsPort, 60_000)) !== 'metrics') throw new Error(`the candidate gateway did not serve metrics on ${candidateMetricsPort}; see ${candidate.logFile}`);
      candidateAddr = addr(candidatePort);
      candidatePid = candidate.proc.pid ?? -1;
    }
    let bareAddr: string | undefined;
    let bareH1Addr: string | undefined;
    if (s.order.some((t) => BARE_TARGETS.has(t))) {
      bare = new ClientProc(startTs('bare-proxy', 'bench/lib/bare-proxy.ts', { COURSE_SERVICE_ADDR: addr(coursePort), BARE_PROXY_PORT: '0', BARE_PROXY_CONNECTIONS: String(s.upstreamConnections) }, dir, { ipc: true }));
      const { port, h1Port } = await bare.next<{ port: number; h1Port: number }>('ready', 60_000);
      bareAddr = addr(port);
      bareH1Addr = addr(h1Port);
      barePid = bare.pid ?? -1;
      log(`started the bare reference proxy (bench/lib/bare-proxy.ts) at ${bareAddr} (HTTP/2) and ${bareH1Addr} (HTTP/1.1)`);
    }

    log(`signing ${s.tokens} student tokens with the bench dev key`);
    const signer = await TokenSigner.fromFile(world.privateKeyFile, 'coursereg', 'coursereg');
    const tokens: string[] = [];
    for (let i = 0; i < s.tokens; i++) tokens.push(`Bearer ${await signer.sign(world.studentIds[i % world.studentIds.length], 'student', 4 * 3600)}`);

    for (let i = 0; i < s.clientProcs; i++) {
      const from = Math.floor((i * tokens.length) / s.clientProcs);
      const to = Math.floor(((i + 1) * tokens.length) / s.clientProcs);
      const plan: GatewayClientPlan = {
        index: i,
        directAddr: env.COURSE_GRPC_ADDR,
        gatewayAddr: addr(gatewayPort),
        bareAddr,
        bareH1Addr,
        candidateAddr,
        tokens: tokens.slice(from, to),
        concurrency: perProc[i],
        h2Connections: s.h2Connections,
        h1Sockets,
        pageSize: s.pageSize,
        callDeadlineMs: s.callDeadlineS * 1000,
      };
      const planFile = join(dir, `client-${i}.plan.json`);
      writeFileSync(planFile, JSON.stringify(plan));
      clients.push(new ClientProc(startTs(`client-${i}`, 'bench/gateway-client.ts', {}, dir, { ipc: true, args: [planFile] })));
    }
    await Promise.all(clients.map((c) => c.next('ready', 60_000)));
    clientPids = clients.map((c) => c.pid ?? -1);

    // Each token once on each path, unmeasured: both caches of verified tokens are warm before the clock starts.
    const primeCodes: Record<string, Record<string, number>> = {};
    for (const target of ['direct', 'web-h2', ...(candidateAddr ? ['cand-h2'] : [])] as GatewayTarget[]) {
      for (const c of clients) c.send({ type: 'prime', target });
      const got = await Promise.all(clients.map((c) => c.next<{ codes: Record<string, number> }>('primed', 300_000)));
      primeCodes[target] = got.reduce((acc, g) => addInto(acc, g.codes), {} as Record<string, number>);
    }
    primeSummary = Object.entries(primeCodes)
      .map(([t, c]) => `${t}: ${Object.entries(c).map(([k, v]) => `${k} ${v}`).join(', ')}`)
      .join('; ');
    log(`primed every token on each path (${primeSummary})`);
    const primeFailures = Object.entries(primeCodes).filter(([, c]) => Object.keys(c).some((k) => k !== 'OK'));
    if (primeFailures.length) notes.push(`priming (every token once per path, before measuring) had non-OK answers: ${primeSummary}`);
    if (Object.values(primeCodes).every((c) => !c.OK)) throw new Error(`no OK answer while priming (${primeSummary}); see the logs in ${relative(ROOT, dir)}`);

    const snapshot = (): CpuSnapshot => ({
      gateway: cpuSecondsOf(gatewayProc.proc.pid),
      bare: cpuSecondsOf(bare?.pid),
      candidate: cpuSecondsOf(candidate?.proc.pid),
      course: cpuSecondsOf(course!.proc.pid),
      clients: clients.reduce((a, c) => a + cpuSecondsOf(c.pid), 0),
      all: cpuByCommand(),
      machine: machineBusySeconds(),
      self: process.cpuUsage(),
    });

    for (let round = 1; round <= s.rounds; round++) {
      for (const target of s.order) {
        for (const c of clients) c.send({ type: 'prepare', target });
        const prepared = await Promise.all(clients.map((c) => c.next('prepared', 60_000)));
        void prepared;
        const metricsPort = CANDIDATE_TARGETS.has(target) ? candidateMetricsPort : gatewayMetricsPort;
        const before = await scrapeGatewayCounters(metricsPort);
        for (const c of clients) c.send({ type: 'go' });
        await sleep(s.warmup * 1000);
        const profiled = gatewayIpc !== undefined && target !== 'direct' && !REFERENCE_TARGETS.has(target);
        if (profiled) {
          gatewayIpc!.send({ type: 'profile-start' } as unknown as ParentMsg);
          await gatewayIpc!.next('profile-started', 30_000);
        }
        const c0 = snapshot();
        for (const c of clients) c.send({ type: 'mark-start' });
        await sleep(s.seconds * 1000);
        const c1 = snapshot();
        for (const c of clients) c.send({ type: 'mark-end' });
        let profileFile: string | undefined;
        if (profiled) {
          mkdirSync(profileDir, { recursive: true });
          profileFile = join(profileDir, `gateway-r${round}-${target}.cpuprofile`);
          gatewayIpc!.send({ type: 'profile-stop', file: profileFile } as unknown as ParentMsg);
        }
        const results = (await Promise.all(clients.map((c) => c.next<{ result: PhaseResult }>('result', 120_000)))).map((m) => m.result);
        if (profiled) {
          await gatewayIpc!.next('profile-written', 120_000);
          profileFiles.push(profileFile!);
        }
        const after = await scrapeGatewayCounters(metricsPort);
        const figures = phaseFigures(round, target, results, c0, c1, before, after);
        phases.push(figures);
        samples.set(target, [...(samples.get(target) ?? []), ...results.flatMap((r) => r.latenciesMs)]);
        log(
          `round ${round} ${target.padEnd(6)}: ${figures.callsPerSecond.toFixed(0)} calls/s, p50 ${figures.latencyMs.p50.toFixed(1)} ms, p99 ${figures.latencyMs.p99.toFixed(1)} ms, ` +
            `errors ${figures.errors}; CPU s gateway ${figures.cpu.gateway.toFixed(2)}, course ${figures.cpu.course.toFixed(2)}, clients ${figures.cpu.clients.toFixed(2)}, other ${figures.cpu.other.toFixed(2)}`,
        );
      }
    }
  } finally {
    for (const c of clients) {
      try {
        c.send({ type: 'exit' });
      } catch {
        // Already gone.
      }
    }
    await Promise.all([
      ...clients.map((c) => stop(c.child, 3000)),
      ...(gateway ? [stop(gateway)] : []),
      ...(candidate ? [stop(candidate)] : []),
      ...(bare ? [stop(bare.child)] : []),
      ...(course ? [stop(course)] : []),
    ]);
    if (s.keepDb) {
      await flushPrefix();
      log(`kept the database ${new URL(gatewayBenchConfig.databaseUrl).pathname.slice(1)} (--keep-db); emptied the Redis prefix`);
    } else {
      await dropGatewayWorld();
      log(`dropped the database ${new URL(gatewayBenchConfig.databaseUrl).pathname.slice(1)} and emptied the Redis prefix`);
    }
  }

  // Per path, over all rounds.
  const summary: TargetSummary[] = [];
  for (const target of s.order) {
    const ps = phases.filter((p) => p.target === target);
    const windowSeconds = ps.reduce((a, p) => a + p.windowSeconds, 0);
    const ok = ps.reduce((a, p) => a + p.ok, 0);
    const cpu = ps.reduce<CpuSplit>(
      (a, p) => {
        for (const k of Object.keys(a) as (keyof CpuSplit)[]) a[k] += p.cpu[k];
        return a;
      },
      { gateway: 0, course: 0, clients: 0, redis: 0, postgres: 0, orchestrator: 0, machine: 0, other: 0 },
    );
    const codes = ps.reduce((a, p) => addInto(a, p.codes), {} as Record<string, number>);
    summary.push({
      target,
      phases: ps.length,
      windowSeconds,
      ok,
      callsPerSecond: ps.reduce((a, p) => a + p.callsPerSecond * p.windowSeconds, 0) / windowSeconds,
      latencyMs: latencyOf(samples.get(target) ?? []),
      errors: ps.reduce((a, p) => a + p.errors, 0),
      codes,
      cpu,
      cpuMsPerCall: { gateway: (cpu.gateway * 1000) / ok, course: (cpu.course * 1000) / ok, clients: (cpu.clients * 1000) / ok, redis: (cpu.redis * 1000) / ok },
    });
  }
  const direct = summary.find((x) => x.target === 'direct')!;
  for (const x of summary) {
    if (x.target === 'direct') continue;
    x.ratioToDirect = x.callsPerSecond / direct.callsPerSecond;
    x.ratioByRound = byRound(phases, s.rounds, x.target, 'direct', (p) => p.callsPerSecond);
  }
  const errorsByCode = phases.reduce((a, p) => addInto(a, Object.fromEntries(Object.entries(p.codes).filter(([k]) => k !== 'OK'))), {} as Record<string, number>);
  const totalErrors = Object.values(errorsByCode).reduce((a, b) => a + b, 0);
  const targets = summary
    .filter((x) => x.target !== 'direct' && !REFERENCE_TARGETS.has(x.target))
    .map((x) => ({
      name: `${TARGET_TITLES[x.target]}: calls/s >= ${TARGET_RATIO}x direct`,
      required: `>= ${TARGET_RATIO.toFixed(2)}x`,
      // Three decimals, so that a ratio just under the line never prints as 0.60x beside MISSED.
      measured: `${x.ratioToDirect!.toFixed(3)}x (rounds: ${x.ratioByRound!.map((r) => r.toFixed(2)).join(', ')})${roundsVerdict(x.ratioByRound!)}`,
      pass: x.ratioToDirect! >= TARGET_RATIO && x.errors === 0,
    }));

  const gwPhases = phases.filter((p) => p.target !== 'direct' && !REFERENCE_TARGETS.has(p.target));
  const perToken = Math.max(0, ...gwPhases.map((p) => p.callsPerSecondPerToken));
  // x-ratelimit-limit is Envoy's draft-03 form, the tightest limit first: "20, 20;w=1, 10000000;w=1".
  const studentLimit = String(rateLimits.limits.student ?? '-');
  const studentHeader = gwPhases.reduce((a, p) => a + Object.entries(p.rateLimitHeader).reduce((n, [v, c]) => n + (v.split(',')[0].trim() === studentLimit ? c : 0), 0), 0);
  const gwAnswers = gwPhases.reduce((a, p) => a + p.answers, 0);
  const failedOpen = gwPhases.reduce((a, p) => a + (p.gatewayLimited.store_failed_open ?? 0), 0);
  const limitedAny = gwPhases.reduce((a, p) => a + Object.entries(p.gatewayLimited).filter(([k]) => k !== 'store_failed_open').reduce((b, [, v]) => b + v, 0), 0);
  const model = cpus()[0]?.model ?? 'unknown';
  const conditions = [
    `one machine, ${cpus().length} CPUs shared by everything: the gateway, the course service, ${s.clientProcs} client process(es), the orchestrator (idle while measuring), Redis and PostgreSQL (shared with any other work on the machine: see the "other" CPU column)`,
    `the course service (services/course/src/main.ts) answers ListCourses from its Redis catalog cache; data from scripts/seed/run.ts seed() (${world.courses} courses, ${world.studentIds.length} students) in database ${new URL(gatewayBenchConfig.databaseUrl).pathname.slice(1)}, Redis prefix ${gatewayBenchConfig.redisKeyPrefix}`,
    `the gateway (services/gateway/src/main.ts${s.profile ? ', started through bench/lib/gateway-profiled.ts for --profile' : ''}) reads envoy.yaml ${envoy.changes.length ? `copied with one change: ${envoy.changes.join('; ')}` : 'as it is (copied unchanged)'}; the course-reads route's local token bucket: ${envoy.bucket.tokensPerFill} tokens per ${envoy.bucket.fillInterval}, max ${envoy.bucket.maxTokens}`,
    `rate limits: envoy/ratelimit/config.yaml copied with ${rateLimits.changes.join('; ')} (all bench traffic comes from 127.0.0.1); the per-student limit stays ${studentLimit}/s and is checked in Redis on every gateway call; checks wait up to GATEWAY_RATELIMIT_PIPELINE_WINDOW_MS = ${process.env.GATEWAY_RATELIMIT_PIPELINE_WINDOW_MS ?? '1 (the default)'} ms for each other, to share one Redis write`,
    `${s.tokens} student tokens (ES256, signed with the bench dev key in ${relative(ROOT, gatewayBenchConfig.keysDir)}), used round robin: at most ${perToken.toFixed(2)} calls/s per token on average in any gateway phase; ${fmtInt(studentHeader)} of ${fmtInt(gwAnswers)} gateway answers in the windows carried x-ratelimit-limit: ${studentLimit} (the per-student limit was checked and was the tightest); gateway rate-limit refusals: ${limitedAny}; limit checks that failed open: ${failedOpen}`,
    `every token was used once on each path before measuring (${primeSummary}), so the gateway's and the service's caches of verified tokens are warm; each phase has a ${s.warmup} s warm-up on fresh connections before its ${s.seconds} s window`,
    `load: ${s.concurrency} calls in flight (closed loop) from ${s.clientProcs} client process(es) (bench/gateway-client.ts); direct and web-h2 use the same HTTP/2 client (bench/lib/h2grpc.ts) with ${s.h2Connections} connection(s) per process, differing only in content-type (application/grpc vs application/grpc-web+proto); web-h1 uses an undici Pool of ${h1Sockets} keep-alive sockets per process, one call per socket at a time (bench/lib/grpcweb-h1.ts), sending content-type application/grpc-web+proto, x-grpc-web: 1, x-user-agent, grpc-timeout and authorization, and no Origin (so no CORS headers)`,
    `the gateway keeps ${s.upstreamConnections} HTTP/2 connection(s) to the course service (GATEWAY_UPSTREAM_CONNECTIONS); its student and registration clusters point at unused ports (their health checks fail and their circuits open; no bench call goes there)`,
    `calls/s counts OK answers with a full page (compared byte for byte with the first answer) that arrived in the window; latency is from the client sending to the whole answer; ratios compare calls/s summed over all rounds, and per round against the direct phase of the same round`,
    `child services run with NODE_ENV=production, LOG_LEVEL=${gatewayBenchConfig.logLevel}; the database is ${s.keepDb ? 'kept (--keep-db)' : 'dropped at the end'}`,
  ];
  if (s.order.some((t) => BARE_TARGETS.has(t))) {
    conditions.push(
      `bare-h1 and bare-h2 are references, not targets: the web-h1 and web-h2 clients against bench/lib/bare-proxy.ts, a bare Node proxy (HTTP/1.1 and HTTP/2 servers) with ${s.upstreamConnections} HTTP/2 connection(s) to the course service that only turns gRPC-web into gRPC and back (no JWT, limits, breaker, retries, deadlines or metrics); in those phases the "gateway" CPU columns are the bare proxy's`,
    );
  }
  if (s.candidateEntry !== undefined) {
    conditions.push(
      `cand-h1 and cand-h2 are a second gateway started from ${s.candidateEntry} with the same environment (other ports${s.candidateNodeOptions !== undefined ? `; NODE_OPTIONS ${s.candidateNodeOptions} instead of the gateway's` : ''}), driven exactly as web-h1 and web-h2; both gateways count limits in the same Redis keys, one phase at a time; in those phases the "gateway" CPU columns are the candidate's`,
    );
    for (const [main, cand] of [['web-h1', 'cand-h1'], ['web-h2', 'cand-h2']] as const) {
      const m = summary.find((x) => x.target === main);
      const c = summary.find((x) => x.target === cand);
      if (!m || !c) continue;
      const cpuByRound = byRound(phases, s.rounds, cand, main, (p) => p.cpuMsPerCall.gateway);
      notes.push(
        `candidate against gateway, ${main.slice(4).toUpperCase()}: calls/s ${(c.callsPerSecond / m.callsPerSecond).toFixed(2)}x; gateway CPU per call ${(c.cpuMsPerCall.gateway / m.cpuMsPerCall.gateway).toFixed(2)}x (${c.cpuMsPerCall.gateway.toFixed(3)} vs ${m.cpuMsPerCall.gateway.toFixed(3)} ms; by round ${cpuByRound.map((r) => r.toFixed(2)).join(', ')})`,
      );
    }
  }
  if (phases.some((p) => p.differentBodies > 0)) notes.push(`${phases.reduce((a, p) => a + p.differentBodies, 0)} OK answers differed byte for byte from the first answer but still held a full page`);
  if (failedOpen > 0) notes.push(`${failedOpen} gateway rate-limit checks failed open (Redis slower than the 50 ms limit timeout): those calls skipped the per-student check, which flatters the gateway`);
  const busy = phases.map((p) => p.cpu.other / p.windowSeconds);
  if (Math.max(...busy) > 0.25) {
    const byCommand = phases.reduce((a, p) => addInto(a, p.otherByCommand), {} as Record<string, number>);
    const top = Object.entries(byCommand)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
      .join(', ');
    notes.push(
      `other work on the machine used up to ${Math.max(...busy).toFixed(2)} CPU cores during some windows (mean ${(busy.reduce((a, b) => a + b, 0) / busy.length).toFixed(2)}; by command over all windows: ${top || 'processes that ended before the window closed'}): absolute figures are noisy; compare the ratios of one run, and the CPU per call`,
    );
  }

  let profile: GatewayReport['profile'];
  if (profileFiles.length) {
    profile = { ...summarizeProfiles(profileFiles, 40), note: `sampled every 1 ms during the ${profileFiles.length} measured gateway windows; the CPU figures of those phases include the profiler's overhead; raw profiles in ${relative(ROOT, profileDir)} (open in Chrome DevTools; positions mapped to the .ts sources)` };
  } else if (s.profile) {
    notes.push(`--profile: no profile was written (${readdirSafe(profileDir)})`);
  }

  const report: GatewayReport = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, model, node: process.version, platform: `${process.platform}-${process.arch}`, loadAverageBefore: loadBefore, loadAverageAfter: loadavg() },
    settings: {
      seconds: s.seconds,
      warmupSeconds: s.warmup,
      rounds: s.rounds,
      order: s.order,
      concurrency: s.concurrency,
      clientProcesses: s.clientProcs,
      callsInFlightPerProcess: perProc,
      h2ConnectionsPerProcess: s.h2Connections,
      h1SocketsPerProcess: h1Sockets,
      tokens: s.tokens,
      pageSize: s.pageSize,
      addressLimitPerSecond: s.addressLimit,
      localTokenBucket: envoy.bucket,
      upstreamConnections: s.upstreamConnections,
      callDeadlineSeconds: s.callDeadlineS,
      profile: s.profile,
      ports: { course: coursePort, gateway: gatewayPort, gatewayMetrics: gatewayMetricsPort },
      database: new URL(gatewayBenchConfig.databaseUrl).pathname.slice(1),
      redisKeyPrefix: gatewayBenchConfig.redisKeyPrefix,
      rateLimitFile: relative(ROOT, rateLimits.file),
      envoyFile: relative(ROOT, envoy.file),
    },
    conditions,
    phases,
    summary,
    targets,
    errors: { total: totalErrors, byCode: errorsByCode },
    profile,
    notes,
  };

  const text = renderText(report);
  console.log(text);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const jsonFile = join(RESULTS_DIR, `${runName}.json`);
  const mdFile = join(RESULTS_DIR, `${runName}.md`);
  writeFileSync(jsonFile, JSON.stringify(report, null, 2));
  writeFileSync(mdFile, renderMarkdown(report));
  console.log(`\nwrote ${relative(ROOT, jsonFile)} and ${relative(ROOT, mdFile)} (logs, configs${profileFiles.length ? ', profiles' : ''} in ${relative(ROOT, dir)})`);

  if (totalErrors > 0) process.exitCode = 1;
  else if (s.strict && targets.some((t) => !t.pass)) process.exitCode = 2;

  function phaseFigures(round: number, target: GatewayTarget, results: PhaseResult[], c0: CpuSnapshot, c1: CpuSnapshot, before: Map<string, number>, after: Map<string, number>): PhaseFigures {
    const windowSeconds = results.reduce((a, r) => a + r.windowMs, 0) / results.length / 1000;
    const ok = results.reduce((a, r) => a + r.ok, 0);
    const answers = results.reduce((a, r) => a + r.answers, 0);
    const codes = results.reduce((a, r) => addInto(a, r.codes), {} as Record<string, number>);
    const ours = new Set([gatewayPid, barePid, candidatePid, coursePid, process.pid, ...clientPids]);
    const infra = (comm: string) => {
      let t = 0;
      for (const [pid, a] of c1.all) if (a.comm === comm && !ours.has(pid)) t += a.cpu - (c0.all.get(pid)?.cpu ?? 0);
      return t;
    };
    let otherProcesses = 0;
    const otherByCommand: Record<string, number> = {};
    for (const [pid, a] of c1.all) {
      if (ours.has(pid) || a.comm === 'redis-server' || a.comm === 'postgres') continue;
      const d = a.cpu - (c0.all.get(pid)?.cpu ?? 0);
      if (d <= 0) continue;
      otherProcesses += d;
      otherByCommand[a.comm] = Math.round(((otherByCommand[a.comm] ?? 0) + d) * 100) / 100;
    }
    const selfDelta = (c1.self.user + c1.self.system - c0.self.user - c0.self.system) / 1e6;
    const cpu: CpuSplit = {
      // The proxy the phase went through: the gateway, the candidate, or the bare reference proxy.
      gateway: BARE_TARGETS.has(target) ? c1.bare - c0.bare : CANDIDATE_TARGETS.has(target) ? c1.candidate - c0.candidate : c1.gateway - c0.gateway,
      course: c1.course - c0.course,
      clients: c1.clients - c0.clients,
      redis: infra('redis-server'),
      postgres: infra('postgres'),
      orchestrator: selfDelta,
      machine: c1.machine - c0.machine,
      other: 0,
    };
    // Per-process times are exact; the machine's busy time from /proc/stat is sampled at each tick and
    // misses short bursts, so "other" is the larger of the two estimates.
    cpu.other = Math.max(otherProcesses, cpu.machine - cpu.gateway - cpu.course - cpu.clients - cpu.redis - cpu.postgres - cpu.orchestrator);
    const gatewayCounted: Record<string, number> = {};
    const gatewayLimited: Record<string, number> = {};
    for (const [k, v] of after) {
      const d = v - (before.get(k) ?? 0);
      if (d <= 0) continue;
      if (k.startsWith('requests ')) gatewayCounted[k.slice(9)] = d;
      else gatewayLimited[k.slice(8)] = d;
    }
    const callsPerSecond = results.reduce((a, r) => a + r.ok / (r.windowMs / 1000), 0);
    return {
      round,
      target,
      windowSeconds,
      ok,
      answers,
      callsPerSecond,
      latencyMs: latencyOf(results.flatMap((r) => r.latenciesMs)),
      errors: answers - ok,
      codes,
      errorDetails: results.reduce((a, r) => addInto(a, r.errorDetails), {} as Record<string, number>),
      errorsOutsideWindow: Object.fromEntries(Object.entries(results.reduce((a, r) => addInto(a, r.codesOutside), {} as Record<string, number>)).filter(([k]) => k !== 'OK')),
      cpu,
      otherByCommand,
      cpuMsPerCall: { gateway: (cpu.gateway * 1000) / ok, course: (cpu.course * 1000) / ok, clients: (cpu.clients * 1000) / ok, redis: (cpu.redis * 1000) / ok },
      gatewayCounted,
      gatewayLimited,
      rateLimitHeader: results.reduce((a, r) => addInto(a, r.rateLimitHeader), {} as Record<string, number>),
      tokensUsed: results.reduce((a, r) => a + r.tokensUsed, 0),
      callsPerSecondPerToken: Math.max(...results.map((r, i) => r.answers / (r.windowMs / 1000) / Math.max(1, Math.min(r.tokensUsed, tokenShare(i))))),
      differentBodies: results.reduce((a, r) => a + r.differentBodies, 0),
      h1Sockets: target === 'web-h1' ? results.reduce((a, r) => a + (r.h1Sockets ?? 0), 0) : undefined,
      connectMs: Math.max(...results.map((r) => r.connectMs)),
    };
  }

  function tokenShare(i: number): number {
    return Math.floor(((i + 1) * s.tokens) / s.clientProcs) - Math.floor((i * s.tokens) / s.clientProcs);
  }
}

function fmtInt(n: number): string {
  return n.toLocaleString('en-US');
}

function readdirSafe(d: string): string {
  try {
    return readdirSync(d).join(', ') || 'empty directory';
  } catch {
    return 'no profile directory';
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof UsageError ? err.message : `gateway benchmark failed: ${(err as Error).stack ?? String(err)}`);
  killAll();
  process.exit(1);
});
