import { sql, type Kysely } from 'kysely';

/**
 * The seat invariants, checked in SQL after a run. Each figure counts offending
 * sections (or students, or pairs); all must be zero.
 */
export interface SeatInvariants {
  /** Sections whose stored or counted enrollments exceed capacity plus the overrides used. */
  oversoldSections: number;
  /** Seats sold beyond capacity plus overrides, summed over sections. */
  oversoldSeats: number;
  /** Sections whose stored or counted waitlist exceeds the waitlist capacity. */
  overfullWaitlists: number;
  /** Sections whose enrolled_count or waitlisted_count differ from the rows they count. */
  countMismatches: number;
  /** (student, section) pairs with more than one live (PENDING, ENROLLED, WAITLISTED) row. */
  duplicateEnrollments: number;
  /** (section, waitlist_seq) pairs used twice. */
  duplicateWaitlistSeq: number;
  /** Students whose enrolled credits exceed their limit. */
  overCreditLimit: number;
  total: number;
}

export async function checkSeatInvariants(db: Kysely<any>): Promise<SeatInvariants> {
  const seats = (
    await sql<{ oversold_sections: number; oversold_seats: number; overfull_waitlists: number; count_mismatches: number }>`
      WITH counted AS (
        SELECT section_id,
               count(*) FILTER (WHERE state = 'ENROLLED') AS enrolled,
               count(*) FILTER (WHERE state = 'WAITLISTED') AS waitlisted,
               count(*) FILTER (WHERE state = 'ENROLLED' AND capacity_override) AS overrides
          FROM registration.registrations GROUP BY section_id)
      SELECT count(*) FILTER (WHERE greatest(s.enrolled_count, coalesce(c.enrolled, 0)) > s.capacity + coalesce(c.overrides, 0))::int AS oversold_sections,
             coalesce(sum(greatest(0, greatest(s.enrolled_count, coalesce(c.enrolled, 0)) - s.capacity - coalesce(c.overrides, 0))), 0)::int AS oversold_seats,
             count(*) FILTER (WHERE greatest(s.waitlisted_count, coalesce(c.waitlisted, 0)) > s.waitlist_capacity)::int AS overfull_waitlists,
             count(*) FILTER (WHERE s.enrolled_count <> coalesce(c.enrolled, 0) OR s.waitlisted_count <> coalesce(c.waitlisted, 0))::int AS count_mismatches
        FROM course.sections s LEFT JOIN counted c ON c.section_id = s.id`.execute(db)
  ).rows[0];
  const dup = (
    await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM (
        SELECT 1 FROM registration.registrations WHERE state IN ('PENDING', 'ENROLLED', 'WAITLISTED')
         GROUP BY student_id, section_id HAVING count(*) > 1) d`.execute(db)
  ).rows[0].n;
  const seq = (
    await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM (
        SELECT 1 FROM registration.registrations WHERE waitlist_seq IS NOT NULL
         GROUP BY section_id, waitlist_seq HAVING count(*) > 1) d`.execute(db)
  ).rows[0].n;
  const credits = (
    await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM (
        SELECT r.student_id FROM registration.registrations r JOIN student.students st ON st.id = r.student_id
         WHERE r.state = 'ENROLLED' GROUP BY r.student_id, st.max_credits HAVING sum(r.credits) > st.max_credits) d`.execute(db)
  ).rows[0].n;
  const out = {
    oversoldSections: seats.oversold_sections,
    oversoldSeats: seats.oversold_seats,
    overfullWaitlists: seats.overfull_waitlists,
    countMismatches: seats.count_mismatches,
    duplicateEnrollments: dup,
    duplicateWaitlistSeq: seq,
    overCreditLimit: credits,
  };
  return { ...out, total: out.oversoldSections + out.overfullWaitlists + out.countMismatches + out.duplicateEnrollments + out.duplicateWaitlistSeq + out.overCreditLimit };
}

/** Seats left empty in sections that turned someone away as SECTION_FULL (informational, not an invariant). */
export async function seatsLeftWhileRejected(db: Kysely<any>, doorFullSections: Set<string>): Promise<number> {
  const r = await sql<{ id: string; free: number }>`
    SELECT s.id::text, (s.capacity - s.enrolled_count)::int AS free FROM course.sections s
     WHERE s.enrolled_count < s.capacity
       AND (s.id IN (SELECT section_id FROM registration.registrations WHERE state = 'REJECTED' AND reason_code = 'SECTION_FULL')
            OR s.id::text = ANY(${[...doorFullSections]}::text[]))`.execute(db);
  return r.rows.reduce((n, x) => n + x.free, 0);
}
