import type { ColumnType, Generated, Kysely, Transaction } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface TermTable {
  code: string;
  name: string;
  start_date: string;
  end_date: string;
  registration_opens_at: Date;
  add_drop_deadline_at: Date;
  status: 'PLANNED' | 'OPEN' | 'CLOSED';
  version: Generated<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface CourseTable {
  code: string;
  title: string;
  description: string;
  credits: number;
  department: string;
  prerequisite: ColumnType<unknown | null, string | null, string | null>;
  version: Generated<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface CourseRequisiteTable {
  course_code: string;
  required_code: string;
  kind: 'PRE' | 'CO';
}

export interface SectionTable {
  id: Generated<string>;
  course_code: string;
  term_code: string;
  section_code: string;
  kind: 'LECTURE' | 'LAB' | 'DISCUSSION' | 'SEMINAR';
  instructor: string;
  capacity: number;
  waitlist_capacity: number;
  enrolled_count: Generated<number>;
  waitlisted_count: Generated<number>;
  status: 'OPEN' | 'CLOSED' | 'CANCELLED';
  version: Generated<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface MeetingTimeTable {
  section_id: string;
  ordinal: number;
  days: number;
  start_minute: number;
  end_minute: number;
  room: string;
}

export interface SectionLinkTable {
  section_id: string;
  linked_section_id: string;
}

/** The course schema as Kysely sees it. */
export interface CourseDatabase {
  'course.terms': TermTable;
  'course.courses': CourseTable;
  'course.course_requisites': CourseRequisiteTable;
  'course.sections': SectionTable;
  'course.meeting_times': MeetingTimeTable;
  'course.section_links': SectionLinkTable;
}

export type CourseDb = Kysely<CourseDatabase> | Transaction<CourseDatabase>;
