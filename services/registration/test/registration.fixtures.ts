import * as grpc from '@grpc/grpc-js';
import { sql, type Kysely } from 'kysely';
import type { Section } from '../../../gen/coursereg/course/v1/course';
import { CourseServiceClient } from '../../../gen/coursereg/course/v1/course_service';
import { RegistrationState, type Registration } from '../../../gen/coursereg/registration/v1/registration';
import { RegistrationServiceClient } from '../../../gen/coursereg/registration/v1/registration_service';
import { StudentServiceClient } from '../../../gen/coursereg/student/v1/student_service';
import { startCourseService } from '../../course/src/main';
import { courseInput, sectionInput, termInput } from '../../course/test/course.fixtures';
import { createDb } from '../../shared/src/db';
import { createTestEnv, createTestVhost, promiseClient, type PromiseClient, type TestEnv } from '../../shared/testing/harness';
import { startStudentService } from '../../student/src/main';
import type { RegistrationDatabase } from '../src/db';
import { startRegistrationService } from '../src/main';
import { startRegistrationWorker } from '../src/worker';

type Worker = Awaited<ReturnType<typeof startRegistrationWorker>>;

export interface RegistrationWorld {
  env: TestEnv;
  api: PromiseClient<RegistrationServiceClient>;
  /** A raw client, for server streams. */
  client: RegistrationServiceClient;
  catalog: PromiseClient<CourseServiceClient>;
  students: PromiseClient<StudentServiceClient>;
  db: Kysely<RegistrationDatabase>;
  amqpUrl: string;
  /** host:port of the registration service (course and student are in env.env). */
  registrationAddr: string;
  registrar: grpc.Metadata;
  workers: Worker[];
  startWorker(extra?: Record<string, string>): Promise<Worker>;
  /** Metadata of a student token. */
  as(studentId: string): Promise<grpc.Metadata>;
  /** Creates a section of a new course in 2027SP (capacity 30, waitlist 10 unless given). */
  section(over?: Partial<Section> & { credits?: number; course?: string }): Promise<Section>;
  /** Creates students S<from>..S<from+n-1> with open windows, in bulk. */
  addStudents(from: number, n: number, maxCredits?: number): Promise<string[]>;
  /** Polls until the registration leaves PENDING. */
  final(id: string, md?: grpc.Metadata): Promise<Registration>;
  /** Waits until no request is PENDING. */
  settle(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

let courseSeq = 100;
export const sid = (n: number) => `S${String(n).padStart(4, '0')}`;

export async function startRegistrationWorld(name: string, opts: { workers?: number; extraEnv?: Record<string, string> } = {}): Promise<RegistrationWorld> {
  const env = await createTestEnv(name);
  const vhost = createTestVhost(name);
  Object.assign(env.env, { AMQP_URL: vhost.amqpUrl, REGISTRATION_GRPC_ADDR: '127.0.0.1:0', REGISTRATION_METRICS_PORT: '0', WORKER_METRICS_PORT: '0', ...opts.extraEnv });
  const course = await startCourseService(env.env);
  env.env.COURSE_SERVICE_ADDR = `127.0.0.1:${course.port}`;
  const student = await startStudentService(env.env);
  env.env.STUDENT_SERVICE_ADDR = `127.0.0.1:${student.port}`;
  const registration = await startRegistrationService(env.env);
  const workers: Worker[] = [];
  const startWorker = async (extra: Record<string, string> = {}) => {
    const w = await startRegistrationWorker({ ...env.env, ...extra });
    workers.push(w);
    return w;
  };
  for (let i = 0; i < (opts.workers ?? 1); i++) await startWorker();
  const client = new RegistrationServiceClient(`127.0.0.1:${registration.port}`, grpc.credentials.createInsecure());
  const courseClient = new CourseServiceClient(`127.0.0.1:${course.port}`, grpc.credentials.createInsecure());
  const studentClient = new StudentServiceClient(`127.0.0.1:${student.port}`, grpc.credentials.createInsecure());
  const { db } = createDb<RegistrationDatabase>(env.databaseUrl, 4);
  const registrar = await env.auth('registrar', 'registrar-1');
  const catalog = promiseClient(courseClient);
  await catalog.createTerm({ term: termInput('2027SP') }, registrar);
  const tokens = new Map<string, grpc.Metadata>();

  const world: RegistrationWorld = {
    env,
    api: promiseClient(client),
    client,
    catalog,
    students: promiseClient(studentClient),
    db,
    amqpUrl: vhost.amqpUrl,
    registrationAddr: `127.0.0.1:${registration.port}`,
    registrar,
    workers,
    startWorker,
    async as(studentId) {
      if (!tokens.has(studentId)) tokens.set(studentId, await env.auth('student', studentId));
      return tokens.get(studentId)!;
    },
    async section(over = {}) {
      const { credits = 3, course: code = `CS ${courseSeq++}`, ...rest } = over;
      const existing = await sql<{ n: number }>`SELECT count(*)::int AS n FROM course.courses WHERE code = ${code}`.execute(db);
      if (existing.rows[0].n === 0) await catalog.createCourse({ course: courseInput(code, { credits }) }, registrar);
      const res = await catalog.createSection({ section: sectionInput(code, rest.sectionCode ?? '001', rest) }, registrar);
      return res.section!;
    },
    async addStudents(from, n, maxCredits = 18) {
      const ids = Array.from({ length: n }, (_, i) => sid(from + i));
      await sql`INSERT INTO student.students (id, name, email, class_standing, max_credits)
        SELECT id, 'Student ' || id, lower(id) || '@students.example.edu', 'SOPHOMORE', ${maxCredits} FROM unnest(${ids}::text[]) id`.execute(db);
      await sql`INSERT INTO student.registration_windows (student_id, term_code, opens_at)
        SELECT id, '2027SP', '2026-11-01T14:00:00Z' FROM unnest(${ids}::text[]) id`.execute(db);
      return ids;
    },
    async final(id, md = registrar) {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const r = (await world.api.getRegistration({ id }, md)).registration!;
        if (r.state !== RegistrationState.REGISTRATION_STATE_PENDING) return r;
        if (Date.now() > deadline) throw new Error(`registration ${id} still PENDING`);
        await new Promise((res) => setTimeout(res, 25));
      }
    },
    async settle(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const r = await sql<{ n: number }>`SELECT count(*)::int AS n FROM registration.registrations WHERE state = 'PENDING'`.execute(db);
        if (r.rows[0].n === 0) return;
        if (Date.now() > deadline) throw new Error(`${r.rows[0].n} requests still PENDING`);
        await new Promise((res) => setTimeout(res, 50));
      }
    },
    async stop() {
      client.close();
      courseClient.close();
      studentClient.close();
      for (const w of workers) await w.stop().catch(() => undefined);
      await registration.stop();
      await student.stop();
      await course.stop();
      await db.destroy();
      vhost.remove();
      await env.cleanup();
    },
  };
  return world;
}

