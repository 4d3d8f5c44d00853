import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import amqp from 'amqplib';
import Redis from 'ioredis';
import { sql } from 'kysely';
import { RegistrationState } from '../../../gen/coursereg/registration/v1/registration';
import type { DecodedError } from '../../shared/src/errors';
import { rpcError } from '../../shared/testing/harness';
import { DEAD_LETTER_QUEUE, REQUESTS_EXCHANGE } from '../src/messaging/topology';
import { invariantViolations, sid, startRegistrationWorld, type RegistrationWorld } from './registration.fixtures';

const S = RegistrationState;
let w: RegistrationWorld;

beforeAll(async () => {
  w = await startRegistrationWorld('resilience', { workers: 0, extraEnv: { WORKER_MAX_ATTEMPTS: '3', PENDING_REPUBLISH_SECONDS: '2' } });
  await w.addStudents(1, 700);
}, 60_000);
afterAll(async () => w?.stop());
afterEach(async () => {
  await w.settle();
  expect(await invariantViolations(w.db)).toEqual([]);
});

/** Fires one Register per student at a section; returns each outcome. */
async function rush(sectionId: string, students: string[], tag: string) {
  return Promise.all(
    students.map(async (s) => {
      try {
        return { s, id: (await w.api.register({ sectionId, requestId: `${tag}-${s}`, studentId: '' }, await w.as(s))).registration!.id };
      } catch (err) {
        return { s, error: (await rpcError(Promise.reject(err))) as DecodedError };
      }
    }),
  );
}

/** Every request ends in exactly one final state: an accepted row decided once, or a final answer at the door. */
async function expectExactlyOneFinalState(sectionId: string, outcomes: Awaited<ReturnType<typeof rush>>, capacity: number, waitlist: number) {
  const rows = await w.db.selectFrom('registration.registrations').select(['id', 'student_id', 'state']).where('section_id', '=', sectionId).execute();
  const accepted = outcomes.filter((o) => o.id);
  expect(outcomes.filter((o) => o.error).every((o) => o.error!.reason === 'SECTION_FULL')).toBe(true);
  expect(new Set(rows.map((r) => r.id))).toEqual(new Set(accepted.map((o) => o.id)));
  expect(rows.filter((r) => r.state === 'ENROLLED')).toHaveLength(capacity);
  expect(rows.filter((r) => r.state === 'WAITLISTED')).toHaveLength(waitlist);
  expect(rows.every((r) => r.state === 'ENROLLED' || r.state === 'WAITLISTED' || r.state === 'REJECTED')).toBe(true);
}

function spawnWorker(): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'src', 'worker.ts')], {
    env: { ...process.env, ...w.env.env, WORKER_BATCH_WAIT_MS: '20', LOG_LEVEL: process.env.TEST_WORKER_STDIO === 'inherit' ? 'info' : 'silent' },
    stdio: process.env.TEST_WORKER_STDIO === 'inherit' ? 'inherit' : 'ignore',
  });
  return child;
}

