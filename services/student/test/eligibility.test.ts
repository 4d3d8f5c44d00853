import { status } from '@grpc/grpc-js';
import { Grade, SectionStatus, TermStatus } from '../../../gen/coursereg/course/v1/course';
import { HoldKind } from '../../../gen/coursereg/student/v1/student';
import type { EligibilityQuery, EligibilityResult } from '../../../gen/coursereg/student/v1/student_service';
import { rpcError } from '../../shared/testing/harness';
import { courseInput, requires, sectionInput, termInput } from '../../course/test/course.fixtures';
import { createStudents, startStudentWorld, type StudentWorld } from './student.fixtures';

let w: StudentWorld;
const ids: Record<string, string> = {};

const AT = new Date('2026-12-01T12:00:00Z');
const WINDOW = new Date('2026-11-02T14:00:00Z');
const UNKNOWN_SECTION = '00000000-0000-4000-8000-000000000000';

const forSection = (studentId: string, sectionId: string): EligibilityQuery => ({ studentId, target: { $case: 'sectionId', sectionId } });
const forCourse = (studentId: string, courseCode: string): EligibilityQuery => ({ studentId, target: { $case: 'courseCode', courseCode } });
const codes = (r: EligibilityResult) => r.ineligibilities.map((i) => i.reasonCode);

async function createSection(key: string, courseCode: string, sectionCode: string, termCode = '2027SP') {
  const { section } = await w.catalog.createSection({ section: sectionInput(courseCode, sectionCode, { termCode }) }, w.registrar);
  ids[key] = section!.id;
  return section!;
}

beforeAll(async () => {
  w = await startStudentWorld('eligibility');
  const { catalog, registrar } = w;
  await catalog.createTerm({ term: termInput('2027SP') }, registrar);
  await catalog.createTerm({ term: termInput('2027FA', { startDate: '2027-08-30', endDate: '2027-12-17', status: TermStatus.TERM_STATUS_PLANNED }) }, registrar);
  for (const code of ['CS 101', 'CS 210', 'MATH 101', 'ART 100']) await catalog.createCourse({ course: courseInput(code) }, registrar);
  await catalog.createCourse({ course: courseInput('CS 201', { prerequisite: requires('CS 101', Grade.GRADE_C), corequisiteCodes: ['CS 210'] }) }, registrar);

  await createSection('cs101', 'CS 101', '001');
  await createSection('cs201', 'CS 201', '001');
  const closed = await createSection('mathClosed', 'MATH 101', '001');
  await catalog.updateSection({ section: { ...closed, status: SectionStatus.SECTION_STATUS_CLOSED }, updateMask: ['status'] }, registrar);
  const cancelled = await createSection('mathCancelled', 'MATH 101', '002');
  await catalog.cancelSection({ id: cancelled.id, etag: cancelled.etag }, registrar);
  await createSection('mathFall', 'MATH 101', '001', '2027FA');

  await createStudents(w, 'S0001', 'S0002', 'S0003');
  await w.api.recordCompletedCourse({ studentId: 'S0001', courseCode: 'CS 101', termCode: '2026FA', grade: Grade.GRADE_B }, registrar);
  await w.api.recordCompletedCourse({ studentId: 'S0003', courseCode: 'CS 101', termCode: '2026FA', grade: Grade.GRADE_D }, registrar);
  for (const id of ['S0001', 'S0003']) await w.api.setRegistrationWindow({ studentId: id, termCode: '2027SP', opensTime: WINDOW }, registrar);
  await w.api.placeHold({ studentId: 'S0002', kind: HoldKind.HOLD_KIND_FINANCIAL, reason: 'Unpaid balance' }, registrar);
});
afterAll(async () => w.stop());

