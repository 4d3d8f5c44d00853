import type { EligibilityResult } from '../../../../gen/coursereg/student/v1/student_service';
import type { RegistrationStateName } from '../db';
import type { SectionInfo } from '../sections/sections.repository';
import { sectionsConflict } from '../sections/sections.service';

/** A live registration of a student, as the rules see it. */
export interface Holding {
  registrationId: string;
  sectionId: string;
  courseCode: string;
  credits: number;
  state: RegistrationStateName;
}

/** What the rules know about one student: limit and live registrations in the term. */
export interface StudentPlan {
  maxCredits: number;
  holdings: Holding[];
}

export interface Verdict {
  ok: boolean;
  reasonCode: string;
  reasonMessage: string;
}

const pass: Verdict = { ok: true, reasonCode: '', reasonMessage: '' };
const fail = (reasonCode: string, reasonMessage: string): Verdict => ({ ok: false, reasonCode, reasonMessage });

const linked = (a: SectionInfo, b: SectionInfo | undefined, bId: string) =>
  a.linkedSectionIds.includes(bId) || (b?.linkedSectionIds.includes(a.id) ?? false);

/**
 * The authoritative rules a student must pass to take (or be waitlisted for) a
 * section, apart from seats: eligibility from the student service, duplicate
 * course, linked sections, time conflicts with enrolled sections, credit limit.
 * `sections` holds every section named by the plan and the target.
 */
export function checkRules(target: SectionInfo, plan: StudentPlan, eligibility: EligibilityResult | undefined, sections: ReadonlyMap<string, SectionInfo>, ignore?: string): Verdict {
  if (!eligibility) return fail('ELIGIBILITY_UNKNOWN', 'Your eligibility could not be checked.');
  if (!eligibility.eligible) {
    const first = eligibility.ineligibilities[0];
    return fail(first?.reasonCode || 'NOT_ELIGIBLE', eligibility.ineligibilities.map((i) => i.message).join(' ') || 'You are not eligible for this section.');
  }
  if (target.status !== 'OPEN') return fail(`SECTION_${target.status}`, `Section ${target.sectionCode} of ${target.courseCode} is ${target.status.toLowerCase()}.`);
  const others = plan.holdings.filter((h) => h.sectionId !== target.id && h.sectionId !== ignore);
  const decided = others.filter((h) => h.state === 'ENROLLED' || h.state === 'WAITLISTED');
  const sameCourse = decided.find((h) => h.courseCode === target.courseCode && !linked(target, sections.get(h.sectionId), h.sectionId));
  if (sameCourse) {
    const s = sections.get(sameCourse.sectionId);
    return fail('DUPLICATE_COURSE', `You already hold section ${s?.sectionCode ?? sameCourse.sectionId} of ${target.courseCode}.`);
  }
  if (target.linkedSectionIds.length > 0 && !others.some((h) => target.linkedSectionIds.includes(h.sectionId))) {
    const codes = target.linkedSectionIds.map((id) => sections.get(id)?.sectionCode ?? id).join(', ');
    return fail('LINKED_SECTION_REQUIRED', `Section ${target.sectionCode} of ${target.courseCode} must be taken with one of its linked sections (${codes}).`);
  }
  const enrolled = others.filter((h) => h.state === 'ENROLLED');
  for (const h of enrolled) {
    const s = sections.get(h.sectionId);
    if (s && sectionsConflict(target, s)) {
      return fail('TIME_CONFLICT', `Section ${target.sectionCode} of ${target.courseCode} meets at the same time as ${s.courseCode} section ${s.sectionCode}.`);
    }
  }
  const courses = new Map(enrolled.map((h) => [h.courseCode, h.credits]));
  const current = [...courses.values()].reduce((a, b) => a + b, 0);
  const adds = courses.has(target.courseCode) ? 0 : target.credits;
  if (current + adds > plan.maxCredits) {
    return fail('CREDIT_LIMIT_EXCEEDED', `Adding ${target.courseCode} (${target.credits} credits) would bring you to ${current + adds} credits; your limit is ${plan.maxCredits}.`);
  }
  return pass;
}

/** Where a request that passed the rules goes, given the locked seat counts. */
export function placeBySeats(seat: { capacity: number; waitlistCapacity: number; enrolled: number; waitlisted: number }, hasPermit: boolean): 'ENROLL' | 'ENROLL_OVERRIDE' | 'WAITLIST' | 'FULL' {
  if (seat.enrolled < seat.capacity) return 'ENROLL';
  if (hasPermit) return 'ENROLL_OVERRIDE';
  if (seat.waitlisted < seat.waitlistCapacity) return 'WAITLIST';
  return 'FULL';
}
