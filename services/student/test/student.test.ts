import { Metadata, status } from '@grpc/grpc-js';
import { sql } from 'kysely';
import { Grade, TermStatus } from '../../../gen/coursereg/course/v1/course';
import { ClassStanding, HoldKind } from '../../../gen/coursereg/student/v1/student';
import { rpcError } from '../../shared/testing/harness';
import { courseInput, termInput } from '../../course/test/course.fixtures';
import { createStudents, startStudentWorld, studentInput, type StudentWorld } from './student.fixtures';

let w: StudentWorld;

beforeAll(async () => {
  w = await startStudentWorld('student');
  await w.catalog.createTerm({ term: termInput('2027SP') }, w.registrar);
  await w.catalog.createTerm({ term: termInput('2027FA', { startDate: '2027-08-30', endDate: '2027-12-17', status: TermStatus.TERM_STATUS_PLANNED }) }, w.registrar);
  await w.catalog.createCourse({ course: courseInput('CS 101', { credits: 4 }) }, w.registrar);
  await w.catalog.createCourse({ course: courseInput('MATH 101', { credits: 3 }) }, w.registrar);
});
beforeEach(async () => w.truncate());
afterAll(async () => w.stop());

describe('authentication', () => {
  test('getStudent_withoutToken_givesUnauthenticated', async () => {
    const e = await rpcError(w.api.getStudent({ id: 'S0001' }, new Metadata()));
    expect(e).toMatchObject({ code: status.UNAUTHENTICATED, reason: 'TOKEN_MISSING' });
  });

  test('getStudent_withExpiredToken_givesUnauthenticated', async () => {
    const e = await rpcError(w.api.getStudent({ id: 'S0001' }, await w.env.auth('student', 'S0001', -10)));
    expect(e).toMatchObject({ code: status.UNAUTHENTICATED, reason: 'TOKEN_EXPIRED' });
  });

  test('getStudent_withForgedToken_givesUnauthenticated', async () => {
    const e = await rpcError(w.api.getStudent({ id: 'S0001' }, await w.env.forgedAuth('registrar', 'mallory')));
    expect(e).toMatchObject({ code: status.UNAUTHENTICATED, reason: 'TOKEN_INVALID' });
  });
});

