import { randomUUID } from 'node:crypto';
import type { RegistrationRow } from '../../services/registration/src/registrations/registrations.repository';
import { toRegistration } from '../../services/registration/src/registrations/registrations.service';
import * as grpc from '@grpc/grpc-js';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { RegistrationServiceServer } from '../../gen/coursereg/registration/v1/registration_service';
import type { StudentServiceClient, CheckEligibilityResponse } from '../../gen/coursereg/student/v1/student_service';
import { principalOf, studentIdFor } from '../../services/shared/src/auth';
import { failedPrecondition, notFound, unavailable } from '../../services/shared/src/errors';
import { isUniqueViolation } from '../../services/shared/src/db';
import type { Logger } from '../../services/shared/src/logger';
import { unary } from '../../services/shared/src/server';
import { rules, validate } from '../../services/shared/src/validation';
import { z } from 'zod';

/**
 * The naive design the benchmark compares against (not part of the product):
 * Register decides every request synchronously, one request per transaction.
 * Per request it asks the student service's CheckEligibility (one pair, one
 * call), then in its own transaction locks the section row (SELECT ... FOR
 * UPDATE), refuses a second live registration, takes a seat or a waitlist place
 * or rejects SECTION_FULL, stores the row in its final state, updates the
 * counts, commits and answers the final state. No Redis, no queue, no batching.
 */
export interface NaiveDeps {
  db: Kysely<any>;
  students: StudentServiceClient;
  serviceAuth: () => Promise<grpc.Metadata>;
  log: Logger;
}

// The same row type and API view as the product, so both answer in the same shape.
type Row = RegistrationRow;
const toMessage = toRegistration;

const registerRequest = z.object({ sectionId: rules.uuid(), requestId: rules.requestId(64), studentId: z.string() });

async function findByRequest(db: Kysely<any> | Transaction<any>, studentId: string, requestId: string): Promise<Row | undefined> {
  const r = await sql<Row>`SELECT * FROM registration.registrations WHERE student_id = ${studentId} AND request_id = ${requestId}`.execute(db);
  return r.rows[0];
}

function checkEligibility(deps: NaiveDeps, studentId: string, sectionId: string): Promise<CheckEligibilityResponse> {
  return deps.serviceAuth().then(
    (md) =>
      new Promise((resolve, reject) => {
        deps.students.checkEligibility(
          { queries: [{ studentId, target: { $case: 'sectionId', sectionId } }], atTime: undefined },
          md,
          { deadline: Date.now() + 10_000 },
          (err, res) => (err ? reject(unavailable('STUDENT_SERVICE_UNAVAILABLE', 'eligibility could not be checked')) : resolve(res)),
        );
      }),
  );
}

async function decide(trx: Transaction<any>, studentId: string, sectionId: string, requestId: string, actor: string): Promise<{ row: Row; position: number }> {
  const section = (
    await sql<{ term_code: string; course_code: string; credits: number; capacity: number; waitlist_capacity: number; enrolled_count: number; waitlisted_count: number }>`
      SELECT s.term_code, s.course_code, c.credits, s.capacity, s.waitlist_capacity, s.enrolled_count, s.waitlisted_count
        FROM course.sections s JOIN course.courses c ON c.code = s.course_code
       WHERE s.id = ${sectionId} FOR UPDATE OF s`.execute(trx)
  ).rows[0];
  if (!section) throw notFound('SECTION_NOT_FOUND', `no section ${sectionId}`);
  const live = await sql`SELECT 1 FROM registration.registrations
     WHERE student_id = ${studentId} AND section_id = ${sectionId} AND state IN ('PENDING', 'ENROLLED', 'WAITLISTED')`.execute(trx);
  if (live.rows.length > 0) throw failedPrecondition('ALREADY_REGISTERED', 'you are already registered or waitlisted in this section');

  let state: 'ENROLLED' | 'WAITLISTED' | 'REJECTED';
  let position = 0;
  if (section.enrolled_count < section.capacity) state = 'ENROLLED';
  else if (section.waitlisted_count < section.waitlist_capacity) {
    state = 'WAITLISTED';
    position = section.waitlisted_count + 1;
  } else state = 'REJECTED';

  const row = (
    await sql<Row>`
      INSERT INTO registration.registrations
        (id, student_id, section_id, term_code, course_code, credits, state, reason_code, reason_message, request_id, requested_by, waitlist_seq, decided_at)
      VALUES (${randomUUID()}, ${studentId}, ${sectionId}, ${section.term_code}, ${section.course_code}, ${section.credits}, ${state},
              ${state === 'REJECTED' ? 'SECTION_FULL' : ''}, ${state === 'REJECTED' ? 'No seats or waitlist places are left in this section.' : ''},
              ${requestId}, ${actor}, ${state === 'WAITLISTED' ? sql`nextval('registration.waitlist_seq')` : null}, clock_timestamp())
      RETURNING *`.execute(trx)
  ).rows[0];
  if (state === 'ENROLLED') await sql`UPDATE course.sections SET enrolled_count = enrolled_count + 1 WHERE id = ${sectionId}`.execute(trx);
  if (state === 'WAITLISTED') await sql`UPDATE course.sections SET waitlisted_count = waitlisted_count + 1 WHERE id = ${sectionId}`.execute(trx);
  return { row, position };
}

export function naiveHandlers(deps: NaiveDeps): Pick<RegistrationServiceServer, 'register'> {
  return {
    register: unary(deps.log, 'Register', async (call) => {
      const req = validate(registerRequest, call.request);
      const principal = principalOf(call);
      const studentId = studentIdFor(principal, req.studentId);

      const existing = await findByRequest(deps.db, studentId, req.requestId);
      if (existing) return { registration: toMessage(existing) };

      const eligibility = (await checkEligibility(deps, studentId, req.sectionId)).results[0];
      if (!eligibility?.eligible) {
        const first = eligibility?.ineligibilities[0];
        const reason = first?.reasonCode ?? 'NOT_ELIGIBLE';
        if (reason === 'SECTION_NOT_FOUND' || reason === 'STUDENT_NOT_FOUND') throw notFound(reason, first?.message ?? reason);
        throw failedPrecondition(reason, first?.message ?? 'not eligible');
      }

      try {
        const { row, position } = await deps.db.transaction().execute((trx) => decide(trx, studentId, req.sectionId, req.requestId, principal.subject));
        return { registration: toMessage(row, position) };
      } catch (err) {
        // A retry of the same request raced its first attempt: answer what the first stored.
        if (isUniqueViolation(err)) {
          const again = await findByRequest(deps.db, studentId, req.requestId);
          if (again) return { registration: toMessage(again) };
          throw failedPrecondition('ALREADY_REGISTERED', 'you are already registered or waitlisted in this section');
        }
        throw err;
      }
    }),
  };
}
