import { sql, type Selectable } from 'kysely';
import type { RegistrationDb, RegistrationStateName, RegistrationTable } from '../db';

export type RegistrationRow = Selectable<RegistrationTable>;

export const LIVE_STATES: RegistrationStateName[] = ['PENDING', 'ENROLLED', 'WAITLISTED'];

/** A request the door accepted, about to be written PENDING. */
export interface PendingInput {
  id: string;
  studentId: string;
  sectionId: string;
  termCode: string;
  courseCode: string;
  credits: number;
  requestId: string;
  requestedBy: string;
  seatHeld: boolean;
  capacityOverride: boolean;
}

/**
 * Inserts PENDING rows with their REQUESTED audit events in one statement.
 * Returns, per input, the id of the row that now stands for the request: the new
 * one, or the earlier row with the same (student, request id); undefined when
 * the student already has another live registration in the section.
 */
export async function insertPending(db: RegistrationDb, inputs: readonly PendingInput[]): Promise<(RegistrationRow | undefined)[]> {
  if (inputs.length === 0) return [];
  const cols = (f: (i: PendingInput) => unknown) => inputs.map(f);
  const inserted = await sql<RegistrationRow>`
    WITH input AS (
      SELECT * FROM unnest(${cols((i) => i.id)}::uuid[], ${cols((i) => i.studentId)}::text[], ${cols((i) => i.sectionId)}::uuid[],
                           ${cols((i) => i.termCode)}::text[], ${cols((i) => i.courseCode)}::text[], ${cols((i) => i.credits)}::int[],
                           ${cols((i) => i.requestId)}::text[], ${cols((i) => i.requestedBy)}::text[], ${cols((i) => i.seatHeld)}::bool[],
                           ${cols((i) => i.capacityOverride)}::bool[])
        AS t(id, student_id, section_id, term_code, course_code, credits, request_id, requested_by, seat_held, capacity_override)
    ), ins AS (
      INSERT INTO registration.registrations (id, student_id, section_id, term_code, course_code, credits, state, request_id, requested_by, seat_held, capacity_override)
      SELECT id, student_id, section_id, term_code, course_code, credits, 'PENDING', request_id, requested_by, seat_held, capacity_override FROM input
      ON CONFLICT DO NOTHING
      RETURNING *
    ), audit AS (
      INSERT INTO registration.audit_events (kind, actor, student_id, section_id, registration_id, request_id, before_state, after_state)
      SELECT 'REQUESTED', requested_by, student_id, section_id, id, request_id, '', 'PENDING' FROM ins
    )
    SELECT * FROM ins`.execute(db);
  const byId = new Map(inserted.rows.map((r) => [r.id, r]));
  const missing = inputs.filter((i) => !byId.has(i.id));
  const earlier = missing.length === 0 ? [] : await findByRequests(db, missing.map((m) => ({ studentId: m.studentId, requestId: m.requestId })));
  const byRequest = new Map(earlier.map((r) => [`${r.student_id}\u0000${r.request_id}`, r]));
  return inputs.map((i) => byId.get(i.id) ?? byRequest.get(`${i.studentId}\u0000${i.requestId}`));
}

export async function findByRequests(db: RegistrationDb, keys: readonly { studentId: string; requestId: string }[]): Promise<RegistrationRow[]> {
  if (keys.length === 0) return [];
  const rows = await sql<RegistrationRow>`
    SELECT r.* FROM registration.registrations r
      JOIN unnest(${keys.map((k) => k.studentId)}::text[], ${keys.map((k) => k.requestId)}::text[]) AS k(student_id, request_id)
        ON r.student_id = k.student_id AND r.request_id = k.request_id`.execute(db);
  return rows.rows;
}

export async function findRegistration(db: RegistrationDb, id: string): Promise<RegistrationRow | undefined> {
  return db.selectFrom('registration.registrations').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findRegistrations(db: RegistrationDb, ids: readonly string[]): Promise<RegistrationRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('registration.registrations').selectAll().where('id', 'in', [...ids]).execute();
}

/** The student's live registration in a section, if any. */
export async function findLive(db: RegistrationDb, studentId: string, sectionId: string): Promise<RegistrationRow | undefined> {
  return db
    .selectFrom('registration.registrations')
    .selectAll()
    .where('student_id', '=', studentId)
    .where('section_id', '=', sectionId)
    .where('state', 'in', LIVE_STATES)
    .executeTakeFirst();
}

/** Live registrations of many students in a term. */
export async function liveOfStudents(db: RegistrationDb, studentIds: readonly string[], termCode?: string): Promise<RegistrationRow[]> {
  if (studentIds.length === 0) return [];
  let q = db.selectFrom('registration.registrations').selectAll().where('student_id', 'in', [...studentIds]).where('state', 'in', LIVE_STATES);
  if (termCode) q = q.where('term_code', '=', termCode);
  return q.execute();
}