describe('students', () => {
  test('createStudent_thenGetStudent_returnsIt', async () => {
    const { student } = await w.api.createStudent({ student: studentInput('S0001', { name: 'Grace Hopper' }) }, w.registrar);
    expect(student).toMatchObject({ id: 'S0001', name: 'Grace Hopper', etag: 'v1', classStanding: ClassStanding.CLASS_STANDING_SOPHOMORE, maxCredits: 18 });
    expect(student?.createTime).toBeInstanceOf(Date);
    const got = await w.api.getStudent({ id: 'S0001' }, w.student);
    expect(got.student).toEqual(student);
  });

  test('getStudent_asService_returnsIt', async () => {
    await createStudents(w, 'S0002');
    expect((await w.api.getStudent({ id: 'S0002' }, w.service)).student?.id).toBe('S0002');
  });

  test('createStudent_withInvalidFields_listsEachViolation', async () => {
    const bad = studentInput('X12', { name: '', email: 'not-an-email', program: 'p'.repeat(101), classStanding: 99 as ClassStanding, maxCredits: 0 });
    const e = await rpcError(w.api.createStudent({ student: bad }, w.registrar));
    expect(e.code).toBe(status.INVALID_ARGUMENT);
    expect([...new Set(e.fieldViolations.map((v) => v.field))].sort()).toEqual([
      'student.class_standing',
      'student.email',
      'student.id',
      'student.max_credits',
      'student.name',
      'student.program',
    ]);
  });

  test('createStudent_withNameTooLong_saysSo', async () => {
    const e = await rpcError(w.api.createStudent({ student: studentInput('S0001', { name: 'n'.repeat(201) }) }, w.registrar));
    expect(e.fieldViolations).toEqual([{ field: 'student.name', description: 'must have at most 200 characters' }]);
  });

  test('createStudent_withUnspecifiedClassStanding_givesInvalidArgument', async () => {
    const e = await rpcError(w.api.createStudent({ student: studentInput('S0001', { classStanding: ClassStanding.CLASS_STANDING_UNSPECIFIED }) }, w.registrar));
    expect(e.fieldViolations.map((v) => v.field)).toEqual(['student.class_standing']);
  });

  test('createStudent_withoutStudent_givesInvalidArgument', async () => {
    const e = await rpcError(w.api.createStudent({ student: undefined }, w.registrar));
    expect(e.fieldViolations).toEqual([{ field: 'student', description: 'is required' }]);
  });

  test('createStudent_withTakenIdOrEmail_givesAlreadyExists', async () => {
    await createStudents(w, 'S0001');
    const sameId = await rpcError(w.api.createStudent({ student: studentInput('S0001', { email: 'other@example.edu' }) }, w.registrar));
    expect(sameId).toMatchObject({ code: status.ALREADY_EXISTS, reason: 'STUDENT_EXISTS' });
    const sameEmail = await rpcError(w.api.createStudent({ student: studentInput('S0002', { email: 'S0001@Students.Example.edu' }) }, w.registrar));
    expect(sameEmail).toMatchObject({ code: status.ALREADY_EXISTS, reason: 'EMAIL_TAKEN' });
  });

  test('createStudent_asStudent_givesPermissionDenied', async () => {
    const e = await rpcError(w.api.createStudent({ student: studentInput('S0001') }, w.student));
    expect(e.code).toBe(status.PERMISSION_DENIED);
  });

  test('getStudent_unknown_givesNotFound', async () => {
    const e = await rpcError(w.api.getStudent({ id: 'S0404' }, w.registrar));
    expect(e).toMatchObject({ code: status.NOT_FOUND, reason: 'STUDENT_NOT_FOUND' });
  });

  test('getStudent_withMalformedId_givesInvalidArgument', async () => {
    const e = await rpcError(w.api.getStudent({ id: 's1' }, w.registrar));
    expect(e.fieldViolations.map((v) => v.field)).toEqual(['id']);
  });

  test('getStudent_ofAnotherStudent_givesPermissionDenied', async () => {
    await createStudents(w, 'S0002');
    const e = await rpcError(w.api.getStudent({ id: 'S0002' }, w.student));
    expect(e.code).toBe(status.PERMISSION_DENIED);
  });

  test('listStudents_inPages_walksEveryRowExactlyOnce', async () => {
    const ids = Array.from({ length: 23 }, (_, i) => `S${String(1000 + i * 7).padStart(4, '0')}`);
    await createStudents(w, ...[...ids].reverse());
    const seen: string[] = [];
    let pageToken = '';
    let pages = 0;
    do {
      const page = await w.api.listStudents({ pageSize: 5, pageToken, query: '' }, w.registrar);
      expect(page.students.length).toBeLessThanOrEqual(5);
      seen.push(...page.students.map((s) => s.id));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken);
    expect(seen).toEqual([...ids].sort());
    expect(pages).toBe(5);
  });

  test('listStudents_withQuery_matchesIdNameOrEmailIgnoringCase', async () => {
    await w.api.createStudent({ student: studentInput('S0001', { name: 'Grace Hopper' }) }, w.registrar);
    await w.api.createStudent({ student: studentInput('S0002', { email: 'hopper.fan@example.edu' }) }, w.registrar);
    await w.api.createStudent({ student: studentInput('S0003', { name: 'Alan Turing' }) }, w.registrar);
    const { students } = await w.api.listStudents({ pageSize: 0, pageToken: '', query: 'HOPPER' }, w.service);
    expect(students.map((s) => s.id)).toEqual(['S0001', 'S0002']);
  });

  test('listStudents_withPageSizeOutOfRange_givesInvalidArgument', async () => {
    const tooBig = await rpcError(w.api.listStudents({ pageSize: 501, pageToken: '', query: '' }, w.registrar));
    expect(tooBig.fieldViolations).toEqual([{ field: 'page_size', description: 'must be at most 500' }]);
    const negative = await rpcError(w.api.listStudents({ pageSize: -1, pageToken: '', query: '' }, w.registrar));
    expect(negative.fieldViolations).toEqual([{ field: 'page_size', description: 'must not be negative' }]);
  });

  test('listStudents_withMalformedOrForeignPageToken_givesInvalidArgument', async () => {
    const garbage = await rpcError(w.api.listStudents({ pageSize: 1, pageToken: 'not a token!', query: '' }, w.registrar));
    expect(garbage).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: 'page_token', description: 'is not a token this service issued' }] });
    await createStudents(w, 'S0001', 'S0002');
    const { nextPageToken } = await w.api.listStudents({ pageSize: 1, pageToken: '', query: '' }, w.registrar);
    const other = await rpcError(w.api.listStudents({ pageSize: 1, pageToken: nextPageToken, query: 'x' }, w.registrar));
    expect(other.fieldViolations[0]).toEqual({ field: 'page_token', description: 'was issued for different filters' });
  });

  test('listStudents_asStudent_givesPermissionDenied', async () => {
    const e = await rpcError(w.api.listStudents({ pageSize: 0, pageToken: '', query: '' }, w.student));
    expect(e.code).toBe(status.PERMISSION_DENIED);
  });

  test('updateStudent_withMask_changesOnlyMaskedFields', async () => {
    const [s] = await createStudents(w, 'S0001');
    const { student } = await w.api.updateStudent(
      { student: { ...s, name: 'Renamed', maxCredits: 12, program: 'ignored' }, updateMask: ['name', 'max_credits'] },
      w.registrar,
    );
    expect(student).toMatchObject({ name: 'Renamed', maxCredits: 12, program: 'Computer Science', etag: 'v2' });
    expect(student!.updateTime!.getTime()).toBeGreaterThanOrEqual(s.updateTime!.getTime());
  });

  test('updateStudent_withEmptyMask_replacesEveryMutableField', async () => {
    const [s] = await createStudents(w, 'S0001');
    const changed = { ...s, name: 'New Name', email: 'new@example.edu', program: 'Math', classStanding: ClassStanding.CLASS_STANDING_SENIOR, maxCredits: 21 };
    const { student } = await w.api.updateStudent({ student: changed, updateMask: [] }, w.registrar);
    expect(student).toMatchObject({ name: 'New Name', email: 'new@example.edu', program: 'Math', classStanding: ClassStanding.CLASS_STANDING_SENIOR, maxCredits: 21 });
  });

  test('updateStudent_withStaleEtag_givesAbortedAndChangesNothing', async () => {
    const [s] = await createStudents(w, 'S0001');
    await w.api.updateStudent({ student: { ...s, name: 'First' }, updateMask: ['name'] }, w.registrar);
    const e = await rpcError(w.api.updateStudent({ student: { ...s, name: 'Second' }, updateMask: ['name'] }, w.registrar));
    expect(e).toMatchObject({ code: status.ABORTED, reason: 'ETAG_MISMATCH' });
    expect((await w.api.getStudent({ id: 'S0001' }, w.registrar)).student).toMatchObject({ name: 'First', etag: 'v2' });
  });

  test('updateStudent_withTakenEmail_givesAlreadyExistsAndChangesNothing', async () => {
    const [s] = await createStudents(w, 'S0001', 'S0002');
    const e = await rpcError(w.api.updateStudent({ student: { ...s, email: 'S0002@students.example.edu' }, updateMask: ['email'] }, w.registrar));
    expect(e).toMatchObject({ code: status.ALREADY_EXISTS, reason: 'EMAIL_TAKEN' });
    expect((await w.api.getStudent({ id: 'S0001' }, w.registrar)).student?.etag).toBe('v1');
  });

  test('updateStudent_unknown_givesNotFound', async () => {
    const e = await rpcError(w.api.updateStudent({ student: studentInput('S0404', { etag: 'v1' }), updateMask: ['name'] }, w.registrar));
    expect(e).toMatchObject({ code: status.NOT_FOUND, reason: 'STUDENT_NOT_FOUND' });
  });

  test('updateStudent_withInvalidValueOrMaskOrNoEtag_givesInvalidArgument', async () => {
    const [s] = await createStudents(w, 'S0001');
    const badValue = await rpcError(w.api.updateStudent({ student: { ...s, maxCredits: 41 }, updateMask: ['max_credits'] }, w.registrar));
    expect(badValue.fieldViolations).toEqual([{ field: 'student.max_credits', description: 'must be 1 to 40' }]);
    const badMask = await rpcError(w.api.updateStudent({ student: s, updateMask: ['id'] }, w.registrar));
    expect(badMask.fieldViolations[0].field).toBe('update_mask');
    const noEtag = await rpcError(w.api.updateStudent({ student: { ...s, etag: '' }, updateMask: ['name'] }, w.registrar));
    expect(noEtag.fieldViolations[0].field).toBe('student.etag');
  });

  test('updateStudent_asStudent_givesPermissionDenied', async () => {
    const [s] = await createStudents(w, 'S0001');
    const e = await rpcError(w.api.updateStudent({ student: { ...s, maxCredits: 40 }, updateMask: ['max_credits'] }, w.student));
    expect(e.code).toBe(status.PERMISSION_DENIED);
  });

  test('database_refusesMalformedRowsEvenWithoutTheApi', async () => {
    await expect(
      sql`INSERT INTO student.students (id, name, email, class_standing, max_credits) VALUES ('S1', 'x', 'x@y.z', 'JUNIOR', 18)`.execute(w.db),
    ).rejects.toThrow(/check constraint/);
    await expect(
      sql`INSERT INTO student.students (id, name, email, class_standing, max_credits) VALUES ('S0001', 'x', 'x@y.z', 'JUNIOR', 41)`.execute(w.db),
    ).rejects.toThrow(/check constraint/);
  });
});