/** Seat invariants of every section, checked in SQL: an empty list means they all hold. */
export async function invariantViolations(db: Kysely<RegistrationDatabase>): Promise<string[]> {
  const r = await sql<{ problem: string }>`
    WITH counts AS (
      SELECT s.id, s.capacity, s.waitlist_capacity, s.enrolled_count, s.waitlisted_count,
             count(*) FILTER (WHERE r.state = 'ENROLLED') AS enrolled_rows,
             count(*) FILTER (WHERE r.state = 'WAITLISTED') AS waitlisted_rows,
             count(*) FILTER (WHERE r.state = 'ENROLLED' AND r.reason_code = 'CAPACITY_OVERRIDE') AS overrides
        FROM course.sections s LEFT JOIN registration.registrations r ON r.section_id = s.id
       GROUP BY s.id)
    SELECT 'section ' || id || ' oversold' AS problem FROM counts WHERE enrolled_rows - overrides > capacity
    UNION ALL SELECT 'section ' || id || ' waitlist over capacity' FROM counts WHERE waitlisted_rows > waitlist_capacity
    UNION ALL SELECT 'section ' || id || ' stored counts differ from rows' FROM counts WHERE enrolled_count <> enrolled_rows OR waitlisted_count <> waitlisted_rows
    UNION ALL SELECT 'student ' || student_id || ' twice live in ' || section_id FROM registration.registrations
       WHERE state IN ('PENDING', 'ENROLLED', 'WAITLISTED') GROUP BY student_id, section_id HAVING count(*) > 1
    UNION ALL SELECT 'registration ' || r.id || ' does not have exactly one decision per request' FROM registration.registrations r
       JOIN registration.audit_events e ON e.registration_id = r.id
       WHERE r.state <> 'PENDING' GROUP BY r.id
      HAVING count(*) FILTER (WHERE e.before_state = 'PENDING') <> count(*) FILTER (WHERE e.kind = 'REQUESTED')`.execute(db);
  return r.rows.map((x) => x.problem);
}