/** A page of a student's registrations, newest first, optionally for one term. */
export async function pageOfStudent(db: RegistrationDb, studentId: string, termCode: string | undefined, limit: number, after?: { createdAt: string; id: string }) {
  let q = db.selectFrom('registration.registrations').selectAll().where('student_id', '=', studentId);
  if (termCode) q = q.where('term_code', '=', termCode);
  if (after) q = q.where(sql<boolean>`(created_at, id) < (${after.createdAt}::timestamptz, ${after.id}::uuid)`);
  return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit + 1).execute();
}

/** A section's live registrations: waitlist in arrival order first, then the rest. */
export async function liveOfSection(db: RegistrationDb, sectionId: string): Promise<RegistrationRow[]> {
  return db
    .selectFrom('registration.registrations')
    .selectAll()
    .where('section_id', '=', sectionId)
    .where('state', 'in', LIVE_STATES)
    .orderBy('waitlist_seq')
    .orderBy('created_at')
    .execute();
}

/** Requests still PENDING after `olderThan` (never decided: a lost publish or a dead worker). */
export async function stalePending(db: RegistrationDb, olderThan: Date, limit: number): Promise<RegistrationRow[]> {
  return db
    .selectFrom('registration.registrations')
    .selectAll()
    .where('state', '=', 'PENDING')
    .where('updated_at', '<', olderThan)
    .orderBy('updated_at')
    .limit(limit)
    .execute();
}

/** Marks republished requests so they are not picked again at once. */
export async function touch(db: RegistrationDb, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.updateTable('registration.registrations').set({ updated_at: sql`clock_timestamp()` }).where('id', 'in', [...ids]).where('state', '=', 'PENDING').execute();
}

/** A final or changed state for one registration. */
export interface Transition {
  id: string;
  state: RegistrationStateName;
  reasonCode: string;
  reasonMessage: string;
  waitlistSeq: number | string | null;
}

/** Writes many transitions in one statement. */
export async function writeTransitions(trx: RegistrationDb, ts: readonly Transition[]): Promise<void> {
  if (ts.length === 0) return;
  await sql`
    UPDATE registration.registrations r
       SET state = t.state, reason_code = t.reason_code, reason_message = t.reason_message, waitlist_seq = t.waitlist_seq,
           updated_at = clock_timestamp(),
           decided_at = CASE WHEN t.state = 'PENDING' THEN NULL ELSE coalesce(r.decided_at, clock_timestamp()) END
      FROM unnest(${ts.map((t) => t.id)}::uuid[], ${ts.map((t) => t.state)}::text[], ${ts.map((t) => t.reasonCode)}::text[],
                  ${ts.map((t) => t.reasonMessage)}::text[], ${ts.map((t) => (t.waitlistSeq === null ? null : String(t.waitlistSeq)))}::bigint[])
        AS t(id, state, reason_code, reason_message, waitlist_seq)
     WHERE r.id = t.id`.execute(trx);
}

/** Inserts a registration decided on the spot (swap, registrar placement). */
export async function insertDecided(trx: RegistrationDb, row: PendingInput & { state: RegistrationStateName; reasonCode?: string }): Promise<RegistrationRow> {
  return trx
    .insertInto('registration.registrations')
    .values({
      id: row.id,
      student_id: row.studentId,
      section_id: row.sectionId,
      term_code: row.termCode,
      course_code: row.courseCode,
      credits: row.credits,
      state: row.state,
      reason_code: row.reasonCode ?? '',
      request_id: row.requestId,
      requested_by: row.requestedBy,
      seat_held: row.seatHeld,
      capacity_override: row.capacityOverride,
      decided_at: sql`clock_timestamp()`,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Draws waitlist sequence numbers (arrival order across all sections). */
export async function nextWaitlistSeqs(trx: RegistrationDb, n: number): Promise<string[]> {
  if (n === 0) return [];
  const r = await sql<{ seq: string }>`SELECT nextval('registration.waitlist_seq')::text AS seq FROM generate_series(1, ${n})`.execute(trx);
  return r.rows.map((x) => x.seq);
}

/** Takes transaction-scoped locks on students, in a fixed order, so concurrent deciders never deadlock on them. */
export async function lockStudents(trx: RegistrationDb, studentIds: readonly string[]): Promise<void> {
  if (studentIds.length === 0) return;
  await sql`SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(s, 7) AS k FROM unnest(${[...studentIds]}::text[]) s ORDER BY 1) x`.execute(trx);
}
