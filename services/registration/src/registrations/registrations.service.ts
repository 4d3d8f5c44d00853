import { RegistrationState, type Registration } from '../../../../gen/coursereg/registration/v1/registration';
import type { RegistrationStateName } from '../db';
import type { RegistrationRow } from './registrations.repository';

const STATE: Record<RegistrationStateName, RegistrationState> = {
  PENDING: RegistrationState.REGISTRATION_STATE_PENDING,
  ENROLLED: RegistrationState.REGISTRATION_STATE_ENROLLED,
  WAITLISTED: RegistrationState.REGISTRATION_STATE_WAITLISTED,
  REJECTED: RegistrationState.REGISTRATION_STATE_REJECTED,
  DROPPED: RegistrationState.REGISTRATION_STATE_DROPPED,
  FAILED: RegistrationState.REGISTRATION_STATE_FAILED,
};

export const stateToProto = (s: string): RegistrationState => STATE[s as RegistrationStateName] ?? RegistrationState.REGISTRATION_STATE_UNSPECIFIED;

/** The API view of a registration row; the waitlist position is filled in by the caller when known. */
export function toRegistration(row: RegistrationRow, waitlistPosition = 0): Registration {
  return {
    id: row.id,
    studentId: row.student_id,
    sectionId: row.section_id,
    termCode: row.term_code,
    courseCode: row.course_code,
    state: stateToProto(row.state),
    reasonCode: row.reason_code,
    reasonMessage: row.reason_message,
    waitlistPosition: row.state === 'WAITLISTED' ? waitlistPosition : 0,
    requestId: row.request_id,
    requestedBy: row.requested_by,
    createTime: row.created_at,
    updateTime: row.updated_at,
    credits: row.credits,
  };
}
