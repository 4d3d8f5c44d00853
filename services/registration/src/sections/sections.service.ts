import type { Meeting, SectionInfo } from './sections.repository';

/** True when two meetings share a day and overlap in time. */
export function meetingsOverlap(a: Meeting, b: Meeting): boolean {
  return (a.days & b.days) !== 0 && a.startMinute < b.endMinute && b.startMinute < a.endMinute;
}

/** True when any meeting of one section overlaps any meeting of the other. */
export function sectionsConflict(a: SectionInfo, b: SectionInfo): boolean {
  return a.meetings.some((m) => b.meetings.some((n) => meetingsOverlap(m, n)));
}
