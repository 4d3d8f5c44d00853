import { RegistrationState, type Registration } from '../../../gen/web/coursereg/registration/v1/registration';
import type { ApiError } from '../api/errors';
import { errorSentence, reasonSentence } from '../api/reasons';

export type OutcomeState = 'pending' | 'enrolled' | 'waitlisted' | 'rejected' | 'failed' | 'dropped' | 'refused';

/** What became of one request for a section, as the student sees it. */
export interface Outcome {
  sectionId: string;
  /** e.g. "CS 101 section 001". */
  label: string;
  state: OutcomeState;
  registrationId?: string;
  reasonCode?: string;
  /** The server's own explanation, shown as a detail. */
  reasonMessage?: string;
  waitlistPosition?: number;
  /** Enrolled from the waitlist (the registration was waitlisted before). */
  promoted?: boolean;
  /** Refused at the door with a rate limit: seconds to wait. */
  retryAfterSeconds?: number;
  updatedAt: number;
}

const STATE: Record<number, OutcomeState> = {
  [RegistrationState.REGISTRATION_STATE_PENDING]: 'pending',
  [RegistrationState.REGISTRATION_STATE_ENROLLED]: 'enrolled',
  [RegistrationState.REGISTRATION_STATE_WAITLISTED]: 'waitlisted',
  [RegistrationState.REGISTRATION_STATE_REJECTED]: 'rejected',
  [RegistrationState.REGISTRATION_STATE_DROPPED]: 'dropped',
  [RegistrationState.REGISTRATION_STATE_FAILED]: 'failed',
};

/** The plain name of a registration state ("enrolled", "waitlisted", ...); undefined for an unknown one. */
export function registrationStateName(state: RegistrationState): OutcomeState | undefined {
  return STATE[state];
}

export function outcomeFromRegistration(r: Registration, label: string, previous?: Outcome): Outcome {
  const state = STATE[r.state] ?? 'pending';
  return {
    sectionId: r.sectionId,
    label,
    state,
    registrationId: r.id,
    reasonCode: r.reasonCode || undefined,
    reasonMessage: r.reasonMessage || undefined,
    waitlistPosition: r.waitlistPosition > 0 ? r.waitlistPosition : state === 'waitlisted' ? previous?.waitlistPosition : undefined,
    promoted: state === 'enrolled' && (previous?.state === 'waitlisted' || previous?.promoted === true),
    updatedAt: r.updateTime?.getTime() ?? Date.now(),
  };
}

/** A request refused before it was queued (Register or SubmitCart answered with an error). */
export function outcomeFromRefusal(sectionId: string, label: string, reason: string | undefined, message: string | undefined, err?: ApiError): Outcome {
  return {
    sectionId,
    label,
    state: 'refused',
    reasonCode: reason || (err?.rateLimited ? 'RATE_LIMITED' : err?.reason),
    reasonMessage: message || (err ? errorSentence(err) : undefined),
    retryAfterSeconds: err?.retryAfterSeconds,
    updatedAt: Date.now(),
  };
}

export const isFinal = (o: Outcome) => o.state !== 'pending';

/** The one-line status: "Enrolled", "Waitlisted — position 3", "Not registered: This section is full, …". */
export function outcomeText(o: Outcome): string {
  switch (o.state) {
    case 'pending':
      return 'Pending — waiting for a decision…';
    case 'enrolled':
      return o.promoted ? 'Enrolled — promoted from the waitlist' : o.reasonCode === 'CAPACITY_OVERRIDE' ? 'Enrolled (capacity override)' : 'Enrolled';
    case 'waitlisted':
      return o.waitlistPosition ? `Waitlisted — position ${o.waitlistPosition}` : 'Waitlisted';
    case 'dropped':
      return 'Dropped';
    case 'rejected':
      return `Not registered: ${reasonSentence(o.reasonCode, o.reasonMessage)}`;
    case 'failed':
      return `Failed: ${reasonSentence(o.reasonCode, o.reasonMessage)}`;
    case 'refused':
      return `Not registered: ${reasonSentence(o.reasonCode, o.reasonMessage)}`;
  }
}
