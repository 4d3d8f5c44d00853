import { Grade, SectionStatus, TermStatus, type Course, type Prerequisite, type Section, type Term } from '../../../../gen/coursereg/course/v1/course';
import { HoldKind } from '../../../../gen/coursereg/student/v1/student';
import { IneligibilityReason, type EligibilityQuery, type EligibilityResult, type Ineligibility } from '../../../../gen/coursereg/student/v1/student_service';
import { LOWEST_PASSING } from '../records/records.service';

// Registration eligibility as pure rules over facts loaded elsewhere: no I/O here,
// so every rule can be tested on its own and the same rules can serve callers that
// load their facts differently.

/** What is known about one student. */
export interface StudentFacts {
  activeHolds: { kind: HoldKind; reason: string }[];
  completed: { courseCode: string; termCode: string; grade: Grade }[];
  /** When the student's window opens, by term code. */
  windows: ReadonlyMap<string, Date>;
  /** Credit limit per term. */
  maxCredits: number;
}

/** Everything one check needs; a missing entry means its owner does not know it. */
export interface EligibilityFacts {
  student?: StudentFacts;
  /** For a section target: the section. */
  section?: Section;
  /** The course of the target (the section's course for a section target). */
  course?: Course;
  /** For a section target: the section's term. */
  term?: Term;
}

const REASON_PREFIX = 'INELIGIBILITY_REASON_';

/** The stable UPPER_SNAKE code of a reason, e.g. "HOLD_ACTIVE". */
export const reasonCode = (r: IneligibilityReason) => IneligibilityReason[r].slice(REASON_PREFIX.length);

function unmet(reason: IneligibilityReason, message: string, missingCourseCodes: string[] = []): Ineligibility {
  return { reason, reasonCode: reasonCode(reason), message, missingCourseCodes };
}

/** Each course's best grade over all attempts. */
export function bestGrades(completed: StudentFacts['completed']): Map<string, Grade> {
  const best = new Map<string, Grade>();
  for (const c of completed) if (c.grade > (best.get(c.courseCode) ?? Grade.GRADE_UNSPECIFIED)) best.set(c.courseCode, c.grade);
  return best;
}

const passed = (best: ReadonlyMap<string, Grade>, code: string) => (best.get(code) ?? Grade.GRADE_UNSPECIFIED) >= LOWEST_PASSING;

/**
 * Evaluates a prerequisite expression against a student's best grades. A course
 * requirement is met by a grade at least its minimum (any passing grade when the
 * minimum is unset). `missing` lists the courses of the unmet requirements that
 * would satisfy the unmet part: every unmet member of an all_of, every member of
 * an unmet any_of.
 */
export function evaluatePrerequisite(p: Prerequisite | undefined, best: ReadonlyMap<string, Grade>): { met: boolean; missing: string[] } {
  if (!p?.expr) return { met: true, missing: [] };
  if (p.expr.$case === 'course') {
    const { courseCode, minGrade } = p.expr.course;
    const met = (best.get(courseCode) ?? Grade.GRADE_UNSPECIFIED) >= (minGrade || LOWEST_PASSING);
    return { met, missing: met ? [] : [courseCode] };
  }
  const items = p.expr.$case === 'allOf' ? p.expr.allOf.items : p.expr.anyOf.items;
  if (items.length === 0) return { met: true, missing: [] };
  const parts = items.map((i) => evaluatePrerequisite(i, best));
  const met = p.expr.$case === 'allOf' ? parts.every((x) => x.met) : parts.some((x) => x.met);
  return { met, missing: met ? [] : [...new Set(parts.flatMap((x) => x.missing))] };
}

const lower = (name: string) => name.toLowerCase().replace(/_/g, ' ');
const holdName = (k: HoldKind) => lower(HoldKind[k].replace('HOLD_KIND_', ''));
const gradeName = (g: Grade) => Grade[g].replace('GRADE_', '').replace('_PLUS', '+').replace('_MINUS', '-');

/** The registration window rule; undefined when the window is open at `at`. */
function windowProblem(termCode: string, opens: Date | undefined, term: Term | undefined, at: Date): string | undefined {
  if (!opens) return `You have no registration window for term ${termCode}.`;
  if (at < opens) return `Your registration window for term ${termCode} opens at ${opens.toISOString()}.`;
  if (term?.registrationOpensTime && at < term.registrationOpensTime) {
    return `Registration for term ${termCode} opens at ${term.registrationOpensTime.toISOString()}.`;
  }
  if (term?.addDropDeadlineTime && at > term.addDropDeadlineTime) {
    return `The add/drop deadline for term ${termCode} passed at ${term.addDropDeadlineTime.toISOString()}.`;
  }
  return undefined;
}

