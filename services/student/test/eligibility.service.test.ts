import { Grade, SectionStatus, TermStatus, type Course, type Prerequisite, type Section, type Term } from '../../../gen/coursereg/course/v1/course';
import { HoldKind } from '../../../gen/coursereg/student/v1/student';
import { IneligibilityReason, type EligibilityQuery } from '../../../gen/coursereg/student/v1/student_service';
import { courseInput, requires, sectionInput, termInput } from '../../course/test/course.fixtures';
import { bestGrades, checkEligibility, evaluatePrerequisite, reasonCode, type EligibilityFacts, type StudentFacts } from '../src/eligibility/eligibility.service';

const R = IneligibilityReason;
const SECTION_ID = '11111111-1111-4111-8111-111111111111';
const AT = new Date('2026-12-01T12:00:00Z');

const allOf = (...items: Prerequisite[]): Prerequisite => ({ expr: { $case: 'allOf', allOf: { items } } });
const anyOf = (...items: Prerequisite[]): Prerequisite => ({ expr: { $case: 'anyOf', anyOf: { items } } });

function studentFacts(over: Partial<StudentFacts> = {}): StudentFacts {
  return { activeHolds: [], completed: [], windows: new Map([['2027SP', new Date('2026-11-02T14:00:00Z')]]), maxCredits: 18, ...over };
}

const taken = (courseCode: string, grade: Grade, termCode = '2026FA') => ({ courseCode, termCode, grade });

const sectionQuery: EligibilityQuery = { studentId: 'S0001', target: { $case: 'sectionId', sectionId: SECTION_ID } };
const courseQuery = (code: string): EligibilityQuery => ({ studentId: 'S0001', target: { $case: 'courseCode', courseCode: code } });

/** A section of CS 201 (needs CS 101) in the open term 2027SP, with an open window, unless overridden. */
function sectionFacts(over: { student?: StudentFacts | null; section?: Partial<Section>; course?: Course | null; term?: Partial<Term> | null } = {}): EligibilityFacts {
  return {
    student: over.student === null ? undefined : (over.student ?? studentFacts({ completed: [taken('CS 101', Grade.GRADE_B)] })),
    section: { ...sectionInput('CS 201', '001', { id: SECTION_ID }), ...over.section },
    course: over.course === null ? undefined : (over.course ?? courseInput('CS 201', { prerequisite: requires('CS 101') })),
    term: over.term === null ? undefined : termInput('2027SP', over.term ?? {}),
  };
}

const reasons = (facts: EligibilityFacts, at = AT, query = sectionQuery) => checkEligibility(query, facts, at).ineligibilities.map((i) => i.reason);

describe('evaluatePrerequisite', () => {
  const best = bestGrades([taken('CS 101', Grade.GRADE_C), taken('MATH 101', Grade.GRADE_F), taken('MATH 101', Grade.GRADE_B_PLUS, '2027SP'), taken('PHYS 101', Grade.GRADE_F)]);

  test('evaluatePrerequisite_withoutExpression_isMet', () => {
    expect(evaluatePrerequisite(undefined, best)).toEqual({ met: true, missing: [] });
  });

  test('evaluatePrerequisite_withUnspecifiedMinimum_needsAnyPassingGrade', () => {
    expect(evaluatePrerequisite(requires('CS 101'), best).met).toBe(true);
    expect(evaluatePrerequisite(requires('PHYS 101'), best)).toEqual({ met: false, missing: ['PHYS 101'] });
    expect(evaluatePrerequisite(requires('CS 102'), best)).toEqual({ met: false, missing: ['CS 102'] });
  });

  test('evaluatePrerequisite_withMinimumGrade_needsAtLeastThatGrade', () => {
    expect(evaluatePrerequisite(requires('CS 101', Grade.GRADE_C), best).met).toBe(true);
    expect(evaluatePrerequisite(requires('CS 101', Grade.GRADE_C_PLUS), best)).toEqual({ met: false, missing: ['CS 101'] });
  });

  test('evaluatePrerequisite_withRetakenCourse_usesTheBestAttempt', () => {
    expect(evaluatePrerequisite(requires('MATH 101', Grade.GRADE_B), best).met).toBe(true);
  });

  test('evaluatePrerequisite_allOf_needsEveryMember_andListsEveryUnmetOne', () => {
    expect(evaluatePrerequisite(allOf(requires('CS 101'), requires('MATH 101')), best).met).toBe(true);
    expect(evaluatePrerequisite(allOf(requires('CS 101'), requires('PHYS 101'), requires('CS 102')), best)).toEqual({ met: false, missing: ['PHYS 101', 'CS 102'] });
  });

  test('evaluatePrerequisite_anyOf_needsOneMember_andListsEveryAlternative', () => {
    expect(evaluatePrerequisite(anyOf(requires('PHYS 101'), requires('CS 101')), best).met).toBe(true);
    expect(evaluatePrerequisite(anyOf(requires('PHYS 101'), requires('CS 102')), best)).toEqual({ met: false, missing: ['PHYS 101', 'CS 102'] });
  });

  test('evaluatePrerequisite_nestedGroups_reportOnlyTheUnmetBranches', () => {
    const expr = allOf(requires('CS 101'), anyOf(requires('PHYS 101'), allOf(requires('CS 102'), requires('MATH 101'))));
    expect(evaluatePrerequisite(expr, best)).toEqual({ met: false, missing: ['PHYS 101', 'CS 102'] });
  });
});

