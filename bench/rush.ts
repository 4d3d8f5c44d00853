import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { analyze, countPending, readRows, type RunFigures } from './lib/analyze';
import { benchConfig, RESULTS_DIR, ROOT } from './lib/config';
import { checkSeatInvariants, seatsLeftWhileRejected } from './lib/invariants';
import { runPgbench, type PgbenchResult } from './lib/pgbench';
import { cpuByCommand, cpuDeltaByCommand, cpuSecondsOf, freePort, killAll, machineBusySeconds, sleep, startTs, stop, waitHealthy, waitMetricsOrSettled, type Child } from './lib/procs';
import { renderHtml, renderTable, type Report, type SystemRun } from './lib/report';
import { buildScenario, describeDemand, SCENARIOS, type PlannedRequest, type ScenarioOptions } from './lib/scenario';
import { createWorld, deleteVhost, freshVhost, resetRegistrations, type World } from './lib/world';
import { emptyClientResult } from './lib/client-result';
import type { ClientPlan, ClientResult } from './rush-client';

/**
 * `npm run bench:rush -- --scenario hot|campus [options]`: the registration rush
 * benchmark. Builds the scenario in its own database, starts the services as
 * child processes, drives Register from separate client processes, and in the
 * same run measures pgbench on the hot row and the naive one-transaction-per-
 * request baseline on the same data. Prints a table, writes JSON and an HTML
 * chart to bench/results/. Exits 1 if any invariant is violated.
 */

const USAGE = `usage: npm run bench:rush -- --scenario hot|campus [options]

scenario options (defaults come from the scenario):
  --students N               students (hot 10000, campus 20000)
  --sections N               sections (hot 1, campus 1000)
  --requests-per-student N   adds per student (hot 1, campus 5; at most 14)
  --hot-share F              share of requests aimed at the hot section (hot 1, campus 0)
  --capacity N               seats of each section (hot 100, campus 60)
  --waitlist N               waitlist places of each section (hot 200, campus 15)
  --skew S                   Zipf exponent of section popularity (campus 0.9)
  --seed N                   generator seed

load options:
  --clients N                Register calls in flight, over all client processes (default 512)
  --client-procs N           client processes (default 2)
  --channels N               gRPC channels per client process (default 4)
  --duration-cap S           stop sending after S seconds (default 240)
  --naive-duration-cap S     the naive baseline's sending budget (default 60; it is steady and
                             slow, and measuring it over the whole plan would take many minutes)
  --drain-timeout S          wait at most S seconds for PENDING requests to be decided (default 120)
  --call-deadline S          deadline of each Register call (default 30)
  --transport T              http2 (default): a lean gRPC client over node:http2 that leaves more
                             CPU to the services; grpc-js: the generated @grpc/grpc-js client

reference options:
  --systems LIST             any of ours,naive,pgbench (default all three), plus stub: a server
                             that answers SECTION_FULL at once, to measure the load generator's ceiling
  --pgbench-clients N        (default 16)   --pgbench-threads N (default 2)   --pgbench-seconds N (default 10)
  --strict                   exit 2 when a target is missed (exit 1 on violations always)
`;

interface Settings {
  scenario: ScenarioOptions;
  clients: number;
  clientProcs: number;
  channels: number;
  durationCapS: number;
  naiveDurationCapS: number;
  drainTimeoutS: number;
  callDeadlineS: number;
  transport: 'http2' | 'grpc-js';
  systems: Set<string>;
  pgbenchClients: number;
  pgbenchThreads: number;
  pgbenchSeconds: number;
  strict: boolean;
}

class UsageError extends Error {}