/**
 * Checks one (student, section) or (student, course) pair at moment `at` and
 * returns every unmet condition. A course target checks only prerequisites,
 * completion and holds.
 */
export function checkEligibility(query: EligibilityQuery, facts: EligibilityFacts, at: Date): EligibilityResult {
  const { student, section, course, term } = facts;
  const found: Ineligibility[] = [];
  const R = IneligibilityReason;
  const target = query.target;
  let pendingCorequisiteCodes: string[] = [];
  let windowOpensTime: Date | undefined;

  if (!student) found.push(unmet(R.INELIGIBILITY_REASON_STUDENT_NOT_FOUND, `No student ${query.studentId} exists.`));

  const courseCode = target?.$case === 'courseCode' ? target.courseCode : section?.courseCode;
  if (target?.$case === 'sectionId' && !section) {
    found.push(unmet(R.INELIGIBILITY_REASON_SECTION_NOT_FOUND, `No section ${target.sectionId} exists.`));
  } else if (courseCode && !course) {
    found.push(unmet(R.INELIGIBILITY_REASON_COURSE_NOT_FOUND, `No course ${courseCode} exists in the catalog.`));
  }

  if (student) {
    if (student.activeHolds.length > 0) {
      const list = student.activeHolds.map((h) => `${holdName(h.kind)} (${h.reason})`).join('; ');
      const count = student.activeHolds.length;
      found.push(unmet(R.INELIGIBILITY_REASON_HOLD_ACTIVE, `Your account has ${count === 1 ? 'an active hold' : `${count} active holds`}: ${list}.`));
    }
    if (course) {
      const best = bestGrades(student.completed);
      const prereq = evaluatePrerequisite(course.prerequisite, best);
      if (!prereq.met) {
        found.push(
          unmet(R.INELIGIBILITY_REASON_PREREQUISITE_NOT_MET, `You have not met the prerequisites of ${course.code}; still needed: ${prereq.missing.join(', ')}.`, prereq.missing),
        );
      }
      if (passed(best, course.code)) {
        const attempt = student.completed.find((c) => c.courseCode === course.code && c.grade === best.get(course.code))!;
        found.push(unmet(R.INELIGIBILITY_REASON_ALREADY_COMPLETED, `You already passed ${course.code} (${gradeName(attempt.grade)} in ${attempt.termCode}).`));
      }
      pendingCorequisiteCodes = course.corequisiteCodes.filter((c) => !passed(best, c));
    }
    if (section) {
      windowOpensTime = student.windows.get(section.termCode);
      const problem = windowProblem(section.termCode, windowOpensTime, term, at);
      if (problem) found.push(unmet(R.INELIGIBILITY_REASON_REGISTRATION_WINDOW_CLOSED, problem));
    }
  }

  if (section) {
    if (!term) found.push(unmet(R.INELIGIBILITY_REASON_TERM_NOT_OPEN, `Term ${section.termCode} is not in the catalog.`));
    else if (term.status !== TermStatus.TERM_STATUS_OPEN) {
      found.push(unmet(R.INELIGIBILITY_REASON_TERM_NOT_OPEN, `Term ${term.code} is not open for registration (it is ${lower(TermStatus[term.status].replace('TERM_STATUS_', ''))}).`));
    }
    const name = `Section ${section.sectionCode} of ${section.courseCode}`;
    if (section.status === SectionStatus.SECTION_STATUS_CLOSED) found.push(unmet(R.INELIGIBILITY_REASON_SECTION_CLOSED, `${name} is closed.`));
    if (section.status === SectionStatus.SECTION_STATUS_CANCELLED) found.push(unmet(R.INELIGIBILITY_REASON_SECTION_CANCELLED, `${name} has been cancelled.`));
  }

  found.sort((a, b) => a.reason - b.reason);
  return { query, eligible: found.length === 0, ineligibilities: found, pendingCorequisiteCodes, windowOpensTime, maxCredits: student?.maxCredits ?? 0 };
}
