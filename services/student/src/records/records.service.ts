import { Grade } from '../../../../gen/coursereg/course/v1/course';
import type { CompletedCourse } from '../../../../gen/coursereg/student/v1/student';
import { enumCodec } from '../../../shared/src/enums';
import type { GradeName } from '../db';
import type { CompletedCourseRow } from './records.repository';

export const grade = enumCodec<typeof Grade, GradeName>(Grade, 'GRADE_');

/** The lowest passing grade; grades follow the enum numbers. */
export const LOWEST_PASSING = Grade.GRADE_D_MINUS;

export const isPassing = (g: Grade) => g >= LOWEST_PASSING;

/** Credits a grade earns: the course's credits, nothing for a fail. */
export function creditsEarned(courseCredits: number, g: Grade): number {
  return isPassing(g) ? courseCredits : 0;
}

export function completedFromRow(r: CompletedCourseRow): CompletedCourse {
  return { courseCode: r.course_code, termCode: r.term_code, grade: grade.fromDb(r.grade), credits: r.credits };
}

/** Total credits earned; a course passed more than once counts once, at its best attempt. */
export function totalCredits(record: CompletedCourse[]): number {
  const best = new Map<string, number>();
  for (const c of record) best.set(c.courseCode, Math.max(best.get(c.courseCode) ?? 0, c.credits));
  let total = 0;
  for (const credits of best.values()) total += credits;
  return total;
}