describe('academic records', () => {
  const record = (courseCode: string, termCode: string, grade: Grade, studentId = 'S0001') => ({ studentId, courseCode, termCode, grade });

  test('recordCompletedCourse_thenGetAcademicRecord_listsCoursesWithEarnedCredits', async () => {
    await createStudents(w, 'S0001');
    const { completedCourse } = await w.api.recordCompletedCourse(record('CS 101', '2027SP', Grade.GRADE_B), w.registrar);
    expect(completedCourse).toEqual({ courseCode: 'CS 101', termCode: '2027SP', grade: Grade.GRADE_B, credits: 4 });
    const failed = await w.api.recordCompletedCourse(record('MATH 101', '2027SP', Grade.GRADE_F), w.registrar);
    expect(failed.completedCourse?.credits).toBe(0);
    const got = await w.api.getAcademicRecord({ studentId: 'S0001' }, w.student);
    expect(got.completedCourses.map((c) => [c.courseCode, c.credits])).toEqual([['CS 101', 4], ['MATH 101', 0]]);
    expect(got.totalCredits).toBe(4);
  });

  test('recordCompletedCourse_sameCourseAndTermAgain_replacesTheGrade', async () => {
    await createStudents(w, 'S0001');
    await w.api.recordCompletedCourse(record('CS 101', '2027SP', Grade.GRADE_F), w.registrar);
    await w.api.recordCompletedCourse(record('CS 101', '2027SP', Grade.GRADE_A), w.registrar);
    const got = await w.api.getAcademicRecord({ studentId: 'S0001' }, w.registrar);
    expect(got.completedCourses).toEqual([{ courseCode: 'CS 101', termCode: '2027SP', grade: Grade.GRADE_A, credits: 4 }]);
    expect(got.totalCredits).toBe(4);
  });

  test('getAcademicRecord_listsOldestTermFirst_andCountsARepeatedCourseOnce', async () => {
    await createStudents(w, 'S0001');
    // 2027FA sorts before 2027SP by code but starts later; 2019FA is unknown to the catalog (an older term).
    await w.api.recordCompletedCourse(record('CS 101', '2027FA', Grade.GRADE_A), w.registrar);
    await w.api.recordCompletedCourse(record('CS 101', '2027SP', Grade.GRADE_D), w.registrar);
    await w.api.recordCompletedCourse(record('MATH 101', '2019FA', Grade.GRADE_C), w.registrar);
    const got = await w.api.getAcademicRecord({ studentId: 'S0001' }, w.registrar);
    expect(got.completedCourses.map((c) => c.termCode)).toEqual(['2019FA', '2027SP', '2027FA']);
    expect(got.totalCredits).toBe(7);
  });

  test('recordCompletedCourse_unknownCourse_givesFailedPrecondition', async () => {
    await createStudents(w, 'S0001');
    const e = await rpcError(w.api.recordCompletedCourse(record('CS 999', '2027SP', Grade.GRADE_A), w.registrar));
    expect(e).toMatchObject({ code: status.FAILED_PRECONDITION, reason: 'COURSE_NOT_FOUND' });
  });

  test('recordCompletedCourse_unknownStudent_givesNotFound', async () => {
    const e = await rpcError(w.api.recordCompletedCourse(record('CS 101', '2027SP', Grade.GRADE_A, 'S0404'), w.registrar));
    expect(e).toMatchObject({ code: status.NOT_FOUND, reason: 'STUDENT_NOT_FOUND' });
  });

  test('recordCompletedCourse_withInvalidFields_listsEachViolation', async () => {
    const e = await rpcError(w.api.recordCompletedCourse({ studentId: '', courseCode: 'cs101', termCode: 'spring 2027', grade: Grade.GRADE_UNSPECIFIED }, w.registrar));
    expect(e.fieldViolations.map((v) => v.field).sort()).toEqual(['course_code', 'grade', 'student_id', 'term_code']);
  });

  test('recordCompletedCourse_asStudent_givesPermissionDenied', async () => {
    await createStudents(w, 'S0001');
    const e = await rpcError(w.api.recordCompletedCourse(record('CS 101', '2027SP', Grade.GRADE_A), w.student));
    expect(e.code).toBe(status.PERMISSION_DENIED);
  });

  test('getAcademicRecord_ofAnotherStudent_givesPermissionDenied_andUnknown_givesNotFound', async () => {
    await createStudents(w, 'S0002');
    expect((await rpcError(w.api.getAcademicRecord({ studentId: 'S0002' }, w.student))).code).toBe(status.PERMISSION_DENIED);
    expect((await rpcError(w.api.getAcademicRecord({ studentId: 'S0404' }, w.service))).reason).toBe('STUDENT_NOT_FOUND');
  });
});

