import { Metadata, status } from '@grpc/grpc-js';
import pg from 'pg';
import { DayOfWeek, Grade, SectionStatus, TermStatus } from '../../../gen/coursereg/course/v1/course';
import { rpcError } from '../../shared/testing/harness';
import { courseInput, requires, sectionInput, seedCatalog, startCourseWorld, termInput, type CourseWorld } from './course.fixtures';

let w: CourseWorld;

beforeAll(async () => {
  w = await startCourseWorld('course');
  await seedCatalog(w);
});
afterAll(async () => w.stop());

describe('terms', () => {
  test('createTerm_thenGetTerm_returnsIt', async () => {
    const { term } = await w.api.createTerm({ term: termInput('2027FA', { startDate: '2027-08-30', endDate: '2027-12-17' }) }, w.registrar);
    expect(term?.etag).toBe('v1');
    const got = await w.api.getTerm({ code: '2027FA' }, w.student);
    expect(got.term).toMatchObject({ code: '2027FA', startDate: '2027-08-30', status: TermStatus.TERM_STATUS_OPEN });
  });

  test('createTerm_withEndBeforeStartAndBadCode_givesFieldViolations', async () => {
    const e = await rpcError(w.api.createTerm({ term: termInput('x', { endDate: '2026-01-01', status: 99 as TermStatus }) }, w.registrar));
    expect(e.code).toBe(status.INVALID_ARGUMENT);
    expect(e.fieldViolations.map((v) => v.field).sort()).toEqual(['term.code', 'term.end_date', 'term.status']);
  });

  test('createTerm_withEndBeforeStart_givesFieldViolation', async () => {
    const e = await rpcError(w.api.createTerm({ term: termInput('2030SP', { endDate: '2026-01-01' }) }, w.registrar));
    expect(e.fieldViolations).toEqual([{ field: 'term.end_date', description: 'must not be before start_date' }]);
  });

  test('createTerm_twice_givesAlreadyExists', async () => {
    const e = await rpcError(w.api.createTerm({ term: termInput() }, w.registrar));
    expect(e.code).toBe(status.ALREADY_EXISTS);
  });

  test('createTerm_asStudent_givesPermissionDenied', async () => {
    const e = await rpcError(w.api.createTerm({ term: termInput('2031SP') }, w.student));
    expect(e.code).toBe(status.PERMISSION_DENIED);
  });

  test('getTerm_unknown_givesNotFound', async () => {
    const e = await rpcError(w.api.getTerm({ code: '1999SP' }, w.student));
    expect(e).toMatchObject({ code: status.NOT_FOUND, reason: 'TERM_NOT_FOUND' });
  });

  test('updateTerm_withStaleEtag_givesAbortedAndChangesNothing', async () => {
    await w.api.createTerm({ term: termInput('2028SP') }, w.registrar);
    const first = await w.api.updateTerm({ term: termInput('2028SP', { name: 'Spring 2028', etag: 'v1' }), updateMask: ['name'] }, w.registrar);
    expect(first.term).toMatchObject({ name: 'Spring 2028', etag: 'v2' });
    const e = await rpcError(w.api.updateTerm({ term: termInput('2028SP', { name: 'Overwritten', etag: 'v1' }), updateMask: ['name'] }, w.registrar));
    expect(e.code).toBe(status.ABORTED);
    const got = await w.api.getTerm({ code: '2028SP' }, w.registrar);
    expect(got.term?.name).toBe('Spring 2028');
  });

  test('updateTerm_withUnknownMaskPath_givesInvalidArgument', async () => {
    const e = await rpcError(w.api.updateTerm({ term: termInput('2028SP', { etag: 'v2' }), updateMask: ['code'] }, w.registrar));
    expect(e.code).toBe(status.INVALID_ARGUMENT);
    expect(e.fieldViolations[0].field).toBe('update_mask');
  });

  test('deleteTerm_withSections_givesFailedPrecondition_andWithoutSections_deletes', async () => {
    await w.api.createTerm({ term: termInput('2029SP') }, w.registrar);
    await w.api.createTerm({ term: termInput('2029FA') }, w.registrar);
    await w.api.createSection({ section: sectionInput('CS 101', '001', { termCode: '2029FA' }) }, w.registrar);
    const e = await rpcError(w.api.deleteTerm({ code: '2029FA', etag: 'v1' }, w.registrar));
    expect(e).toMatchObject({ code: status.FAILED_PRECONDITION, reason: 'TERM_HAS_SECTIONS' });
    await w.api.deleteTerm({ code: '2029SP', etag: 'v1' }, w.registrar);
    expect((await rpcError(w.api.getTerm({ code: '2029SP' }, w.registrar))).code).toBe(status.NOT_FOUND);
  });

  test('listTerms_withPageSizeOutOfRange_givesInvalidArgument', async () => {
    const e = await rpcError(w.api.listTerms({ pageSize: 501, pageToken: '' }, w.student));
    expect(e.fieldViolations).toEqual([{ field: 'page_size', description: 'must be at most 500' }]);
  });
});

