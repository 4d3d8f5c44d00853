import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isServing } from '../services/shared/src/health';
import { TokenSigner } from '../services/shared/src/auth';
import { checkDependencies, DependencyError } from '../services/shared/src/dependencies';
import { ensureDevKeys } from '../services/shared/src/devkeys';
import { launcherConfig as config } from './config';
import { seed } from './seed/run';

/**
 * `npm start`: checks PostgreSQL, Redis and RabbitMQ, creates dev keys, migrates
 * and seeds an empty database, starts every service as its own process, waits
 * until each reports SERVING, and prints where to reach them.
 */
interface Proc {
  name: string;
  entry: string;
  addr: string;
  metricsPort: number;
  /** gRPC health service name; processes without one are checked on their metrics endpoint. */
  grpcService?: string;
}

const ROOT = join(__dirname, '..');
const PROCS: Proc[] = [
  { name: 'course', entry: 'services/course/src/main.ts', addr: config.COURSE_GRPC_ADDR, metricsPort: config.COURSE_METRICS_PORT, grpcService: 'coursereg.course.v1.CourseService' },
  { name: 'student', entry: 'services/student/src/main.ts', addr: config.STUDENT_GRPC_ADDR, metricsPort: config.STUDENT_METRICS_PORT, grpcService: 'coursereg.student.v1.StudentService' },
  {
    name: 'registration',
    entry: 'services/registration/src/main.ts',
    addr: config.REGISTRATION_GRPC_ADDR,
    metricsPort: config.REGISTRATION_METRICS_PORT,
    grpcService: 'coursereg.registration.v1.RegistrationService',
  },
  { name: 'worker', entry: 'services/registration/src/worker.ts', addr: '', metricsPort: config.WORKER_METRICS_PORT },
  { name: 'gateway', entry: 'services/gateway/src/main.ts', addr: `127.0.0.1:${config.GATEWAY_PORT}`, metricsPort: config.GATEWAY_METRICS_PORT },
];

/** Newest modification time under a directory, in ms. */
function newest(dir: string): number {
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Builds the web client when web/dist is missing or older than its sources. */
function buildWebIfStale(): void {
  const index = join(ROOT, 'web', 'dist', 'index.html');
  const sources = Math.max(newest(join(ROOT, 'web', 'src')), newest(join(ROOT, 'gen', 'web')), statSync(join(ROOT, 'web', 'index.html')).mtimeMs);
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  console.log('building the web client (web/dist)...');
  const res = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', join(ROOT, 'web', 'vite.config.mts'), '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
  if (res.status !== 0) throw new Error('building the web client failed (see above); try `npm run build:web`');
}

async function metricsUp(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

async function waitHealthy(p: Proc, child: ChildProcess, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`${p.name} service exited with code ${child.exitCode} while starting (see its log above)`);
    if (p.grpcService ? await isServing(p.addr, p.grpcService) : await metricsUp(p.metricsPort)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${p.name} service did not become healthy at ${p.addr} within ${timeoutMs / 1000}s`);
}

async function main(): Promise<void> {
  await checkDependencies({ database: config.DATABASE_URL, redis: config.REDIS_URL, amqp: config.AMQP_URL });
  if (await ensureDevKeys(config.JWT_JWKS_FILE, config.JWT_PRIVATE_KEY_FILE)) {
    console.log(`created a development key pair in ${config.JWT_JWKS_FILE} and ${config.JWT_PRIVATE_KEY_FILE}`);
  }
  const seeded = await seed({ databaseUrl: config.DATABASE_URL, redisUrl: config.REDIS_URL, keyPrefix: config.REDIS_KEY_PREFIX, students: config.SEED_STUDENTS, onlyIfEmpty: true });
  if (seeded) console.log(`loaded demo data: term ${seeded.term.code}, ${seeded.courses.length} courses, ${seeded.sections.length} sections, ${seeded.students.length} students`);

  const children: ChildProcess[] = [];
  let stopping = false;
  const stopAll = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    for (const c of children) if (c.exitCode === null) c.kill(signal);
  };
  process.on('SIGINT', () => stopAll('SIGINT'));
  process.on('SIGTERM', () => stopAll('SIGTERM'));

  buildWebIfStale();
  const env = {
    ...process.env,
    COURSE_SERVICE_ADDR: config.COURSE_GRPC_ADDR,
    STUDENT_SERVICE_ADDR: config.STUDENT_GRPC_ADDR,
    REGISTRATION_SERVICE_ADDR: config.REGISTRATION_GRPC_ADDR,
    // The local launcher is a development setup: the web client signs in as a demo user.
    GATEWAY_DEV_TOKENS: process.env.GATEWAY_DEV_TOKENS ?? 'true',
  };
  // Registration needs the student service to answer eligibility, so it starts after the others are healthy.
  const spawnOne = (p: Proc) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, p.entry)], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] });
    children.push(child);
    child.on('exit', (code, signal) => {
      if (!stopping) {
        console.error(`${p.name} service stopped unexpectedly (${signal ?? `exit code ${code}`}); stopping the rest`);
        stopAll('SIGTERM');
        process.exitCode = 1;
      }
    });
    return waitHealthy(p, child, 60_000);
  };
  try {
    await Promise.all(PROCS.slice(0, 2).map(spawnOne));
    await Promise.all(PROCS.slice(2, 4).map(spawnOne));
    await spawnOne(PROCS[4]);
  } catch (err) {
    stopAll('SIGTERM');
    throw err;
  }

  const signer = await TokenSigner.fromFile(config.JWT_PRIVATE_KEY_FILE, config.JWT_ISSUER, config.JWT_AUDIENCE);
  const studentToken = await signer.sign('S0001', 'student', 8 * 3600);
  const registrarToken = await signer.sign('registrar-dev', 'registrar', 8 * 3600);
  const lines = [
    '',
    'coursereg is running:',
    '',
    `  Web client:  http://127.0.0.1:${config.GATEWAY_PORT}/   (sign in as a demo student or the registrar)`,
    '',
    ...PROCS.map((p) => `  ${p.name.padEnd(12)} ${p.name === 'gateway' ? `gRPC-web + gRPC ${p.addr}` : p.addr ? `gRPC ${p.addr}` : 'queue worker   '}   metrics http://127.0.0.1:${p.metricsPort}/metrics`),
    '',
    'Sample tokens (8 hours; more with `npm run token -- --role student --student S0002`):',
    `  student S0001:  ${studentToken}`,
    `  registrar:      ${registrarToken}`,
    '',
    'Try it with any gRPC client through server reflection, e.g.:',
    `  grpcurl -plaintext -H "authorization: Bearer $TOKEN" -d '{"page_size": 5}' ${config.COURSE_GRPC_ADDR} coursereg.course.v1.CourseService/ListCourses`,
    '',
    'Press Ctrl+C to stop.',
  ];
  console.log(lines.join('\n'));
}

main().catch((err: unknown) => {
  if (err instanceof DependencyError) {
    console.error(`coursereg cannot start:\n${err.message}`);
  } else {
    console.error(`coursereg failed to start: ${(err as Error).message}`);
  }
  process.exit(1);
});
