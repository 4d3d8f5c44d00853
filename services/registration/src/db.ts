import type { ColumnType, Generated, Kysely, Transaction } from 'kysely';
import type { CourseDatabase } from '../../course/src/db';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export type RegistrationStateName = 'PENDING' | 'ENROLLED' | 'WAITLISTED' | 'REJECTED' | 'DROPPED' | 'FAILED';

export interface RegistrationTable {
  id: string;
  student_id: string;
  section_id: string;
  term_code: string;
  course_code: string;
  credits: number;
  state: RegistrationStateName;
  reason_code: Generated<string>;
  reason_message: Generated<string>;
  request_id: string;
  requested_by: string;
  seat_held: Generated<boolean>;
  capacity_override: Generated<boolean>;
  waitlist_seq: ColumnType<number | null, number | null | undefined, number | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
  decided_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface CapacityOverrideTable {
  student_id: string;
  section_id: string;
  reason: string;
  granted_by: string;
  granted_at: Timestamp;
  used_by_registration_id: string | null;
}

export interface AuditEventTable {
  sequence: ColumnType<number, never, never>;
  kind: string;
  actor: string;
  student_id: string;
  section_id: string;
  registration_id: string | null;
  request_id: string;
  before_state: string;
  after_state: string;
  reason_code: string;
  occurred_at: Timestamp;
}

export interface OutboxTable {
  id: ColumnType<number, never, never>;
  routing_key: string;
  message_type: string;
  payload: Buffer;
  created_at: Timestamp;
}

/**
 * The registration schema, plus the course tables the workers read and lock:
 * course.sections is the seat row (a stated design choice, see the migration).
 */
export interface RegistrationDatabase extends CourseDatabase {
  'registration.registrations': RegistrationTable;
  'registration.capacity_overrides': CapacityOverrideTable;
  'registration.audit_events': AuditEventTable;
  'registration.outbox': OutboxTable;
}

export type RegistrationDb = Kysely<RegistrationDatabase> | Transaction<RegistrationDatabase>;