describe('courses', () => {
  test('createCourse_withPrerequisiteTree_roundTrips', async () => {
    const prerequisite = {
      expr: { $case: 'allOf' as const, allOf: { items: [requires('CS 101', Grade.GRADE_B_MINUS), { expr: { $case: 'anyOf' as const, anyOf: { items: [requires('CS 201')] } } }] } },
    };
    const { course } = await w.api.createCourse({ course: courseInput('CS 301', { prerequisite, corequisiteCodes: ['CS 201'] }) }, w.registrar);
    expect(course?.prerequisite).toEqual(prerequisite);
    expect(course?.corequisiteCodes).toEqual(['CS 201']);
  });

  test('createCourse_withUnknownPrerequisite_givesFailedPreconditionAndStoresNothing', async () => {
    const e = await rpcError(w.api.createCourse({ course: courseInput('CS 999', { prerequisite: requires('XX 100') }) }, w.registrar));
    expect(e).toMatchObject({ code: status.FAILED_PRECONDITION, reason: 'COURSE_NOT_FOUND' });
    expect((await rpcError(w.api.getCourse({ code: 'CS 999' }, w.registrar))).code).toBe(status.NOT_FOUND);
  });

  test('updateCourse_creatingPrerequisiteCycle_givesFailedPrecondition', async () => {
    const got = await w.api.getCourse({ code: 'CS 101' }, w.registrar);
    const e = await rpcError(w.api.updateCourse({ course: { ...got.course!, prerequisite: requires('CS 201') }, updateMask: ['prerequisite'] }, w.registrar));
    expect(e).toMatchObject({ code: status.FAILED_PRECONDITION, reason: 'PREREQUISITE_CYCLE' });
  });

  test('createCourse_withInvalidFields_listsEachViolation', async () => {
    const e = await rpcError(
      w.api.createCourse({ course: courseInput('cs101', { title: '', credits: 13, department: 'CS', description: 'x'.repeat(4001) }) }, w.registrar),
    );
    expect(e.code).toBe(status.INVALID_ARGUMENT);
    expect(e.fieldViolations.map((v) => v.field).sort()).toEqual(['course.code', 'course.credits', 'course.description', 'course.title']);
  });

  test('createCourse_withoutCourse_givesInvalidArgument', async () => {
    const e = await rpcError(w.api.createCourse({ course: undefined }, w.registrar));
    expect(e.fieldViolations).toEqual([{ field: 'course', description: 'is required' }]);
  });

  test('getCourse_afterUpdate_neverReturnsStaleCachedValue', async () => {
    const before = await w.api.getCourse({ code: 'CS 101' }, w.student);
    await w.api.getCourse({ code: 'CS 101' }, w.student); // served from cache now
    const list = await w.api.listCourses({ pageSize: 10, pageToken: '', department: 'CS', query: '' }, w.student);
    expect(list.courses.find((c) => c.code === 'CS 101')?.title).toBe('Intro to Programming');
    for (let i = 0; i < 5; i++) {
      const current = await w.api.getCourse({ code: 'CS 101' }, w.student);
      const title = `Intro to Programming ${i}`;
      await w.api.updateCourse({ course: { ...current.course!, title }, updateMask: ['title'] }, w.registrar);
      const after = await w.api.getCourse({ code: 'CS 101' }, w.student);
      expect(after.course?.title).toBe(title);
      const listed = await w.api.listCourses({ pageSize: 10, pageToken: '', department: 'CS', query: '' }, w.student);
      expect(listed.courses.find((c) => c.code === 'CS 101')?.title).toBe(title);
    }
    expect(before.course?.etag).not.toBe((await w.api.getCourse({ code: 'CS 101' }, w.student)).course?.etag);
  });

  test('deleteCourse_thatIsRequired_givesFailedPrecondition', async () => {
    const got = await w.api.getCourse({ code: 'CS 201' }, w.registrar);
    const e = await rpcError(w.api.deleteCourse({ code: 'CS 201', etag: got.course!.etag }, w.registrar));
    expect(e).toMatchObject({ code: status.FAILED_PRECONDITION, reason: 'COURSE_IS_REQUIRED' });
  });

  test('deleteCourse_unused_deletesIt', async () => {
    await w.api.createCourse({ course: courseInput('ART 100') }, w.registrar);
    await w.api.deleteCourse({ code: 'ART 100', etag: 'v1' }, w.registrar);
    expect((await rpcError(w.api.getCourse({ code: 'ART 100' }, w.registrar))).reason).toBe('COURSE_NOT_FOUND');
  });

  test('batchGetCourses_withUnknownCode_givesNotFound', async () => {
    const ok = await w.api.batchGetCourses({ codes: ['CS 201', 'CS 101'] }, w.student);
    expect(ok.courses.map((c) => c.code)).toEqual(['CS 201', 'CS 101']);
    const e = await rpcError(w.api.batchGetCourses({ codes: ['CS 101', 'ZZ 999'] }, w.student));
    expect(e).toMatchObject({ code: status.NOT_FOUND, metadata: { course_code: 'ZZ 999' } });
  });

  test('listCourses_pagination_walksEveryRowOnce', async () => {
    for (let i = 0; i < 23; i++) {
      await w.api.createCourse({ course: courseInput(`MATH ${100 + i}`, { title: `Math topic ${i}` }) }, w.registrar);
    }
    const seen: string[] = [];
    let pageToken = '';
    do {
      const page = await w.api.listCourses({ pageSize: 5, pageToken, department: 'MATH', query: '' }, w.student);
      expect(page.courses.length).toBeLessThanOrEqual(5);
      seen.push(...page.courses.map((c) => c.code));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(seen).toHaveLength(23);
    expect(new Set(seen).size).toBe(23);
  });

  test('listCourses_withMalformedOrForeignPageToken_givesInvalidArgument', async () => {
    const bad = await rpcError(w.api.listCourses({ pageSize: 5, pageToken: 'not-a-token!', department: '', query: '' }, w.student));
    expect(bad.fieldViolations[0].field).toBe('page_token');
    const first = await w.api.listCourses({ pageSize: 1, pageToken: '', department: 'MATH', query: '' }, w.student);
    const foreign = await rpcError(w.api.listCourses({ pageSize: 1, pageToken: first.nextPageToken, department: 'CS', query: '' }, w.student));
    expect(foreign).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: 'page_token', description: 'was issued for different filters' }] });
  });

  test('listCourses_textSearch_matchesCodeOrTitle', async () => {
    const page = await w.api.listCourses({ pageSize: 50, pageToken: '', department: '', query: 'data struct' }, w.student);
    expect(page.courses.map((c) => c.code)).toEqual(['CS 201']);
  });
});

