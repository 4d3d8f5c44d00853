import { z } from 'zod';
import type { Term } from '../../../../gen/coursereg/course/v1/course';
import type { EligibilityQuery, StudentServiceServer } from '../../../../gen/coursereg/student/v1/student_service';
import { principalOf, requireSelfOrStaff } from '../../../shared/src/auth';
import { permissionDenied } from '../../../shared/src/errors';
import { unary } from '../../../shared/src/server';
import { rules, validate } from '../../../shared/src/validation';
import type { StudentDeps } from '../deps';
import { activeHoldsOfMany } from '../holds/holds.repository';
import { holdKind } from '../holds/holds.service';
import { completedCoursesOfMany } from '../records/records.repository';
import { grade } from '../records/records.service';
import { findStudents } from '../students/students.repository';
import { studentId } from '../students/students.service';
import { windowsOfMany } from '../windows/windows.repository';
import { checkEligibility, type StudentFacts } from './eligibility.service';

const courseCode = rules.courseCode;

type EligibilityHandlers = Pick<StudentServiceServer, 'checkEligibility'>;

export const MAX_QUERIES = 500;

// The oneof is flattened so violations name proto fields (queries[2].section_id).
const querySchema = z
  .object({ studentId: studentId(), sectionId: rules.uuid().optional(), courseCode: courseCode().optional() })
  .refine((q) => q.sectionId !== undefined || q.courseCode !== undefined, 'must name a section_id or a course_code');

const checkRequest = z.object({
  queries: z.array(querySchema).min(1, 'must have at least one query').max(MAX_QUERIES, `must have at most ${MAX_QUERIES} queries`),
  atTime: z.date().optional(),
});

const flatten = (q: EligibilityQuery) => ({
  studentId: q.studentId,
  sectionId: q.target?.$case === 'sectionId' ? q.target.sectionId : undefined,
  courseCode: q.target?.$case === 'courseCode' ? q.target.courseCode : undefined,
});

const distinct = <T>(xs: (T | undefined)[]) => [...new Set(xs.filter((x): x is T => x !== undefined))];

export function eligibilityHandlers({ db, catalog, log }: StudentDeps): EligibilityHandlers {
  return {
    checkEligibility: unary(log, 'CheckEligibility', async (call) => {
      const req = validate(checkRequest, { queries: call.request.queries.map(flatten), atTime: call.request.atTime });
      const principal = principalOf(call);
      for (const q of req.queries) requireSelfOrStaff(principal, q.studentId);
      if (req.atTime && principal.role === 'student') throw permissionDenied('only registrars and services may check eligibility at another time');
      const at = req.atTime ?? new Date();

      // Everything is loaded in bulk: one query per table, one catalog call per batch.
      const studentIds = distinct(req.queries.map((q) => q.studentId));
      const [students, holds, completed, windows, sections] = await Promise.all([
        findStudents(db, studentIds),
        activeHoldsOfMany(db, studentIds),
        completedCoursesOfMany(db, studentIds),
        windowsOfMany(db, studentIds),
        catalog.getSections(distinct(req.queries.map((q) => q.sectionId))),
      ]);
      const sectionList = [...sections.values()];
      const termCodes = distinct(sectionList.map((s) => s.termCode));
      const [courses, termList] = await Promise.all([
        catalog.getCourses(distinct([...req.queries.map((q) => q.courseCode), ...sectionList.map((s) => s.courseCode)])),
        Promise.all(termCodes.map((code) => catalog.getTerm(code))),
      ]);
      const terms = new Map(termList.filter((t): t is Term => t !== undefined).map((t) => [t.code, t]));

      const facts = new Map<string, StudentFacts>(
        students.map((s) => [
          s.id,
          {
            activeHolds: (holds.get(s.id) ?? []).map((h) => ({ kind: holdKind.fromDb(h.kind), reason: h.reason })),
            completed: (completed.get(s.id) ?? []).map((c) => ({ courseCode: c.course_code, termCode: c.term_code, grade: grade.fromDb(c.grade) })),
            windows: new Map((windows.get(s.id) ?? []).map((w) => [w.term_code, w.opens_at])),
            maxCredits: s.max_credits,
          },
        ]),
      );

      return {
        results: call.request.queries.map((query, i) => {
          const q = req.queries[i];
          const section = q.sectionId === undefined ? undefined : sections.get(q.sectionId);
          const code = q.courseCode ?? section?.courseCode;
          return checkEligibility(
            query,
            {
              student: facts.get(q.studentId),
              section,
              course: code === undefined ? undefined : courses.get(code),
              term: section && terms.get(section.termCode),
            },
            at,
          );
        }),
      };
    }),
  };
}
