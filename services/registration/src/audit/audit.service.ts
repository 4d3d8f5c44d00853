import type { AuditEvent } from '../../../../gen/coursereg/registration/v1/registration';
import { stateToProto } from '../registrations/registrations.service';
import type { AuditRow } from './audit.repository';

export function auditView(e: AuditRow): AuditEvent {
  return {
    sequence: Number(e.sequence),
    kind: e.kind,
    actor: e.actor,
    studentId: e.student_id,
    sectionId: e.section_id,
    registrationId: e.registration_id ?? '',
    requestId: e.request_id,
    beforeState: stateToProto(e.before_state),
    afterState: stateToProto(e.after_state),
    reasonCode: e.reason_code,
    occurTime: e.occurred_at,
  };
}

/** A section's roster and waitlist as they stood after a prefix of its events. */
export interface Replayed {
  enrolled: string[];
  waitlisted: string[];
}

/**
 * Rebuilds a section's roster and waitlist by replaying its events in order.
 * The waitlist keeps arrival order: a student enters it when their request is
 * decided WAITLISTED and leaves it on promotion or drop.
 */
export function replaySection(events: readonly AuditRow[]): Replayed {
  const enrolled = new Set<string>();
  const waitlist: string[] = [];
  const leaveWaitlist = (s: string) => {
    const i = waitlist.indexOf(s);
    if (i >= 0) waitlist.splice(i, 1);
  };
  for (const e of events) {
    if (!e.after_state || e.after_state === e.before_state) continue;
    if (e.before_state === 'ENROLLED') enrolled.delete(e.student_id);
    if (e.before_state === 'WAITLISTED') leaveWaitlist(e.student_id);
    if (e.after_state === 'ENROLLED') enrolled.add(e.student_id);
    if (e.after_state === 'WAITLISTED') waitlist.push(e.student_id);
  }
  return { enrolled: [...enrolled].sort(), waitlisted: waitlist };
}
