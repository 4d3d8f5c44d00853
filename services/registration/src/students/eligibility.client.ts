import * as grpc from '@grpc/grpc-js';
import type { EligibilityResult } from '../../../../gen/coursereg/student/v1/student_service';
import type { StudentServiceClient } from '../../../../gen/coursereg/student/v1/student_service';
import { createBatcher } from '../../../shared/src/batcher';
import { unavailable } from '../../../shared/src/errors';

/** One (student, section) pair to check. */
export interface EligibilityPair {
  studentId: string;
  sectionId: string;
}

/** Asks the student service whether students may take sections. */
export interface Eligibility {
  /** Checks many pairs at once (split into calls of at most 500). */
  checkMany(pairs: readonly EligibilityPair[]): Promise<EligibilityResult[]>;
  /** Checks one pair; concurrent single checks are coalesced into batched calls. */
  check(pair: EligibilityPair): Promise<EligibilityResult>;
  /** The student's credit limit (0 for an unknown student). */
  maxCreditsOf(studentId: string): Promise<number>;
}

const MAX_PAIRS = 500;
const DEADLINE_MS = 10_000;

/**
 * Eligibility through the student service's CheckEligibility. Single checks
 * that arrive within `windowMs` of each other go out as one call, so a rush of
 * Register calls costs a few batched calls rather than one per request.
 */
export function createEligibility(client: StudentServiceClient, auth: () => Promise<grpc.Metadata>, windowMs = 2): Eligibility {
  const call = async (pairs: readonly EligibilityPair[]): Promise<EligibilityResult[]> => {
    const md = await auth();
    return new Promise((resolve, reject) => {
      client.checkEligibility(
        { queries: pairs.map((p) => ({ studentId: p.studentId, target: { $case: 'sectionId', sectionId: p.sectionId } })), atTime: undefined },
        md,
        { deadline: Date.now() + DEADLINE_MS },
        (err, res) => {
          if (err) {
            if (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED) {
              reject(unavailable('STUDENT_SERVICE_UNAVAILABLE', 'the student service cannot be reached; try again shortly'));
            } else reject(err);
          } else resolve(res.results);
        },
      );
    });
  };

  const checkMany = async (pairs: readonly EligibilityPair[]) => {
    const chunks: EligibilityPair[][] = [];
    for (let i = 0; i < pairs.length; i += MAX_PAIRS) chunks.push(pairs.slice(i, i + MAX_PAIRS));
    return (await Promise.all(chunks.map(call))).flat();
  };

  const check = createBatcher<EligibilityPair, EligibilityResult>({ maxSize: MAX_PAIRS, windowMs, run: checkMany });

  const maxCreditsOf = async (studentId: string) => {
    const md = await auth();
    return new Promise<number>((resolve, reject) => {
      client.getStudent({ id: studentId }, md, { deadline: Date.now() + DEADLINE_MS }, (err, res) => {
        if (err?.code === grpc.status.NOT_FOUND) resolve(0);
        else if (err) reject(err.code === grpc.status.UNAVAILABLE ? unavailable('STUDENT_SERVICE_UNAVAILABLE', 'the student service cannot be reached; try again shortly') : err);
        else resolve(res.student?.maxCredits ?? 0);
      });
    });
  };

  return { checkMany, check, maxCreditsOf };
}
