import type { Selectable } from 'kysely';
import type { RegistrationWindowTable, StudentDb } from '../db';

export type WindowRow = Selectable<RegistrationWindowTable>;

/** Creates or replaces a student's window for a term. */
export function upsertWindow(db: StudentDb, v: { student_id: string; term_code: string; opens_at: Date }): Promise<WindowRow> {
  return db
    .insertInto('student.registration_windows')
    .values(v)
    .onConflict((oc) => oc.columns(['student_id', 'term_code']).doUpdateSet({ opens_at: v.opens_at, updated_at: new Date() }))
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** A student's windows, earliest opening first. */
export function windowsOf(db: StudentDb, studentId: string): Promise<WindowRow[]> {
  return db.selectFrom('student.registration_windows').selectAll().where('student_id', '=', studentId).orderBy('opens_at').orderBy('term_code').execute();
}

/** The windows of several students in one query. */
export async function windowsOfMany(db: StudentDb, studentIds: string[]): Promise<Map<string, WindowRow[]>> {
  const out = new Map<string, WindowRow[]>();
  if (studentIds.length === 0) return out;
  const rows = await db.selectFrom('student.registration_windows').selectAll().where('student_id', 'in', studentIds).execute();
  for (const r of rows) (out.get(r.student_id) ?? out.set(r.student_id, []).get(r.student_id)!).push(r);
  return out;
}
