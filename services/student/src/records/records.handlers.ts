import { z } from 'zod';
import { Grade } from '../../../../gen/coursereg/course/v1/course';
import type { StudentServiceServer } from '../../../../gen/coursereg/student/v1/student_service';
import { principalOf, requireRole, requireSelfOrStaff } from '../../../shared/src/auth';
import { isForeignKeyViolation } from '../../../shared/src/db';
import { failedPrecondition } from '../../../shared/src/errors';
import { unary } from '../../../shared/src/server';
import { rules, validate } from '../../../shared/src/validation';
import type { StudentDeps } from '../deps';
import { studentExists } from '../students/students.repository';
import { studentId, studentNotFound } from '../students/students.service';
import * as repo from './records.repository';
import { completedFromRow, creditsEarned, grade, totalCredits } from './records.service';

const courseCode = rules.courseCode;
const termCode = rules.termCode;

type RecordHandlers = Pick<StudentServiceServer, 'recordCompletedCourse' | 'getAcademicRecord'>;

const recordRequest = z.object({
  studentId: studentId(),
  courseCode: courseCode(),
  termCode: termCode(),
  grade: rules.enumValue(Grade, 'grade'),
});

export function recordHandlers({ db, catalog, log }: StudentDeps): RecordHandlers {
  return {
    recordCompletedCourse: unary(log, 'RecordCompletedCourse', async (call) => {
      requireRole(principalOf(call), 'registrar');
      const req = validate(recordRequest, call.request);
      if (!(await studentExists(db, req.studentId))) throw studentNotFound(req.studentId);
      // Terms before the catalog existed (or transfer terms) are accepted; a known
      // term only contributes its start date, to order the record.
      const [courses, term] = await Promise.all([catalog.getCourses([req.courseCode]), catalog.getTerm(req.termCode)]);
      const course = courses.get(req.courseCode);
      if (!course) throw failedPrecondition('COURSE_NOT_FOUND', `no course ${req.courseCode} in the catalog`, { course_code: req.courseCode });
      try {
        const row = await repo.upsertCompletedCourse(db, {
          student_id: req.studentId,
          course_code: req.courseCode,
          term_code: req.termCode,
          grade: grade.toDb(req.grade),
          credits: creditsEarned(course.credits, req.grade),
          term_start_date: term?.startDate ?? null,
        });
        return { completedCourse: completedFromRow(row) };
      } catch (err) {
        if (isForeignKeyViolation(err)) throw studentNotFound(req.studentId);
        throw err;
      }
    }),

    getAcademicRecord: unary(log, 'GetAcademicRecord', async (call) => {
      const req = validate(z.object({ studentId: studentId() }), call.request);
      requireSelfOrStaff(principalOf(call), req.studentId);
      if (!(await studentExists(db, req.studentId))) throw studentNotFound(req.studentId);
      const completedCourses = (await repo.completedCoursesOf(db, req.studentId)).map(completedFromRow);
      return { completedCourses, totalCredits: totalCredits(completedCourses) };
    }),
  };
}
