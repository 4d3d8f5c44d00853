import { sql, type Selectable } from 'kysely';
import type { CourseDb, CourseTable } from '../db';

export type CourseRow = Selectable<CourseTable> & { corequisite_codes: string[] };
export interface CourseValues {
  code: string;
  title: string;
  description: string;
  credits: number;
  department: string;
  prerequisite: unknown | null;
}

function selectCourses(db: CourseDb) {
  return db.selectFrom('course.courses as c').selectAll('c').select((eb) =>
    eb.fn
      .coalesce(
        eb
          .selectFrom('course.course_requisites as r')
          .select(sql<string[]>`array_agg(r.required_code ORDER BY r.required_code)`.as('codes'))
          .whereRef('r.course_code', '=', 'c.code')
          .where('r.kind', '=', 'CO'),
        sql<string[]>`'{}'::text[]`,
      )
      .as('corequisite_codes'),
  );
}

export function findCourse(db: CourseDb, code: string): Promise<CourseRow | undefined> {
  return selectCourses(db).where('c.code', '=', code).executeTakeFirst();
}

export function findCourses(db: CourseDb, codes: string[]): Promise<CourseRow[]> {
  return selectCourses(db).where('c.code', 'in', codes).execute();
}

export function listCourses(db: CourseDb, limit: number, filters: { department: string; query: string }, after?: string): Promise<CourseRow[]> {
  let q = selectCourses(db).orderBy('c.code').limit(limit);
  if (filters.department) q = q.where('c.department', '=', filters.department);
  if (filters.query) {
    const pattern = `%${filters.query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    q = q.where((eb) => eb.or([eb('c.code', 'ilike', pattern), eb('c.title', 'ilike', pattern)]));
  }
  if (after !== undefined) q = q.where('c.code', '>', after);
  return q.execute();
}

export async function insertCourse(db: CourseDb, v: CourseValues): Promise<void> {
  await db
    .insertInto('course.courses')
    .values({ ...v, prerequisite: v.prerequisite === null ? null : JSON.stringify(v.prerequisite) })
    .execute();
}

export async function updateCourseIfVersion(db: CourseDb, code: string, version: number, v: Omit<CourseValues, 'code' | 'department'>): Promise<boolean> {
  const r = await db
    .updateTable('course.courses')
    .set((eb) => ({
      ...v,
      prerequisite: v.prerequisite === null ? null : JSON.stringify(v.prerequisite),
      version: eb('version', '+', 1),
      updated_at: new Date(),
    }))
    .where('code', '=', code)
    .where('version', '=', version)
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

export async function deleteCourseIfVersion(db: CourseDb, code: string, version: number): Promise<boolean> {
  const r = await db.deleteFrom('course.courses').where('code', '=', code).where('version', '=', version).executeTakeFirst();
  return r.numDeletedRows > 0n;
}

/** Replaces a course's requisite rows (prerequisite courses and corequisites). */
export async function replaceRequisites(db: CourseDb, code: string, pre: string[], co: string[]): Promise<void> {
  await db.deleteFrom('course.course_requisites').where('course_code', '=', code).execute();
  const rows = [
    ...pre.map((r) => ({ course_code: code, required_code: r, kind: 'PRE' as const })),
    ...co.map((r) => ({ course_code: code, required_code: r, kind: 'CO' as const })),
  ];
  if (rows.length > 0) await db.insertInto('course.course_requisites').values(rows).execute();
}

/** True if following prerequisites from `code` leads back to `code`. */
export async function hasPrerequisiteCycle(db: CourseDb, code: string): Promise<boolean> {
  const r = await sql<{ found: boolean }>`
    WITH RECURSIVE reach(code) AS (
      SELECT required_code FROM course.course_requisites WHERE course_code = ${code} AND kind = 'PRE'
      UNION
      SELECT r.required_code FROM course.course_requisites r JOIN reach ON r.course_code = reach.code WHERE r.kind = 'PRE'
    )
    SELECT EXISTS (SELECT 1 FROM reach WHERE code = ${code}) AS found`.execute(db);
  return r.rows[0].found;
}

export async function courseHasSections(db: CourseDb, code: string): Promise<boolean> {
  return (await db.selectFrom('course.sections').select('id').where('course_code', '=', code).limit(1).executeTakeFirst()) !== undefined;
}

export async function coursesRequiring(db: CourseDb, code: string): Promise<string[]> {
  const rows = await db.selectFrom('course.course_requisites').select('course_code').where('required_code', '=', code).orderBy('course_code').execute();
  return rows.map((r) => r.course_code);
}

/** Which of `codes` exist. */
export async function existingCourseCodes(db: CourseDb, codes: string[]): Promise<Set<string>> {
  if (codes.length === 0) return new Set();
  const rows = await db.selectFrom('course.courses').select('code').where('code', 'in', codes).execute();
  return new Set(rows.map((r) => r.code));
}
