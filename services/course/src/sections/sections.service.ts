import { z } from 'zod';
import { DayOfWeek, SectionKind, SectionStatus, type MeetingTime, type Section } from '../../../../gen/coursereg/course/v1/course';
import { enumCodec, etags } from '../../../shared/src/enums';
import { clockOf, minutesOf, rules } from '../../../shared/src/validation';
import { courseCode } from '../courses/courses.service';
import type { SectionTable } from '../db';
import { termCode } from '../terms/terms.service';
import type { MeetingRow, MeetingValues, SectionRow } from './sections.repository';

export const sectionKind = enumCodec<typeof SectionKind, SectionTable['kind']>(SectionKind, 'SECTION_KIND_');
export const sectionStatus = enumCodec<typeof SectionStatus, SectionTable['status']>(SectionStatus, 'SECTION_STATUS_');
export const SECTION_MUTABLE = ['kind', 'instructor', 'capacity', 'waitlist_capacity', 'meeting_times', 'status', 'linked_section_ids'] as const;

/** Bit set of days, bit n for DayOfWeek n. */
export function daysMask(days: DayOfWeek[]): number {
  return days.reduce((m, d) => m | (1 << d), 0);
}

export function daysOf(mask: number): DayOfWeek[] {
  const out: DayOfWeek[] = [];
  for (let d = DayOfWeek.DAY_OF_WEEK_MONDAY; d <= DayOfWeek.DAY_OF_WEEK_SUNDAY; d++) if (mask & (1 << d)) out.push(d);
  return out;
}

const CLOCK = /^([01]\d|2[0-3]):[0-5]\d$/;

const meetingSchema = z
  .object({
    days: z
      .array(rules.enumValue(DayOfWeek, 'day of week'))
      .min(1, 'must name at least one day')
      .refine((d) => new Set(d).size === d.length, 'must not repeat a day'),
    startTime: rules.clockTime(),
    endTime: rules.clockTime(),
    room: rules.optionalText(50),
  })
  .refine((m) => !CLOCK.test(m.startTime) || !CLOCK.test(m.endTime) || minutesOf(m.endTime) > minutesOf(m.startTime), {
    path: ['endTime'],
    message: 'must be after start_time',
  });

export const sectionSchema = z.object({
  courseCode: courseCode(),
  termCode: termCode(),
  sectionCode: z.string().regex(/^[A-Z0-9]{1,8}$/, 'must be 1 to 8 upper-case letters or digits'),
  kind: rules.enumValue(SectionKind, 'section kind'),
  instructor: rules.optionalText(200),
  capacity: z.number().int().min(0, 'must be 0 to 2000').max(2000, 'must be 0 to 2000'),
  waitlistCapacity: z.number().int().min(0, 'must be 0 to 2000').max(2000, 'must be 0 to 2000'),
  meetingTimes: z.array(meetingSchema).max(8, 'must have at most 8 meetings'),
  status: rules.enumValue(SectionStatus, 'section status'),
  linkedSectionIds: z
    .array(rules.uuid())
    .max(20, 'must have at most 20 entries')
    .refine((l) => new Set(l).size === l.length, 'must not repeat a section'),
});

export type ValidSection = z.infer<typeof sectionSchema>;

export function meetingsToValues(meetings: ValidSection['meetingTimes']): MeetingValues[] {
  return meetings.map((m) => ({ days: daysMask(m.days), start_minute: minutesOf(m.startTime), end_minute: minutesOf(m.endTime), room: m.room }));
}

function meetingFromRow(m: MeetingRow): MeetingTime {
  return { days: daysOf(m.days), startTime: clockOf(m.start_minute), endTime: clockOf(m.end_minute), room: m.room };
}

export function sectionFromRow(r: SectionRow, meetings: MeetingRow[], links: string[]): Section {
  return {
    id: r.id,
    courseCode: r.course_code,
    termCode: r.term_code,
    sectionCode: r.section_code,
    kind: sectionKind.fromDb(r.kind),
    instructor: r.instructor,
    capacity: r.capacity,
    waitlistCapacity: r.waitlist_capacity,
    meetingTimes: meetings.map(meetingFromRow),
    status: sectionStatus.fromDb(r.status),
    linkedSectionIds: links,
    enrolledCount: r.enrolled_count,
    waitlistedCount: r.waitlisted_count,
    courseTitle: r.course_title,
    credits: r.credits,
    etag: etags.of(r.version),
    createTime: r.created_at,
    updateTime: r.updated_at,
  };
}