describe('checkEligibility', () => {
  test('checkEligibility_withManyPairsInOneCall_reportsEachPairsUnmetConditions', async () => {
    const queries = [
      forSection('S0001', ids.cs201),
      forSection('S0002', ids.cs201),
      forSection('S0003', ids.cs201),
      forSection('S0001', ids.cs101),
      forSection('S0001', ids.mathClosed),
      forSection('S0001', ids.mathCancelled),
      forSection('S0001', ids.mathFall),
      forSection('S9999', ids.cs201),
      forSection('S0001', UNKNOWN_SECTION),
      forCourse('S0001', 'XX 999'),
      forCourse('S0002', 'CS 201'),
      forCourse('S0001', 'MATH 101'),
    ];
    const { results } = await w.api.checkEligibility({ queries, atTime: AT }, w.registrar);
    expect(results.map((r) => r.query)).toEqual(queries);
    expect(results.map(codes)).toEqual([
      [],
      ['HOLD_ACTIVE', 'PREREQUISITE_NOT_MET', 'REGISTRATION_WINDOW_CLOSED'],
      ['PREREQUISITE_NOT_MET'],
      ['ALREADY_COMPLETED'],
      ['SECTION_CLOSED'],
      ['SECTION_CANCELLED'],
      ['REGISTRATION_WINDOW_CLOSED', 'TERM_NOT_OPEN'],
      ['STUDENT_NOT_FOUND'],
      ['SECTION_NOT_FOUND'],
      ['COURSE_NOT_FOUND'],
      ['HOLD_ACTIVE', 'PREREQUISITE_NOT_MET'],
      [],
    ]);
    expect(results.map((r) => r.eligible)).toEqual(results.map((r) => r.ineligibilities.length === 0));
    expect(results[0]).toMatchObject({ pendingCorequisiteCodes: ['CS 210'], windowOpensTime: WINDOW });
    expect(results[1].ineligibilities[1].missingCourseCodes).toEqual(['CS 101']);
    expect(results[1].windowOpensTime).toBeUndefined();
    expect(results[2].ineligibilities[0].missingCourseCodes).toEqual(['CS 101']);
  });

  test('checkEligibility_beforeWindowOrAfterDeadline_reportsWindowClosed', async () => {
    const queries = [forSection('S0001', ids.cs201)];
    const early = await w.api.checkEligibility({ queries, atTime: new Date('2026-11-02T13:00:00Z') }, w.service);
    expect(codes(early.results[0])).toEqual(['REGISTRATION_WINDOW_CLOSED']);
    const late = await w.api.checkEligibility({ queries, atTime: new Date('2027-02-01T00:00:00Z') }, w.service);
    expect(codes(late.results[0])).toEqual(['REGISTRATION_WINDOW_CLOSED']);
  });

  test('checkEligibility_afterHoldReleased_noLongerReportsHoldActive', async () => {
    const { hold } = await w.api.placeHold({ studentId: 'S0003', kind: HoldKind.HOLD_KIND_ADVISING, reason: 'See advisor' }, w.registrar);
    const before = await w.api.checkEligibility({ queries: [forCourse('S0003', 'MATH 101')], atTime: AT }, w.registrar);
    expect(codes(before.results[0])).toEqual(['HOLD_ACTIVE']);
    await w.api.releaseHold({ holdId: hold!.id }, w.registrar);
    const after = await w.api.checkEligibility({ queries: [forCourse('S0003', 'MATH 101')], atTime: AT }, w.registrar);
    expect(after.results[0].eligible).toBe(true);
  });

  test('checkEligibility_withMoreSectionsThanOneCatalogBatch_answersEveryPair', async () => {
    const sections: string[] = [];
    for (let start = 0; start < 205; start += 25) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(25, 205 - start) }, (_, i) =>
          w.catalog.createSection({ section: sectionInput('ART 100', `A${String(start + i).padStart(3, '0')}`) }, w.registrar),
        ),
      );
      sections.push(...batch.map((r) => r.section!.id));
    }
    const queries = [...sections.map((id) => forSection('S0001', id)), forSection('S0001', UNKNOWN_SECTION)];
    const { results } = await w.api.checkEligibility({ queries, atTime: AT }, w.registrar);
    expect(results).toHaveLength(206);
    expect(results.slice(0, 205).every((r) => r.eligible)).toBe(true);
    expect(codes(results[205])).toEqual(['SECTION_NOT_FOUND']);
  });

  test('checkEligibility_asStudentForThemselves_answersAtTheCurrentTime', async () => {
    const { results } = await w.api.checkEligibility({ queries: [forCourse('S0001', 'CS 201')], atTime: undefined }, w.student);
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ eligible: true, pendingCorequisiteCodes: ['CS 210'] });
  });

  test('checkEligibility_asStudentForAnotherStudent_givesPermissionDenied', async () => {
    const e = await rpcError(w.api.checkEligibility({ queries: [forCourse('S0001', 'CS 201'), forCourse('S0002', 'CS 201')], atTime: undefined }, w.student));
    expect(e.code).toBe(status.PERMISSION_DENIED);
  });

  test('checkEligibility_asStudentWithAtTime_givesPermissionDenied', async () => {
    const e = await rpcError(w.api.checkEligibility({ queries: [forCourse('S0001', 'CS 201')], atTime: AT }, w.student));
    expect(e.code).toBe(status.PERMISSION_DENIED);
  });

  test('checkEligibility_withForgedToken_givesUnauthenticated', async () => {
    const e = await rpcError(w.api.checkEligibility({ queries: [forCourse('S0001', 'CS 201')], atTime: undefined }, await w.env.forgedAuth('service', 'x')));
    expect(e.code).toBe(status.UNAUTHENTICATED);
  });

  test('checkEligibility_withNoQueriesTooManyOrMalformedOnes_givesInvalidArgument', async () => {
    const none = await rpcError(w.api.checkEligibility({ queries: [], atTime: undefined }, w.registrar));
    expect(none.fieldViolations).toEqual([{ field: 'queries', description: 'must have at least one query' }]);
    const many = await rpcError(w.api.checkEligibility({ queries: Array.from({ length: 501 }, () => forCourse('S0001', 'CS 201')), atTime: undefined }, w.registrar));
    expect(many.fieldViolations).toEqual([{ field: 'queries', description: 'must have at most 500 queries' }]);
    const malformed = await rpcError(
      w.api.checkEligibility({ queries: [forCourse('S0001', 'CS 201'), { studentId: 'S0001', target: undefined }, forSection('bob', 'nope')], atTime: undefined }, w.registrar),
    );
    expect(malformed.fieldViolations.map((v) => v.field)).toEqual(['queries[1]', 'queries[2].student_id', 'queries[2].section_id']);
  });
});
