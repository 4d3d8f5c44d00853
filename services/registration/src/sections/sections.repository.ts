import { sql } from 'kysely';
import type { RegistrationDb } from '../db';

/** What registration needs to know about a section: its course, credits, meetings and links. */
export interface SectionInfo {
  id: string;
  termCode: string;
  courseCode: string;
  sectionCode: string;
  courseTitle: string;
  instructor: string;
  credits: number;
  status: 'OPEN' | 'CLOSED' | 'CANCELLED';
  capacity: number;
  waitlistCapacity: number;
  enrolledCount: number;
  waitlistedCount: number;
  meetings: Meeting[];
  linkedSectionIds: string[];
}

export interface Meeting {
  /** Bit set: bit n is DayOfWeek n (1 Monday ... 7 Sunday). */
  days: number;
  startMinute: number;
  endMinute: number;
  room: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Loads sections with their course, meeting times and linked sections; unknown ids are absent. */
export async function findSections(db: RegistrationDb, ids: readonly string[]): Promise<Map<string, SectionInfo>> {
  const wanted = [...new Set(ids.filter((id) => UUID.test(id)))];
  if (wanted.length === 0) return new Map();
  const rows = await sql<{
    id: string;
    term_code: string;
    course_code: string;
    section_code: string;
    title: string;
    instructor: string;
    credits: number;
    status: SectionInfo['status'];
    capacity: number;
    waitlist_capacity: number;
    enrolled_count: number;
    waitlisted_count: number;
    meetings: Meeting[] | null;
    links: string[] | null;
  }>`
    SELECT s.id, s.term_code, s.course_code, s.section_code, c.title, s.instructor, c.credits, s.status,
           s.capacity, s.waitlist_capacity, s.enrolled_count, s.waitlisted_count,
           (SELECT json_agg(json_build_object('days', m.days, 'startMinute', m.start_minute, 'endMinute', m.end_minute, 'room', m.room) ORDER BY m.ordinal)
              FROM course.meeting_times m WHERE m.section_id = s.id) AS meetings,
           (SELECT array_agg(l.linked_section_id::text ORDER BY l.linked_section_id) FROM course.section_links l WHERE l.section_id = s.id) AS links
      FROM course.sections s JOIN course.courses c ON c.code = s.course_code
     WHERE s.id = ANY(${wanted}::uuid[])`.execute(db);
  return new Map(
    rows.rows.map((r) => [
      r.id,
      {
        id: r.id,
        termCode: r.term_code,
        courseCode: r.course_code,
        sectionCode: r.section_code,
        courseTitle: r.title,
        instructor: r.instructor,
        credits: r.credits,
        status: r.status,
        capacity: r.capacity,
        waitlistCapacity: r.waitlist_capacity,
        enrolledCount: r.enrolled_count,
        waitlistedCount: r.waitlisted_count,
        meetings: r.meetings ?? [],
        linkedSectionIds: r.links ?? [],
      },
    ]),
  );
}

/** Locks seat rows in a fixed order (by id) so concurrent transactions never deadlock. */
export async function lockSeatRows(trx: RegistrationDb, ids: readonly string[]) {
  const sorted = [...new Set(ids)].sort();
  if (sorted.length === 0) return new Map<string, SeatRow>();
  const rows = await sql<SeatRow>`
    SELECT id, capacity, waitlist_capacity, enrolled_count, waitlisted_count, status, term_code
      FROM course.sections WHERE id = ANY(${sorted}::uuid[]) ORDER BY id FOR UPDATE`.execute(trx);
  return new Map(rows.rows.map((r) => [r.id, r]));
}

export interface SeatRow {
  id: string;
  capacity: number;
  waitlist_capacity: number;
  enrolled_count: number;
  waitlisted_count: number;
  status: 'OPEN' | 'CLOSED' | 'CANCELLED';
  term_code: string;
}

/** Writes the counts of locked seat rows, all in one statement. */
export async function writeSeatCounts(trx: RegistrationDb, counts: readonly { id: string; enrolled: number; waitlisted: number }[]) {
  if (counts.length === 0) return;
  await sql`
    UPDATE course.sections s SET enrolled_count = c.enrolled, waitlisted_count = c.waitlisted
      FROM unnest(${counts.map((c) => c.id)}::uuid[], ${counts.map((c) => c.enrolled)}::int[], ${counts.map((c) => c.waitlisted)}::int[]) AS c(id, enrolled, waitlisted)
     WHERE s.id = c.id`.execute(trx);
}
