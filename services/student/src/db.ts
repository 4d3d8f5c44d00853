import type { ColumnType, Generated, Kysely, Transaction } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export type ClassStandingName = 'FRESHMAN' | 'SOPHOMORE' | 'JUNIOR' | 'SENIOR' | 'GRADUATE';
export type GradeName = 'F' | 'D_MINUS' | 'D' | 'D_PLUS' | 'C_MINUS' | 'C' | 'C_PLUS' | 'B_MINUS' | 'B' | 'B_PLUS' | 'A_MINUS' | 'A' | 'A_PLUS';
export type HoldKindName = 'FINANCIAL' | 'ADVISING' | 'DISCIPLINARY' | 'ADMINISTRATIVE';

export interface StudentTable {
  id: string;
  name: string;
  email: string;
  program: string;
  class_standing: ClassStandingName;
  max_credits: number;
  version: Generated<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface CompletedCourseTable {
  student_id: string;
  course_code: string;
  term_code: string;
  grade: GradeName;
  /** Credits earned: the course's credits, 0 for F. */
  credits: number;
  /** The term's first day when the catalog knows the term; orders the record. */
  term_start_date: string | null;
  recorded_at: Timestamp;
}

export interface HoldTable {
  id: Generated<string>;
  student_id: string;
  kind: HoldKindName;
  reason: string;
  placed_by: string;
  placed_at: Timestamp;
  released_by: string | null;
  released_at: Date | null;
}

export interface RegistrationWindowTable {
  student_id: string;
  term_code: string;
  opens_at: Date;
  updated_at: Timestamp;
}

/** The student schema as Kysely sees it. */
export interface StudentDatabase {
  'student.students': StudentTable;
  'student.completed_courses': CompletedCourseTable;
  'student.holds': HoldTable;
  'student.registration_windows': RegistrationWindowTable;
}

export type StudentDb = Kysely<StudentDatabase> | Transaction<StudentDatabase>;