test('worker_killedMidBatch_messagesAreRedeliveredAndDecidedOnce', async () => {
  const section = await w.section({ capacity: 10, waitlistCapacity: 5 });
  const students = Array.from({ length: 120 }, (_, i) => sid(1 + i));
  const child = spawnWorker();
  // Keep the seat row locked so the worker's first batch is stuck inside its transaction.
  const blocker = await w.db.connection().execute(async (conn) => {
    await sql`BEGIN`.execute(conn);
    await sql`SELECT 1 FROM course.sections WHERE id = ${section.id} FOR UPDATE`.execute(conn);
    const outcomes = await rush(section.id, students, 'kill');
    const deadline = Date.now() + 20_000;
    for (;;) {
      // Activity views are a snapshot per transaction; this one stays open, so refresh it.
      await sql`SELECT pg_stat_clear_snapshot()`.execute(conn);
      const r = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`.execute(conn);
      if (r.rows[0].n > 0 || Date.now() > deadline) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    child.kill('SIGKILL');
    await new Promise((res) => child.once('exit', res));
    await sql`ROLLBACK`.execute(conn);
    return outcomes;
  });
  const pending = await sql<{ n: number }>`SELECT count(*)::int AS n FROM registration.registrations WHERE state = 'PENDING'`.execute(w.db);
  expect(pending.rows[0].n).toBeGreaterThan(0);
  const worker = await w.startWorker();
  await w.settle();
  await expectExactlyOneFinalState(section.id, blocker, 10, 5);
  await worker.stop();
  w.workers.splice(0);
}, 60_000);

test('redis_flushedDuringRush_nothingOversoldOrLost', async () => {
  const section = await w.section({ capacity: 10, waitlistCapacity: 5 });
  const students = Array.from({ length: 200 }, (_, i) => sid(200 + i));
  const worker = await w.startWorker();
  const redis = new Redis(w.env.env.REDIS_URL);
  const flush = (async () => {
    await new Promise((r) => setTimeout(r, 30));
    const keys = await redis.keys(`${w.env.keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  })();
  const outcomes = await rush(section.id, students, 'flush');
  await flush;
  redis.disconnect();
  await w.settle();
  await expectExactlyOneFinalState(section.id, outcomes, 10, 5);
  await worker.stop();
  w.workers.splice(0);
}, 60_000);

test('poisonMessage_goesToDeadLetterQueueAfterBoundedAttempts_andEndsFailed', async () => {
  const section = await w.section({ capacity: 10 });
  const [poison, healthy] = [sid(450), sid(451)];
  // A fault only PostgreSQL can raise: deciding this student's request always fails.
  await sql`CREATE FUNCTION registration.poison() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.student_id = ${sql.lit(poison)} AND NEW.state <> 'FAILED' AND NEW.state <> 'PENDING' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$`.execute(w.db);
  await sql`CREATE TRIGGER poison BEFORE UPDATE ON registration.registrations FOR EACH ROW EXECUTE FUNCTION registration.poison()`.execute(w.db);
  try {
    const worker = await w.startWorker();
    const [p, h] = await rush(section.id, [poison, healthy], 'poison');
    const failed = await w.final(p.id!);
    expect(failed.state).toBe(S.REGISTRATION_STATE_FAILED);
    expect(failed.reasonCode).toBe('PROCESSING_FAILED');
    expect((await w.final(h.id!)).state).toBe(S.REGISTRATION_STATE_ENROLLED);
    const conn = await amqp.connect(w.amqpUrl);
    const ch = await conn.createChannel();
    const dead = await ch.get(DEAD_LETTER_QUEUE, { noAck: true });
    expect(dead && dead.properties.headers?.['x-attempts']).toBe(3);
    expect(String(dead && dead.properties.headers?.['x-error'])).toContain('poisoned');
    await conn.close();
    // The hold was given back: the student is no longer counted as holding a place.
    const counts = await w.api.getSchedule({ studentId: poison, termCode: '2027SP' }, w.registrar);
    expect(counts.entries).toHaveLength(0);
    await worker.stop();
    w.workers.splice(0);
  } finally {
    await sql`DROP TRIGGER poison ON registration.registrations`.execute(w.db);
  }
}, 60_000);

test('publishFailure_releasesHoldAndAnswersUnavailable_thenRecovers', async () => {
  const section = await w.section({ capacity: 1, waitlistCapacity: 0 });
  const worker = await w.startWorker();
  const conn = await amqp.connect(w.amqpUrl);
  const ch = await conn.createChannel();
  await ch.deleteExchange(REQUESTS_EXCHANGE);
  await conn.close();
  const err = await rpcError(w.api.register({ sectionId: section.id, requestId: 'pub-1', studentId: '' }, await w.as(sid(460))));
  expect(err.code).toBe(14);
  expect(err.reason).toBe('QUEUE_UNAVAILABLE');
  // The only seat was not kept by the failed request: the next student gets it.
  const r = await w.api.register({ sectionId: section.id, requestId: 'pub-2', studentId: '' }, await w.as(sid(461)));
  expect((await w.final(r.registration!.id)).state).toBe(S.REGISTRATION_STATE_ENROLLED);
  await worker.stop();
  w.workers.splice(0);
}, 60_000);
