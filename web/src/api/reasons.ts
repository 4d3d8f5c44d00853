import { ApiError, Code } from './errors';

/**
 * Every stable reason code the services, the gateway and the registration workers
 * can return (ErrorInfo.reason, Registration.reason_code, CartOutcome.error_reason,
 * Ineligibility.reason_code), as a sentence a student or registrar can act on.
 */
export const REASON_MESSAGES: Readonly<Record<string, string>> = {
  // Seats and sections
  SECTION_FULL: 'This section is full, and its waitlist is full too.',
  SECTION_CLOSED: 'This section is closed to new registrations.',
  SECTION_CANCELLED: 'This section has been cancelled.',
  SECTION_NOT_FOUND: 'This section does not exist (it may have been removed).',
  SECTION_EXISTS: 'A section with this code already exists for this course and term.',
  LINKED_SECTION_REQUIRED: 'This section must be taken together with one of its linked sections (for example a lab). Register for both.',
  LINKED_SECTION_INVALID: 'A linked section must belong to the same course and term.',
  CAPACITY_BELOW_ENROLLED: 'Capacity cannot be set below the number of students already enrolled.',
  WAITLIST_BELOW_WAITLISTED: 'Waitlist capacity cannot be set below the number of students already waiting.',
  CAPACITY_OVERRIDE: 'Enrolled with a capacity override from the registrar.',
  // Student eligibility
  HOLD_ACTIVE: 'You have a hold on your account. Contact the office that placed it before registering.',
  PREREQUISITE_NOT_MET: 'You have not completed the prerequisites for this course.',
  REGISTRATION_WINDOW_CLOSED: 'Your registration window is not open (it has not started yet, or the add/drop deadline has passed).',
  TERM_NOT_OPEN: 'Registration for this term is not open.',
  ALREADY_COMPLETED: 'You have already passed this course.',
  ALREADY_REGISTERED: 'You are already registered, waitlisted or pending in this section.',
  DUPLICATE_COURSE: 'You already hold another section of this course.',
  TIME_CONFLICT: 'This section meets at the same time as a section you are enrolled in.',
  CREDIT_LIMIT_EXCEEDED: 'Adding this would take you over your credit limit for the term.',
  NOT_ELIGIBLE: 'You are not eligible for this section.',
  ELIGIBILITY_UNKNOWN: 'Your eligibility could not be checked just now. Please try again.',
  STUDENT_NOT_FOUND: 'No student with this id exists.',
  STUDENT_EXISTS: 'A student with this id already exists.',
  EMAIL_TAKEN: 'This email address is already used by another student.',
  // Drop, swap, waitlist
  NOT_REGISTERED: 'You are not enrolled or waitlisted in this section.',
  NOT_ENROLLED: 'You can only swap out of a section you are enrolled in.',
  NOT_WAITLISTED: 'You are not on the waitlist of this section.',
  REGISTRATION_PENDING: 'Your registration for this section is still being decided. Try again in a moment.',
  REGISTRATION_NOT_FOUND: 'This registration does not exist.',
  // Cart
  CART_EMPTY: 'Your cart is empty.',
  CART_FULL: 'Your cart is full. Register or remove some sections first.',
  // Requests and processing
  REQUEST_ID_REUSED: 'This request was already used for something else. Please try again.',
  REQUEST_IN_PROGRESS: 'The same request is still being accepted. Wait a moment and try again.',
  QUEUE_UNAVAILABLE: 'Registration requests cannot be queued right now. Nothing was changed; please try again shortly.',
  PUBLISH_FAILED: 'The request could not be queued. Nothing was changed; please try again.',
  PROCESSING_FAILED: 'The request could not be processed after several attempts. Please try again.',
  SEAT_CACHE_UNAVAILABLE: 'Seat information is being rebuilt. Try again in a moment.',
  STUDENT_SERVICE_UNAVAILABLE: 'Student records cannot be reached right now. Please try again shortly.',
  CATALOG_UNAVAILABLE: 'The course catalog cannot be reached right now. Please try again shortly.',
  // The gateway's own refusals
  RATE_LIMITED: 'Too many requests right now. Please wait a moment before trying again.',
  LOCAL_RATE_LIMITED: 'The system is very busy right now. Please wait a moment before trying again.',
  UPSTREAM_OVERLOADED: 'The system is very busy right now. Nothing was changed; please try again shortly.',
  UPSTREAM_CIRCUIT_OPEN: 'Part of the system is recovering from a problem. Nothing was changed; please try again shortly.',
  DEADLINE_EXCEEDED: 'The server took too long to answer. Check your schedule before trying again.',
  REQUEST_TOO_LARGE: 'The request was too large to send.',
  ROUTE_NOT_FOUND: 'This version of the page asked for something the server does not offer. Reload the page.',
  METHOD_NOT_ALLOWED: 'This version of the page asked for something the server does not offer. Reload the page.',
  GATEWAY_INTERNAL: 'Something went wrong on our side. Please try again.',
  UPSTREAM_UNAVAILABLE: 'Part of the system cannot be reached right now. Please try again shortly.',
  GATEWAY_SHUTTING_DOWN: 'The server is restarting. Please try again in a moment.',
  RATE_LIMIT_SERVICE_ERROR: 'The system cannot check its request limits right now. Nothing was changed; please try again shortly.',
  CANCELLED: 'The request was cancelled.',
  // Catalog administration
  TERM_NOT_FOUND: 'No term with this code exists.',
  TERM_EXISTS: 'A term with this code already exists.',
  TERM_HAS_SECTIONS: 'This term still has sections, so it cannot be deleted.',
  COURSE_NOT_FOUND: 'No course with this code exists (check prerequisites and corequisites too).',
  COURSE_EXISTS: 'A course with this code already exists.',
  COURSE_HAS_SECTIONS: 'This course has been offered, so it cannot be deleted.',
  COURSE_IS_REQUIRED: 'Another course names this one as a requisite, so it cannot be deleted.',
  PREREQUISITE_CYCLE: 'These prerequisites would lead back to the course itself.',
  HOLD_NOT_FOUND: 'This hold does not exist.',
  HOLD_ALREADY_RELEASED: 'This hold has already been released.',
  ETAG_MISMATCH: 'Someone else changed this in the meantime. Reload it and make your change again.',
  // Access
  TOKEN_MISSING: 'You are not signed in. Please sign in.',
  TOKEN_INVALID: 'Your sign-in is not valid. Please sign in again.',
  TOKEN_EXPIRED: 'Your session has expired. Please sign in again.',
  PERMISSION_DENIED: 'You are not allowed to do that.',
  INVALID_ARGUMENT: 'Some of the information entered is not valid.',
  INTERNAL: 'Something went wrong on our side. Please try again.',
};

