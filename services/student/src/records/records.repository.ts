import type { Insertable, Selectable } from 'kysely';
import type { CompletedCourseTable, StudentDb } from '../db';

export type CompletedCourseRow = Selectable<CompletedCourseTable>;
export type CompletedCourseValues = Omit<Insertable<CompletedCourseTable>, 'recorded_at'>;

/** Records a completed course; the same course and term again replaces the grade. */
export function upsertCompletedCourse(db: StudentDb, v: CompletedCourseValues): Promise<CompletedCourseRow> {
  return db
    .insertInto('student.completed_courses')
    .values(v)
    .onConflict((oc) =>
      oc.columns(['student_id', 'course_code', 'term_code']).doUpdateSet({
        grade: v.grade,
        credits: v.credits,
        term_start_date: v.term_start_date,
        recorded_at: new Date(),
      }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** A student's record, oldest term first (terms unknown to the catalog before the rest). */
export function completedCoursesOf(db: StudentDb, studentId: string): Promise<CompletedCourseRow[]> {
  return db
    .selectFrom('student.completed_courses')
    .selectAll()
    .where('student_id', '=', studentId)
    .orderBy('term_start_date', (ob) => ob.asc().nullsFirst())
    .orderBy('term_code')
    .orderBy('course_code')
    .execute();
}

/** The records of several students in one query. */
export async function completedCoursesOfMany(db: StudentDb, studentIds: string[]): Promise<Map<string, CompletedCourseRow[]>> {
  const out = new Map<string, CompletedCourseRow[]>();
  if (studentIds.length === 0) return out;
  const rows = await db.selectFrom('student.completed_courses').selectAll().where('student_id', 'in', studentIds).execute();
  for (const r of rows) (out.get(r.student_id) ?? out.set(r.student_id, []).get(r.student_id)!).push(r);
  return out;
}