describe('checkEligibility', () => {
  test('checkEligibility_whenEverythingIsMet_isEligibleWithWindowTime', () => {
    const result = checkEligibility(sectionQuery, sectionFacts(), AT);
    expect(result).toMatchObject({ query: sectionQuery, eligible: true, ineligibilities: [], pendingCorequisiteCodes: [] });
    expect(result.windowOpensTime).toEqual(new Date('2026-11-02T14:00:00Z'));
  });

  test('checkEligibility_whenStudentUnknown_reportsStudentNotFound', () => {
    expect(reasons(sectionFacts({ student: null }))).toEqual([R.INELIGIBILITY_REASON_STUDENT_NOT_FOUND]);
  });

  test('checkEligibility_whenSectionUnknown_reportsSectionNotFound', () => {
    const result = checkEligibility(sectionQuery, { student: studentFacts() }, AT);
    expect(result.ineligibilities).toEqual([
      { reason: R.INELIGIBILITY_REASON_SECTION_NOT_FOUND, reasonCode: 'SECTION_NOT_FOUND', message: `No section ${SECTION_ID} exists.`, missingCourseCodes: [] },
    ]);
    expect(result.eligible).toBe(false);
  });

  test('checkEligibility_whenCourseUnknown_reportsCourseNotFound', () => {
    expect(reasons({ student: studentFacts() }, AT, courseQuery('XX 999'))).toEqual([R.INELIGIBILITY_REASON_COURSE_NOT_FOUND]);
  });

  test('checkEligibility_whenHoldActive_reportsHoldActive', () => {
    const student = studentFacts({ completed: [taken('CS 101', Grade.GRADE_A)], activeHolds: [{ kind: HoldKind.HOLD_KIND_FINANCIAL, reason: 'Unpaid balance' }] });
    const result = checkEligibility(sectionQuery, sectionFacts({ student }), AT);
    expect(result.ineligibilities).toHaveLength(1);
    expect(result.ineligibilities[0]).toMatchObject({ reason: R.INELIGIBILITY_REASON_HOLD_ACTIVE, reasonCode: 'HOLD_ACTIVE' });
    expect(result.ineligibilities[0].message).toContain('financial');
    expect(result.ineligibilities[0].message).toContain('Unpaid balance');
  });

  test('checkEligibility_whenPrerequisiteMissing_reportsItWithMissingCourses', () => {
    const result = checkEligibility(sectionQuery, sectionFacts({ student: studentFacts() }), AT);
    expect(result.ineligibilities).toEqual([
      expect.objectContaining({ reason: R.INELIGIBILITY_REASON_PREREQUISITE_NOT_MET, reasonCode: 'PREREQUISITE_NOT_MET', missingCourseCodes: ['CS 101'] }),
    ]);
  });

  test('checkEligibility_whenPrerequisiteFailed_reportsPrerequisiteNotMet', () => {
    expect(reasons(sectionFacts({ student: studentFacts({ completed: [taken('CS 101', Grade.GRADE_F)] }) }))).toEqual([R.INELIGIBILITY_REASON_PREREQUISITE_NOT_MET]);
  });

  test('checkEligibility_whenNoWindowForTheTerm_reportsWindowClosed', () => {
    const student = studentFacts({ completed: [taken('CS 101', Grade.GRADE_A)], windows: new Map([['2027FA', new Date('2026-01-01T00:00:00Z')]]) });
    const result = checkEligibility(sectionQuery, sectionFacts({ student }), AT);
    expect(result.ineligibilities.map((i) => i.reasonCode)).toEqual(['REGISTRATION_WINDOW_CLOSED']);
    expect(result.windowOpensTime).toBeUndefined();
  });

  test('checkEligibility_beforeWindowOpens_reportsWindowClosed', () => {
    expect(reasons(sectionFacts(), new Date('2026-11-02T13:59:59Z'))).toEqual([R.INELIGIBILITY_REASON_REGISTRATION_WINDOW_CLOSED]);
    expect(reasons(sectionFacts(), new Date('2026-11-02T14:00:00Z'))).toEqual([]);
  });

  test('checkEligibility_beforeTermRegistrationOpens_reportsWindowClosed', () => {
    const student = studentFacts({ completed: [taken('CS 101', Grade.GRADE_A)], windows: new Map([['2027SP', new Date('2026-10-01T00:00:00Z')]]) });
    expect(reasons(sectionFacts({ student }), new Date('2026-10-15T00:00:00Z'))).toEqual([R.INELIGIBILITY_REASON_REGISTRATION_WINDOW_CLOSED]);
  });

  test('checkEligibility_afterAddDropDeadline_reportsWindowClosed', () => {
    expect(reasons(sectionFacts(), new Date('2027-01-25T23:59:00Z'))).toEqual([]);
    expect(reasons(sectionFacts(), new Date('2027-01-25T23:59:01Z'))).toEqual([R.INELIGIBILITY_REASON_REGISTRATION_WINDOW_CLOSED]);
  });

  test('checkEligibility_whenTermNotOpen_reportsTermNotOpen', () => {
    expect(reasons(sectionFacts({ term: { status: TermStatus.TERM_STATUS_PLANNED } }))).toEqual([R.INELIGIBILITY_REASON_TERM_NOT_OPEN]);
    expect(reasons(sectionFacts({ term: { status: TermStatus.TERM_STATUS_CLOSED } }))).toEqual([R.INELIGIBILITY_REASON_TERM_NOT_OPEN]);
  });

  test('checkEligibility_whenSectionClosed_reportsSectionClosed', () => {
    expect(reasons(sectionFacts({ section: { status: SectionStatus.SECTION_STATUS_CLOSED } }))).toEqual([R.INELIGIBILITY_REASON_SECTION_CLOSED]);
  });

  test('checkEligibility_whenSectionCancelled_reportsSectionCancelled', () => {
    expect(reasons(sectionFacts({ section: { status: SectionStatus.SECTION_STATUS_CANCELLED } }))).toEqual([R.INELIGIBILITY_REASON_SECTION_CANCELLED]);
  });

  test('checkEligibility_whenCoursePassedBefore_reportsAlreadyCompleted', () => {
    const student = studentFacts({ completed: [taken('CS 101', Grade.GRADE_A), taken('CS 201', Grade.GRADE_D_MINUS, '2026SP')] });
    const result = checkEligibility(sectionQuery, sectionFacts({ student }), AT);
    expect(result.ineligibilities.map((i) => i.reasonCode)).toEqual(['ALREADY_COMPLETED']);
    expect(result.ineligibilities[0].message).toContain('2026SP');
  });

  test('checkEligibility_whenCourseOnlyFailedBefore_allowsARetake', () => {
    const student = studentFacts({ completed: [taken('CS 101', Grade.GRADE_A), taken('CS 201', Grade.GRADE_F)] });
    expect(reasons(sectionFacts({ student }))).toEqual([]);
  });

  test('checkEligibility_reportsEveryUnmetCondition_inReasonOrder', () => {
    const student = studentFacts({ activeHolds: [{ kind: HoldKind.HOLD_KIND_ADVISING, reason: 'See advisor' }], windows: new Map() });
    const facts = sectionFacts({ student, section: { status: SectionStatus.SECTION_STATUS_CANCELLED }, term: { status: TermStatus.TERM_STATUS_PLANNED } });
    expect(reasons(facts).map(reasonCode)).toEqual(['HOLD_ACTIVE', 'PREREQUISITE_NOT_MET', 'REGISTRATION_WINDOW_CLOSED', 'TERM_NOT_OPEN', 'SECTION_CANCELLED']);
  });

  test('checkEligibility_withUnknownStudent_stillReportsTheSectionsState', () => {
    expect(reasons(sectionFacts({ student: null, section: { status: SectionStatus.SECTION_STATUS_CLOSED } }))).toEqual([
      R.INELIGIBILITY_REASON_STUDENT_NOT_FOUND,
      R.INELIGIBILITY_REASON_SECTION_CLOSED,
    ]);
  });

  test('checkEligibility_listsCorequisitesNotYetPassed_asPending', () => {
    const course = courseInput('CS 201', { prerequisite: requires('CS 101'), corequisiteCodes: ['CS 210', 'MATH 101'] });
    const student = studentFacts({ completed: [taken('CS 101', Grade.GRADE_A), taken('MATH 101', Grade.GRADE_C)] });
    const result = checkEligibility(sectionQuery, sectionFacts({ student, course }), AT);
    expect(result.eligible).toBe(true);
    expect(result.pendingCorequisiteCodes).toEqual(['CS 210']);
  });

  test('checkEligibility_forACourse_checksOnlyPrerequisitesCompletionAndHolds', () => {
    const course = courseInput('CS 201', { prerequisite: requires('CS 101') });
    const noWindow = studentFacts({ windows: new Map(), activeHolds: [{ kind: HoldKind.HOLD_KIND_ADMINISTRATIVE, reason: 'Records' }] });
    const result = checkEligibility(courseQuery('CS 201'), { student: noWindow, course }, AT);
    expect(result.ineligibilities.map((i) => i.reasonCode)).toEqual(['HOLD_ACTIVE', 'PREREQUISITE_NOT_MET']);
    expect(result.windowOpensTime).toBeUndefined();
  });
});