const CODE_MESSAGES: Readonly<Record<number, string>> = {
  [Code.CANCELLED]: 'The request was cancelled.',
  [Code.UNKNOWN]: 'Could not reach the registration server. Check your connection and try again.',
  [Code.INVALID_ARGUMENT]: 'Some of the information entered is not valid.',
  [Code.DEADLINE_EXCEEDED]: 'The server took too long to answer. Please try again.',
  [Code.NOT_FOUND]: 'That no longer exists.',
  [Code.ALREADY_EXISTS]: 'That already exists.',
  [Code.PERMISSION_DENIED]: 'You are not allowed to do that.',
  [Code.RESOURCE_EXHAUSTED]: 'Too many requests right now. Please wait a moment before trying again.',
  [Code.FAILED_PRECONDITION]: 'That cannot be done right now.',
  [Code.ABORTED]: 'Someone else changed this in the meantime. Reload it and make your change again.',
  [Code.UNIMPLEMENTED]: 'This server does not support that yet.',
  [Code.INTERNAL]: 'Something went wrong on our side. Please try again.',
  [Code.UNAVAILABLE]: 'The registration service is unavailable right now. Please try again shortly.',
  [Code.UNAUTHENTICATED]: 'Your session has expired or is not valid. Please sign in again.',
};

/** The sentence for a reason code; unknown codes get `fallback`, or a generic sentence naming the code. */
export function reasonSentence(reason: string | undefined, fallback?: string): string {
  if (reason && REASON_MESSAGES[reason]) return REASON_MESSAGES[reason];
  if (fallback) return fallback;
  return reason ? `The request was refused (${reason}).` : 'The request was refused.';
}

/** "Try again in 1 second" / "in 7 seconds". */
export function retryPhrase(seconds: number): string {
  const s = Math.max(1, Math.ceil(seconds));
  return `Try again in ${s} second${s === 1 ? '' : 's'}.`;
}

/** One plain-language sentence for a failed call (without any countdown; see ErrorNotice). */
export function errorSentence(err: ApiError): string {
  if (err.rateLimited) return REASON_MESSAGES.RATE_LIMITED;
  if (err.transport) return CODE_MESSAGES[Code.UNKNOWN];
  if (err.reason && REASON_MESSAGES[err.reason]) return REASON_MESSAGES[err.reason];
  return CODE_MESSAGES[err.code] ?? 'Something went wrong. Please try again.';
}