function parseSettings(argv: string[]): Settings {
  try {
    return readSettings(argv);
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${USAGE}`);
  }
}

function readSettings(argv: string[]): Settings {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenario: { type: 'string', default: 'hot' },
      students: { type: 'string' },
      sections: { type: 'string' },
      'requests-per-student': { type: 'string' },
      'hot-share': { type: 'string' },
      capacity: { type: 'string' },
      waitlist: { type: 'string' },
      skew: { type: 'string' },
      seed: { type: 'string' },
      clients: { type: 'string', default: '512' },
      'client-procs': { type: 'string', default: '2' },
      channels: { type: 'string', default: '4' },
      'duration-cap': { type: 'string', default: '240' },
      'naive-duration-cap': { type: 'string', default: '60' },
      'drain-timeout': { type: 'string', default: '120' },
      'call-deadline': { type: 'string', default: '30' },
      transport: { type: 'string', default: 'http2' },
      systems: { type: 'string', default: 'ours,naive,pgbench' },
      'pgbench-clients': { type: 'string', default: '16' },
      'pgbench-threads': { type: 'string', default: '2' },
      'pgbench-seconds': { type: 'string', default: '10' },
      strict: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const base = SCENARIOS[values.scenario!];
  if (!base) throw new Error(`unknown scenario "${values.scenario}" (hot or campus)`);
  const num = (name: string, v: string | undefined, def: number, min: number, max: number, int = true) => {
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max || (int && !Number.isInteger(n))) throw new Error(`--${name} must be ${int ? 'an integer' : 'a number'} from ${min} to ${max}`);
    return n;
  };
  const scenario: ScenarioOptions = {
    ...base,
    students: num('students', values.students, base.students, 1, 1_000_000),
    sections: num('sections', values.sections, base.sections, 1, 100_000),
    requestsPerStudent: num('requests-per-student', values['requests-per-student'], base.requestsPerStudent, 1, 14),
    hotShare: num('hot-share', values['hot-share'], base.hotShare, 0, 1, false),
    capacity: num('capacity', values.capacity, base.capacity, 0, 2000),
    waitlist: num('waitlist', values.waitlist, base.waitlist, 0, 2000),
    skew: num('skew', values.skew, base.skew, 0, 5, false),
    seed: num('seed', values.seed, base.seed, 0, 2 ** 31),
  };
  const systems = new Set(values.systems!.split(',').map((s) => s.trim()).filter(Boolean));
  for (const s of systems) if (!['ours', 'naive', 'pgbench', 'stub'].includes(s)) throw new Error(`--systems: unknown system "${s}"`);
  if (values.transport !== 'http2' && values.transport !== 'grpc-js') throw new Error('--transport must be http2 or grpc-js');
  return {
    scenario,
    transport: values.transport,
    clients: num('clients', values.clients, 512, 1, 100_000),
    clientProcs: num('client-procs', values['client-procs'], 2, 1, 64),
    channels: num('channels', values.channels, 4, 1, 64),
    durationCapS: num('duration-cap', values['duration-cap'], 240, 1, 86_400, false),
    naiveDurationCapS: num('naive-duration-cap', values['naive-duration-cap'], 60, 1, 86_400, false),
    drainTimeoutS: num('drain-timeout', values['drain-timeout'], 120, 0, 86_400, false),
    callDeadlineS: num('call-deadline', values['call-deadline'], 30, 1, 3600, false),
    systems,
    pgbenchClients: num('pgbench-clients', values['pgbench-clients'], 16, 1, 1000),
    pgbenchThreads: num('pgbench-threads', values['pgbench-threads'], 2, 1, 64),
    pgbenchSeconds: num('pgbench-seconds', values['pgbench-seconds'], 10, 1, 3600),
    strict: values.strict!,
  };
}

const REGISTRATION_MAIN = 'services/registration/src/main.ts';
const REGISTRATION_WORKER = 'services/registration/src/worker.ts';

/** Infrastructure processes whose CPU is reported by name (all their work, not only the benchmark's). */
const INFRA_LABELS: Record<string, string> = { postgres: 'PostgreSQL (all databases)', 'beam.smp': 'RabbitMQ', 'redis-server': 'Redis' };
const INFRA_COMMANDS = Object.keys(INFRA_LABELS);

const log = (msg: string) => console.log(`[rush ${new Date().toISOString().slice(11, 19)}] ${msg}`);

/** Runs the plan against `addr` from separate client processes and merges what they saw. */
async function runClients(phase: string, addr: string, plan: PlannedRequest[], s: Settings, world: World, dir: string): Promise<ClientResult> {
  const procs = Math.min(s.clientProcs, plan.length);
  // Each student's requests stay in one process, in plan order.
  const owner = new Map<string, number>();
  const indices: number[][] = Array.from({ length: procs }, () => []);
  for (let i = 0; i < plan.length; i++) {
    let p = owner.get(plan[i].studentId);
    if (p === undefined) {
      p = owner.size % procs;
      owner.set(plan[i].studentId, p);
    }
    indices[p].push(i);
  }
  const children: Child[] = [];
  const ready: Promise<void>[] = [];
  const done: Promise<void>[] = [];
  const resultFiles: string[] = [];
  for (let p = 0; p < procs; p++) {
    const planFile = join(dir, `${phase}-client-${p}.plan.json`);
    const resultFile = join(dir, `${phase}-client-${p}.result.json`);
    resultFiles.push(resultFile);
    const cp: ClientPlan = {
      addr,
      transport: s.transport,
      concurrency: Math.max(1, Math.round(s.clients / procs)),
      channels: s.channels,
      privateKeyFile: world.privateKeyFile,
      issuer: 'coursereg',
      audience: 'coursereg',
      requests: indices[p].map((i) => [plan[i].studentId, plan[i].sectionId, plan[i].requestId]),
      resultFile,
      callDeadlineMs: s.callDeadlineS * 1000,
      maxAttempts: 5,
      durationCapMs: (phase === 'naive' ? s.naiveDurationCapS : s.durationCapS) * 1000,
    };
    writeFileSync(planFile, JSON.stringify(cp));
    const child = startTs(`${phase}-client-${p}`, 'bench/rush-client.ts', {}, dir, { ipc: true, args: [planFile] });
    children.push(child);
    const exited = new Promise<never>((_, reject) =>
      child.proc.once('exit', (code, sig) => reject(new Error(`client ${p} exited (${sig ?? code}) before finishing; see ${child.logFile}`))),
    );
    exited.catch(() => undefined);
    ready.push(Promise.race([new Promise<void>((resolve) => child.proc.on('message', (m: { type: string }) => m.type === 'ready' && resolve())), exited]));
    done.push(Promise.race([new Promise<void>((resolve) => child.proc.on('message', (m: { type: string }) => m.type === 'done' && resolve())), exited]));
  }
  await Promise.all(ready);
  log(`${phase}: ${procs} client processes ready (tokens signed, channels connected); go`);
  for (const c of children) c.proc.send({ type: 'go' });
  await Promise.all(done);
  await Promise.all(children.map((c) => new Promise<void>((resolve) => (c.proc.exitCode !== null ? resolve() : c.proc.once('exit', () => resolve())))));

  const n = plan.length;
  const merged: ClientResult = emptyClientResult(n);

  resultFiles.forEach((f, p) => {
    const r = JSON.parse(readFileSync(f, 'utf8')) as ClientResult;
    indices[p].forEach((i, j) => {
      merged.send[i] = r.send[j];
      merged.resp[i] = r.resp[j];
      merged.code[i] = r.code[j];
      merged.reason[i] = r.reason[j];
      merged.state[i] = r.state[j];
      merged.regId[i] = r.regId[j];
      merged.attempts[i] = r.attempts[j];
    });
    merged.signMs = Math.max(merged.signMs, r.signMs);
    merged.connectMs = Math.max(merged.connectMs, r.connectMs);
    merged.cpuSeconds += r.cpuSeconds;
  });
  return merged;
}

async function waitDrained(world: World, timeoutS: number): Promise<{ drained: boolean; pending: number }> {
  const until = Date.now() + timeoutS * 1000;
  let pending = await countPending(world.db);
  while (pending > 0 && Date.now() < until) {
    await sleep(200);
    pending = await countPending(world.db);
  }
  return { drained: pending === 0, pending };
}

async function measureSystem(
  system: SystemRun['system'],
  addr: string,
  plan: PlannedRequest[],
  s: Settings,
  world: World,
  dir: string,
  watch: Child[],
): Promise<SystemRun> {
  const started = Date.now();
  const cpuBefore = watch.map((c) => cpuSecondsOf(c.proc.pid));
  const machineBefore = machineBusySeconds();
  const infraBefore = cpuByCommand(INFRA_COMMANDS);
  const results = await runClients(system, addr, plan, s, world, dir);
  log(`${system}: load sent in ${((Date.now() - started) / 1000).toFixed(1)} s; waiting for PENDING requests to be decided`);
  const { drained, pending } = await waitDrained(world, s.drainTimeoutS);
  const machine = machineBusySeconds() - machineBefore;
  const cpu: Record<string, number> = { clients: results.cpuSeconds };
  watch.forEach((c, i) => (cpu[c.name] = cpuSecondsOf(c.proc.pid) - cpuBefore[i]));
  const infra = cpuDeltaByCommand(infraBefore, cpuByCommand(INFRA_COMMANDS));
  for (const [comm, label] of Object.entries(INFRA_LABELS)) if (infra[comm] !== undefined) cpu[label] = infra[comm];
  const known = Object.values(cpu).reduce((a, b) => a + b, 0);
  if (machine > 0) cpu['everything else on the machine'] = Math.max(0, machine - known);
  const rows = await readRows(world.db);
  const figures: RunFigures = analyze(plan, results, rows);
  const invariants = await checkSeatInvariants(world.db);
  const doorFull = new Set<string>();
  plan.forEach((r, i) => results.reason[i] === 'SECTION_FULL' && doorFull.add(r.sectionId));
  const notes: string[] = [];
  if (!drained) notes.push(`${pending} requests still PENDING after the ${s.drainTimeoutS} s drain timeout`);
  notes.push(`client set-up before the clock: tokens signed in ${(results.signMs / 1000).toFixed(1)} s, channels connected in ${results.connectMs.toFixed(0)} ms`);
  notes.push(
    `CPU seconds from go to drained (${((Date.now() - started) / 1000).toFixed(1)} s wall, ${cpus().length} cores): ` +
      Object.entries(cpu)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', '),
  );
  return {
    system,
    cpuSeconds: cpu,
    figures,
    invariants,
    violations: invariants.total + figures.accounting.total,
    seatsLeftWhileRejected: await seatsLeftWhileRejected(world.db, doorFull),
    drained,
    notes,
  };
}

async function main(): Promise<void> {
  const s = parseSettings(process.argv.slice(2));
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const runName = `rush-${s.scenario.name}-${stamp}`;
  const dir = join(RESULTS_DIR, 'runs', runName);
  mkdirSync(dir, { recursive: true });

  const scenario = buildScenario(s.scenario, startedAt);
  const demand = describeDemand(scenario);
  log(
    `scenario ${s.scenario.name}: ${scenario.data.students.length} students, ${scenario.data.sections.length} sections, ${scenario.requests.length} requests; ` +
      `busiest section gets ${demand.top[0]?.requests ?? 0} requests for ${demand.top[0]?.places ?? 0} places`,
  );

  const oursAvailable = existsSync(join(ROOT, REGISTRATION_MAIN)) && existsSync(join(ROOT, REGISTRATION_WORKER));
  const reportNotes: string[] = [];
  if (s.systems.has('ours') && !oursAvailable) {
    s.systems.delete('ours');
    reportNotes.push(`ours: not measured: ${REGISTRATION_MAIN} and ${REGISTRATION_WORKER} do not exist yet`);
    log(reportNotes[reportNotes.length - 1]);
  }

  log(`creating database ${new URL(benchConfig.databaseUrl).pathname.slice(1)} and loading the scenario`);
  const world = await createWorld(scenario);
  const [coursePort, studentPort, registrationPort, naivePort, stubPort, workerMetricsPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
  const addr = (p: number) => `127.0.0.1:${p}`;
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    LOG_LEVEL: benchConfig.logLevel,
    DATABASE_URL: world.databaseUrl,
    REDIS_URL: benchConfig.redisUrl,
    REDIS_KEY_PREFIX: benchConfig.redisKeyPrefix,
    AMQP_URL: `${benchConfig.amqpBase}/${encodeURIComponent(benchConfig.vhost)}`,
    JWT_JWKS_FILE: world.jwksFile,
    JWT_PRIVATE_KEY_FILE: world.privateKeyFile,
    SHUTDOWN_GRACE_MS: '5000',
    COURSE_GRPC_ADDR: addr(coursePort),
    COURSE_METRICS_PORT: '0',
    STUDENT_GRPC_ADDR: addr(studentPort),
    STUDENT_METRICS_PORT: '0',
    COURSE_SERVICE_ADDR: addr(coursePort),
    STUDENT_SERVICE_ADDR: addr(studentPort),
    REGISTRATION_GRPC_ADDR: addr(registrationPort),
    REGISTRATION_METRICS_PORT: '0',
    WORKER_METRICS_PORT: String(workerMetricsPort),
    NAIVE_GRPC_ADDR: addr(naivePort),
    STUB_GRPC_ADDR: addr(stubPort),
  };

  const pgbenchRuns: PgbenchResult[] = [];
  let ours: SystemRun | undefined;
  let naive: SystemRun | undefined;
  let stub: SystemRun | undefined;
  const shared: Child[] = [];
  try {
    log('starting the course and student services');
    const course = startTs('course', 'services/course/src/main.ts', env, dir);
    const student = startTs('student', 'services/student/src/main.ts', env, dir);
    shared.push(course, student);
    await waitHealthy(course, env.COURSE_GRPC_ADDR, 'coursereg.course.v1.CourseService');
    await waitHealthy(student, env.STUDENT_GRPC_ADDR, 'coursereg.student.v1.StudentService');

    // pgbench runs before and after the systems; the higher tps is the reference,
    // so noise from other work on the machine cannot make the target easier.
    const hotRow = async (when: string) => {
      log(`pgbench hot row ${when} (section ${scenario.hotSectionId}): ${s.pgbenchClients} clients, ${s.pgbenchThreads} threads, ${s.pgbenchSeconds} s`);
      const r = await runPgbench({ databaseUrl: world.databaseUrl, sectionId: scenario.hotSectionId, clients: s.pgbenchClients, threads: s.pgbenchThreads, seconds: s.pgbenchSeconds, dir });
      log(`pgbench ${when}: ${r.tps.toFixed(0)} tps`);
      pgbenchRuns.push(r);
    };
    if (s.systems.has('pgbench')) await hotRow('before');

    if (s.systems.has('stub')) {
      await resetRegistrations(world.db);
      const server = startTs('stub', 'bench/stub/main.ts', env, dir);
      try {
        await waitHealthy(server, env.STUB_GRPC_ADDR, 'coursereg.registration.v1.RegistrationService');
        stub = await measureSystem('stub', env.STUB_GRPC_ADDR, scenario.requests, s, world, dir, [server, ...shared]);
        log(`stub: ${stub.figures.requestsPerSecond.toFixed(0)} answers/s (the load generator's ceiling)`);
      } finally {
        await stop(server);
      }
    }

    if (s.systems.has('naive')) {
      await resetRegistrations(world.db);
      log('naive baseline: starting');
      const server = startTs('naive', 'bench/naive/main.ts', env, dir);
      try {
        await waitHealthy(server, env.NAIVE_GRPC_ADDR, 'coursereg.registration.v1.RegistrationService');
        naive = await measureSystem('naive', env.NAIVE_GRPC_ADDR, scenario.requests, s, world, dir, [server, ...shared]);
        log(`naive: ${naive.figures.decisionsPerSecond.toFixed(0)} decisions/s, ${naive.violations} violations`);
      } finally {
        await stop(server);
      }
    }

    if (s.systems.has('ours')) {
      await resetRegistrations(world.db);
      freshVhost();
      log('ours: starting the registration service and worker');
      const service = startTs('registration', REGISTRATION_MAIN, env, dir);
      const worker = startTs('registration-worker', REGISTRATION_WORKER, env, dir);
      try {
        await waitHealthy(service, env.REGISTRATION_GRPC_ADDR, 'coursereg.registration.v1.RegistrationService');
        const how = await waitMetricsOrSettled(worker, workerMetricsPort);
        if (how === 'settled') log('ours: the worker serves no metrics endpoint; assuming it is ready after 15 s');
        ours = await measureSystem('ours', env.REGISTRATION_GRPC_ADDR, scenario.requests, s, world, dir, [service, worker, ...shared]);
        log(`ours: ${ours.figures.decisionsPerSecond.toFixed(0)} decisions/s, ${ours.violations} violations`);
      } finally {
        await Promise.all([stop(service), stop(worker)]);
      }
    }

    if (s.systems.has('pgbench')) await hotRow('after');
  } finally {
    await Promise.all(shared.map((c) => stop(c)));
    await world.close();
    if (s.systems.has('ours')) deleteVhost();
  }

  const pgbench = pgbenchRuns.reduce<PgbenchResult | undefined>((best, r) => (!best || r.tps > best.tps ? r : best), undefined);
  const ratio = (a?: number, b?: number) => (a !== undefined && b !== undefined && b > 0 ? a / b : undefined);
  const oursDps = ours?.figures.decisionsPerSecond;
  const naiveDps = naive?.figures.decisionsPerSecond;
  const report: Report = {
    scenario: { ...s.scenario, requests: scenario.requests.length, hotSectionId: scenario.hotSectionId, demand },
    startedAt: startedAt.toISOString(),
    machine: { cpus: cpus().length, node: process.version, platform: `${process.platform}-${process.arch}` },
    settings: {
      clientProcesses: Math.min(s.clientProcs, scenario.requests.length),
      inFlightPerProcess: Math.max(1, Math.round(s.clients / s.clientProcs)),
      channelsPerProcess: s.channels,
      transport: s.transport,
      durationCapSeconds: s.durationCapS,
      naiveDurationCapSeconds: s.naiveDurationCapS,
      drainTimeoutSeconds: s.drainTimeoutS,
      callDeadlineSeconds: s.callDeadlineS,
      systems: [...s.systems],
    },
    pgbench,
    pgbenchRuns,
    ours,
    naive,
    stub,
    ratios: { oursToPgbench: ratio(oursDps, pgbench?.tps), oursToNaive: ratio(oursDps, naiveDps), naiveToPgbench: ratio(naiveDps, pgbench?.tps) },
    targets: [],
    violations: (ours?.violations ?? 0) + (naive?.violations ?? 0),
    notes: reportNotes,
  };
  if (ours) {
    if (s.scenario.name === 'hot' && pgbench) {
      report.targets.push({ name: 'hot: decisions/s >= 1.0x pgbench hot-row tps', required: '>= 1.00x', measured: `${report.ratios.oursToPgbench!.toFixed(2)}x`, pass: report.ratios.oursToPgbench! >= 1 });
    }
    if (s.scenario.name === 'campus' && naive) {
      report.targets.push({ name: 'campus: decisions/s >= 2x naive baseline', required: '>= 2.00x', measured: `${report.ratios.oursToNaive!.toFixed(2)}x`, pass: report.ratios.oursToNaive! >= 2 });
    }
    report.targets.push({ name: 'zero invariant violations (ours)', required: '0', measured: String(ours.violations), pass: ours.violations === 0 });
  }

  const table = renderTable(report);
  console.log(table);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const jsonFile = join(RESULTS_DIR, `${runName}.json`);
  const htmlFile = join(RESULTS_DIR, `${runName}.html`);
  writeFileSync(jsonFile, JSON.stringify(report, null, 2));
  writeFileSync(htmlFile, renderHtml(report, table));
  console.log(`\nwrote ${relative(ROOT, jsonFile)} and ${relative(ROOT, htmlFile)} (logs and client data in ${relative(ROOT, dir)})`);

  if (report.violations > 0) process.exitCode = 1;
  else if (s.strict && report.targets.some((t) => !t.pass)) process.exitCode = 2;
}

main().catch((err: unknown) => {
  console.error(err instanceof UsageError ? err.message : `rush benchmark failed: ${(err as Error).stack ?? String(err)}`);
  killAll();
  process.exit(1);
});
