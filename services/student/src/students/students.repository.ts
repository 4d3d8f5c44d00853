import type { Selectable } from 'kysely';
import type { StudentDb, StudentTable } from '../db';

export type StudentRow = Selectable<StudentTable>;
export type StudentValues = Omit<StudentRow, 'version' | 'created_at' | 'updated_at'>;

export function findStudent(db: StudentDb, id: string): Promise<StudentRow | undefined> {
  return db.selectFrom('student.students').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Locks a student's row for the rest of the transaction. */
export function lockStudent(db: StudentDb, id: string): Promise<StudentRow | undefined> {
  return db.selectFrom('student.students').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

export function findStudents(db: StudentDb, ids: string[]): Promise<StudentRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db.selectFrom('student.students').selectAll().where('id', 'in', ids).execute();
}

export async function studentExists(db: StudentDb, id: string): Promise<boolean> {
  return (await db.selectFrom('student.students').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
}

export function insertStudent(db: StudentDb, values: StudentValues): Promise<StudentRow> {
  return db.insertInto('student.students').values(values).returningAll().executeTakeFirstOrThrow();
}

export function updateStudent(db: StudentDb, id: string, values: Partial<StudentValues>): Promise<StudentRow> {
  return db
    .updateTable('student.students')
    .set((eb) => ({ ...values, version: eb('version', '+', 1), updated_at: new Date() }))
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Students by id after the `after` id, optionally those whose id, name or email contains `query`. */
export function listStudents(db: StudentDb, limit: number, filters: { query: string }, after?: string): Promise<StudentRow[]> {
  let q = db.selectFrom('student.students').selectAll().orderBy('id').limit(limit);
  if (filters.query) {
    const pattern = `%${filters.query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    q = q.where((eb) => eb.or([eb('id', 'ilike', pattern), eb('name', 'ilike', pattern), eb('email', 'ilike', pattern)]));
  }
  if (after !== undefined) q = q.where('id', '>', after);
  return q.execute();
}
