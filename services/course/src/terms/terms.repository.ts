import type { Selectable } from 'kysely';
import type { CourseDb, TermTable } from '../db';

export type TermRow = Selectable<TermTable>;
export type TermValues = Omit<TermRow, 'version' | 'created_at' | 'updated_at'>;

export function findTerm(db: CourseDb, code: string): Promise<TermRow | undefined> {
  return db.selectFrom('course.terms').selectAll().where('code', '=', code).executeTakeFirst();
}

export function insertTerm(db: CourseDb, values: TermValues): Promise<TermRow> {
  return db.insertInto('course.terms').values(values).returningAll().executeTakeFirstOrThrow();
}

/** Updates a term if its version still matches; undefined when it does not (or the term is gone). */
export function updateTermIfVersion(db: CourseDb, code: string, version: number, values: Partial<TermValues>): Promise<TermRow | undefined> {
  return db
    .updateTable('course.terms')
    .set((eb) => ({ ...values, version: eb('version', '+', 1), updated_at: new Date() }))
    .where('code', '=', code)
    .where('version', '=', version)
    .returningAll()
    .executeTakeFirst();
}

export async function deleteTermIfVersion(db: CourseDb, code: string, version: number): Promise<boolean> {
  const r = await db.deleteFrom('course.terms').where('code', '=', code).where('version', '=', version).executeTakeFirst();
  return r.numDeletedRows > 0n;
}

/** Terms, newest start date first, after the (start_date, code) key. */
export function listTerms(db: CourseDb, limit: number, after?: [string, string]): Promise<TermRow[]> {
  let q = db.selectFrom('course.terms').selectAll().orderBy('start_date', 'desc').orderBy('code', 'desc').limit(limit);
  if (after) q = q.where((eb) => eb.or([eb('start_date', '<', after[0]), eb.and([eb('start_date', '=', after[0]), eb('code', '<', after[1])])]));
  return q.execute();
}

export async function termHasSections(db: CourseDb, code: string): Promise<boolean> {
  const r = await db.selectFrom('course.sections').select('id').where('term_code', '=', code).limit(1).executeTakeFirst();
  return r !== undefined;
}