describe('sections', () => {
  let lectureId: string;

  test('createSection_withMeetingsAndLinks_roundTrips', async () => {
    const lab = await w.api.createSection({ section: sectionInput('CS 101', 'L01', { kind: 2, capacity: 20 }) }, w.registrar);
    const { section } = await w.api.createSection({ section: sectionInput('CS 101', '001', { linkedSectionIds: [lab.section!.id] }) }, w.registrar);
    lectureId = section!.id;
    expect(section).toMatchObject({
      courseCode: 'CS 101',
      courseTitle: expect.stringContaining('Intro to Programming'),
      credits: 3,
      status: SectionStatus.SECTION_STATUS_OPEN,
      linkedSectionIds: [lab.section!.id],
      meetingTimes: [{ days: [DayOfWeek.DAY_OF_WEEK_MONDAY, DayOfWeek.DAY_OF_WEEK_WEDNESDAY], startTime: '09:00', endTime: '09:50', room: 'ENG 120' }],
    });
  });

  test('createSection_linkedToOtherCourse_givesFailedPrecondition', async () => {
    const other = await w.api.createSection({ section: sectionInput('CS 201', '001') }, w.registrar);
    const e = await rpcError(w.api.createSection({ section: sectionInput('CS 101', '002', { linkedSectionIds: [other.section!.id] }) }, w.registrar));
    expect(e).toMatchObject({ code: status.FAILED_PRECONDITION, reason: 'LINKED_SECTION_INVALID' });
  });

  test('createSection_withBadMeetingAndUnknownTerm_givesErrors', async () => {
    const bad = await rpcError(
      w.api.createSection({ section: sectionInput('CS 101', '003', { meetingTimes: [{ days: [], startTime: '25:00', endTime: '09:00', room: '' }] }) }, w.registrar),
    );
    expect(bad.fieldViolations.map((v) => v.field).sort()).toEqual(['section.meeting_times[0].days', 'section.meeting_times[0].start_time']);
    const noTerm = await rpcError(w.api.createSection({ section: sectionInput('CS 101', '003', { termCode: '2099SP' }) }, w.registrar));
    expect(noTerm).toMatchObject({ code: status.NOT_FOUND, reason: 'TERM_NOT_FOUND' });
  });

  test('getSection_withMalformedId_givesInvalidArgument_andUnknownId_givesNotFound', async () => {
    expect((await rpcError(w.api.getSection({ id: 'abc' }, w.student))).fieldViolations).toEqual([{ field: 'id', description: 'must be a UUID' }]);
    expect((await rpcError(w.api.getSection({ id: '00000000-0000-4000-8000-000000000000' }, w.student))).reason).toBe('SECTION_NOT_FOUND');
  });

  test('updateSection_capacityBelowEnrolled_givesFailedPrecondition', async () => {
    // Enrollments arrive through the registration service; here the seat row is filled directly.
    const pool = new pg.Pool({ connectionString: w.env.databaseUrl });
    await pool.query('UPDATE course.sections SET enrolled_count = 25 WHERE id = $1', [lectureId]);
    await pool.end();
    const { section } = await w.api.getSection({ id: lectureId }, w.registrar);
    const e = await rpcError(w.api.updateSection({ section: { ...section!, capacity: 24 }, updateMask: ['capacity'] }, w.registrar));
    expect(e).toMatchObject({ code: status.FAILED_PRECONDITION, reason: 'CAPACITY_BELOW_ENROLLED' });
    const ok = await w.api.updateSection({ section: { ...section!, capacity: 25 }, updateMask: ['capacity'] }, w.registrar);
    expect(ok.section?.capacity).toBe(25);
  });

  test('updateSection_withStaleEtag_givesAborted', async () => {
    const e = await rpcError(w.api.updateSection({ section: sectionInput('CS 101', '001', { id: lectureId, etag: 'v1', capacity: 40 }), updateMask: ['capacity'] }, w.registrar));
    expect(e.code).toBe(status.ABORTED);
    const { section } = await w.api.getSection({ id: lectureId }, w.registrar);
    expect(section?.capacity).toBe(25);
  });

  test('cancelSection_keepsItWithCancelledStatus', async () => {
    const created = await w.api.createSection({ section: sectionInput('CS 201', '002') }, w.registrar);
    const { section } = await w.api.cancelSection({ id: created.section!.id, etag: created.section!.etag }, w.registrar);
    expect(section?.status).toBe(SectionStatus.SECTION_STATUS_CANCELLED);
    const again = await rpcError(w.api.cancelSection({ id: section!.id, etag: section!.etag }, w.registrar));
    expect(again).toMatchObject({ code: status.FAILED_PRECONDITION, reason: 'SECTION_CANCELLED' });
  });

  test('listSections_filtersByOpenSeatsDaysAndTimes', async () => {
    const full = await w.api.createSection({ section: sectionInput('CS 201', '003', { capacity: 0, meetingTimes: [{ days: [DayOfWeek.DAY_OF_WEEK_TUESDAY], startTime: '14:00', endTime: '15:15', room: '' }] }) }, w.registrar);
    const base = { termCode: '2027SP', pageSize: 100, pageToken: '', department: '', courseCode: '', query: '', openSeatsOnly: false, days: [] as DayOfWeek[], startAfter: '', endBefore: '' };
    const all = await w.api.listSections(base, w.student);
    expect(all.sections.map((s) => s.id)).toContain(full.section!.id);
    const open = await w.api.listSections({ ...base, openSeatsOnly: true }, w.student);
    expect(open.sections.map((s) => s.id)).not.toContain(full.section!.id);
    expect(open.sections.every((s) => s.status === SectionStatus.SECTION_STATUS_OPEN)).toBe(true);
    const tuesday = await w.api.listSections({ ...base, days: [DayOfWeek.DAY_OF_WEEK_TUESDAY] }, w.student);
    expect(tuesday.sections.map((s) => s.id)).toEqual([full.section!.id]);
    const afternoon = await w.api.listSections({ ...base, startAfter: '12:00' }, w.student);
    expect(afternoon.sections.map((s) => s.id)).toEqual([full.section!.id]);
    const morning = await w.api.listSections({ ...base, endBefore: '12:00' }, w.student);
    expect(morning.sections.map((s) => s.id)).not.toContain(full.section!.id);
  });

  test('listSections_withoutTerm_givesInvalidArgument', async () => {
    const e = await rpcError(w.api.listSections({ termCode: '', pageSize: 0, pageToken: '', department: '', courseCode: '', query: '', openSeatsOnly: false, days: [9 as DayOfWeek], startAfter: '', endBefore: '' }, w.student));
    expect(e.fieldViolations.map((v) => v.field).sort()).toEqual(['days[0]', 'term_code']);
  });
});

describe('authentication', () => {
  test('call_withoutToken_givesUnauthenticated', async () => {
    const e = await rpcError(w.api.getTerm({ code: '2027SP' }, new Metadata()));
    expect(e).toMatchObject({ code: status.UNAUTHENTICATED, reason: 'TOKEN_MISSING' });
  });

  test('call_withExpiredToken_givesUnauthenticated', async () => {
    const e = await rpcError(w.api.getTerm({ code: '2027SP' }, await w.env.auth('student', 'S0001', -60)));
    expect(e).toMatchObject({ code: status.UNAUTHENTICATED, reason: 'TOKEN_EXPIRED' });
  });

  test('call_withForgedToken_givesUnauthenticated', async () => {
    const e = await rpcError(w.api.getTerm({ code: '2027SP' }, await w.env.forgedAuth('registrar', 'mallory')));
    expect(e).toMatchObject({ code: status.UNAUTHENTICATED, reason: 'TOKEN_INVALID' });
  });
});
