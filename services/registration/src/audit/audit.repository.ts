import { sql, type Selectable } from 'kysely';
import type { AuditEventTable, RegistrationDb } from '../db';

export type AuditRow = Selectable<AuditEventTable>;

export interface AuditInput {
  kind: string;
  actor: string;
  studentId: string;
  sectionId: string;
  registrationId: string | null;
  requestId: string;
  beforeState: string;
  afterState: string;
  reasonCode: string;
}

/** Appends events; returns them with their sequence numbers, in order. */
export async function appendAudit(trx: RegistrationDb, events: readonly AuditInput[]): Promise<AuditRow[]> {
  if (events.length === 0) return [];
  const col = <T>(f: (e: AuditInput) => T) => events.map(f);
  const r = await sql<AuditRow>`
    INSERT INTO registration.audit_events (kind, actor, student_id, section_id, registration_id, request_id, before_state, after_state, reason_code)
    SELECT * FROM unnest(${col((e) => e.kind)}::text[], ${col((e) => e.actor)}::text[], ${col((e) => e.studentId)}::text[],
                         ${col((e) => e.sectionId)}::uuid[], ${col((e) => e.registrationId)}::uuid[], ${col((e) => e.requestId)}::text[],
                         ${col((e) => e.beforeState)}::text[], ${col((e) => e.afterState)}::text[], ${col((e) => e.reasonCode)}::text[])
    RETURNING *`.execute(trx);
  return r.rows.sort((a, b) => Number(a.sequence) - Number(b.sequence));
}

/** A page of events for a section or a student, oldest first. */
export async function pageOfEvents(db: RegistrationDb, subject: { sectionId: string } | { studentId: string }, limit: number, afterSequence?: string) {
  let q = db.selectFrom('registration.audit_events').selectAll();
  q = 'sectionId' in subject ? q.where('section_id', '=', subject.sectionId) : q.where('student_id', '=', subject.studentId);
  if (afterSequence) q = q.where('sequence', '>', afterSequence as never);
  return q.orderBy('sequence').limit(limit + 1).execute();
}

/** A section's events up to a moment, in order: the input of a snapshot replay. */
export async function eventsOfSectionUntil(db: RegistrationDb, sectionId: string, at: Date): Promise<AuditRow[]> {
  return db.selectFrom('registration.audit_events').selectAll().where('section_id', '=', sectionId).where('occurred_at', '<=', at).orderBy('sequence').execute();
}

/** The request id a student's earlier drop carried, to answer a repeated Drop. */
export async function findEventByRequest(db: RegistrationDb, studentId: string, kind: string, requestId: string): Promise<AuditRow | undefined> {
  return db
    .selectFrom('registration.audit_events')
    .selectAll()
    .where('student_id', '=', studentId)
    .where('kind', '=', kind)
    .where('request_id', '=', requestId)
    .orderBy('sequence')
    .executeTakeFirst();
}