describe('holds', () => {
  const place = (studentId = 'S0001', kind = HoldKind.HOLD_KIND_FINANCIAL, reason = 'Unpaid balance') => w.api.placeHold({ studentId, kind, reason }, w.registrar);

  test('placeHold_thenListHolds_showsItActive', async () => {
    await createStudents(w, 'S0001');
    const { hold } = await place();
    expect(hold).toMatchObject({ studentId: 'S0001', kind: HoldKind.HOLD_KIND_FINANCIAL, reason: 'Unpaid balance', placedBy: 'registrar-1', active: true, releasedBy: '' });
    expect(hold?.releaseTime).toBeUndefined();
    const { holds } = await w.api.listHolds({ studentId: 'S0001', includeReleased: false, pageSize: 0, pageToken: '' }, w.student);
    expect(holds).toEqual([hold]);
  });

  test('releaseHold_marksItReleased_andReleasingAgain_givesFailedPrecondition', async () => {
    await createStudents(w, 'S0001');
    const { hold } = await place();
    const released = await w.api.releaseHold({ holdId: hold!.id }, w.registrar);
    expect(released.hold).toMatchObject({ id: hold!.id, active: false, releasedBy: 'registrar-1' });
    expect(released.hold?.releaseTime).toBeInstanceOf(Date);
    const e = await rpcError(w.api.releaseHold({ holdId: hold!.id }, w.registrar));
    expect(e).toMatchObject({ code: status.FAILED_PRECONDITION, reason: 'HOLD_ALREADY_RELEASED' });
  });

  test('releaseHold_unknown_givesNotFound_andMalformedId_givesInvalidArgument', async () => {
    const e = await rpcError(w.api.releaseHold({ holdId: '00000000-0000-4000-8000-000000000000' }, w.registrar));
    expect(e).toMatchObject({ code: status.NOT_FOUND, reason: 'HOLD_NOT_FOUND' });
    const bad = await rpcError(w.api.releaseHold({ holdId: 'nope' }, w.registrar));
    expect(bad.fieldViolations).toEqual([{ field: 'hold_id', description: 'must be a UUID' }]);
  });

  test('placeHold_unknownStudent_givesNotFound', async () => {
    const e = await rpcError(place('S0404'));
    expect(e).toMatchObject({ code: status.NOT_FOUND, reason: 'STUDENT_NOT_FOUND' });
  });

  test('placeHold_withInvalidFields_listsEachViolation', async () => {
    const empty = await rpcError(w.api.placeHold({ studentId: 'S0001', kind: HoldKind.HOLD_KIND_UNSPECIFIED, reason: '' }, w.registrar));
    expect(empty.fieldViolations.map((v) => v.field).sort()).toEqual(['kind', 'reason']);
    const long = await rpcError(place('S0001', HoldKind.HOLD_KIND_ADVISING, 'r'.repeat(501)));
    expect(long.fieldViolations).toEqual([{ field: 'reason', description: 'must have at most 500 characters' }]);
    const unknownKind = await rpcError(place('S0001', 42 as HoldKind));
    expect(unknownKind.fieldViolations.map((v) => v.field)).toEqual(['kind']);
  });

  test('placeHold_asStudent_givesPermissionDenied', async () => {
    await createStudents(w, 'S0001');
    const e = await rpcError(w.api.placeHold({ studentId: 'S0001', kind: HoldKind.HOLD_KIND_ADVISING, reason: 'x' }, w.student));
    expect(e.code).toBe(status.PERMISSION_DENIED);
  });

  test('listHolds_hidesReleasedHoldsUnlessAsked', async () => {
    await createStudents(w, 'S0001');
    const { hold: old } = await place();
    await w.api.releaseHold({ holdId: old!.id }, w.registrar);
    const { hold: current } = await place('S0001', HoldKind.HOLD_KIND_ADVISING, 'See your advisor');
    const active = await w.api.listHolds({ studentId: 'S0001', includeReleased: false, pageSize: 0, pageToken: '' }, w.registrar);
    expect(active.holds.map((h) => h.id)).toEqual([current!.id]);
    const all = await w.api.listHolds({ studentId: 'S0001', includeReleased: true, pageSize: 0, pageToken: '' }, w.registrar);
    expect(all.holds.map((h) => h.id)).toEqual([current!.id, old!.id]);
  });

  test('listHolds_inPages_walksEveryHoldExactlyOnceNewestFirst', async () => {
    await createStudents(w, 'S0001');
    // Several holds placed in one transaction share a timestamp: the id breaks the tie.
    await w.db.transaction().execute(async (trx) => {
      for (let i = 0; i < 6; i++) await trx.insertInto('student.holds').values({ student_id: 'S0001', kind: 'ADVISING', reason: `same moment ${i}`, placed_by: 'test' }).execute();
    });
    for (let i = 0; i < 6; i++) await place('S0001', HoldKind.HOLD_KIND_FINANCIAL, `hold ${i}`);
    const seen: string[] = [];
    const times: number[] = [];
    let pageToken = '';
    do {
      const page = await w.api.listHolds({ studentId: 'S0001', includeReleased: true, pageSize: 5, pageToken }, w.registrar);
      seen.push(...page.holds.map((h) => h.id));
      times.push(...page.holds.map((h) => h.placeTime!.getTime()));
      pageToken = page.nextPageToken;
    } while (pageToken);
    const ids = (await w.db.selectFrom('student.holds').select('id').execute()).map((r) => r.id);
    expect(seen).toHaveLength(12);
    expect(new Set(seen)).toEqual(new Set(ids));
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  test('listHolds_withMalformedOrForeignPageToken_givesInvalidArgument', async () => {
    await createStudents(w, 'S0001', 'S0002');
    await place('S0001');
    await place('S0001');
    const garbage = await rpcError(w.api.listHolds({ studentId: 'S0001', includeReleased: false, pageSize: 1, pageToken: 'e30' }, w.registrar));
    expect(garbage.fieldViolations[0]).toEqual({ field: 'page_token', description: 'is not a token this service issued' });
    const { nextPageToken } = await w.api.listHolds({ studentId: 'S0001', includeReleased: false, pageSize: 1, pageToken: '' }, w.registrar);
    const foreign = await rpcError(w.api.listHolds({ studentId: 'S0002', includeReleased: false, pageSize: 1, pageToken: nextPageToken }, w.registrar));
    expect(foreign.code).toBe(status.INVALID_ARGUMENT);
  });

  test('listHolds_ofAnotherStudent_givesPermissionDenied_andUnknown_givesNotFound', async () => {
    await createStudents(w, 'S0002');
    const denied = await rpcError(w.api.listHolds({ studentId: 'S0002', includeReleased: false, pageSize: 0, pageToken: '' }, w.student));
    expect(denied.code).toBe(status.PERMISSION_DENIED);
    const missing = await rpcError(w.api.listHolds({ studentId: 'S0404', includeReleased: false, pageSize: 0, pageToken: '' }, w.registrar));
    expect(missing).toMatchObject({ code: status.NOT_FOUND, reason: 'STUDENT_NOT_FOUND' });
  });

  test('database_refusesAHoldReleasedWithoutItsReleaser', async () => {
    await createStudents(w, 'S0001');
    const { hold } = await place();
    await expect(sql`UPDATE student.holds SET released_at = now() WHERE id = ${hold!.id}::uuid`.execute(w.db)).rejects.toThrow(/check constraint/);
  });
});

describe('registration windows', () => {
  const opens = new Date('2026-11-02T14:00:00Z');

  test('setRegistrationWindow_thenList_showsIt_andSettingAgainReplacesIt', async () => {
    await createStudents(w, 'S0001');
    const { window } = await w.api.setRegistrationWindow({ studentId: 'S0001', termCode: '2027SP', opensTime: opens }, w.registrar);
    expect(window).toMatchObject({ studentId: 'S0001', termCode: '2027SP', opensTime: opens });
    const later = new Date('2026-11-03T14:00:00Z');
    await w.api.setRegistrationWindow({ studentId: 'S0001', termCode: '2027SP', opensTime: later }, w.registrar);
    await w.api.setRegistrationWindow({ studentId: 'S0001', termCode: '2027FA', opensTime: new Date('2027-04-01T14:00:00Z') }, w.registrar);
    const { windows } = await w.api.listRegistrationWindows({ studentId: 'S0001' }, w.student);
    expect(windows.map((x) => [x.termCode, x.opensTime])).toEqual([
      ['2027SP', later],
      ['2027FA', new Date('2027-04-01T14:00:00Z')],
    ]);
  });

  test('setRegistrationWindow_unknownTermOrStudent_givesNotFound', async () => {
    await createStudents(w, 'S0001');
    const term = await rpcError(w.api.setRegistrationWindow({ studentId: 'S0001', termCode: '1999SP', opensTime: opens }, w.registrar));
    expect(term).toMatchObject({ code: status.NOT_FOUND, reason: 'TERM_NOT_FOUND' });
    const student = await rpcError(w.api.setRegistrationWindow({ studentId: 'S0404', termCode: '2027SP', opensTime: opens }, w.registrar));
    expect(student).toMatchObject({ code: status.NOT_FOUND, reason: 'STUDENT_NOT_FOUND' });
  });

  test('setRegistrationWindow_withoutOpensTimeOrWithBadTerm_givesInvalidArgument', async () => {
    const e = await rpcError(w.api.setRegistrationWindow({ studentId: 'S0001', termCode: 'x', opensTime: undefined }, w.registrar));
    expect(e.fieldViolations).toEqual([
      { field: 'term_code', description: 'must be 2 to 16 upper-case letters or digits' },
      { field: 'opens_time', description: 'is required' },
    ]);
  });

  test('setRegistrationWindow_asStudent_givesPermissionDenied', async () => {
    await createStudents(w, 'S0001');
    const e = await rpcError(w.api.setRegistrationWindow({ studentId: 'S0001', termCode: '2027SP', opensTime: opens }, w.student));
    expect(e.code).toBe(status.PERMISSION_DENIED);
  });

  test('listRegistrationWindows_ofAnotherStudent_givesPermissionDenied_andUnknown_givesNotFound', async () => {
    await createStudents(w, 'S0002');
    expect((await rpcError(w.api.listRegistrationWindows({ studentId: 'S0002' }, w.student))).code).toBe(status.PERMISSION_DENIED);
    expect((await rpcError(w.api.listRegistrationWindows({ studentId: 'S0404' }, w.registrar))).reason).toBe('STUDENT_NOT_FOUND');
  });
});
