import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { RegistrationChanged, SectionSeatsChanged } from '../../../../gen/coursereg/events/v1/events';
import type { EligibilityResult } from '../../../../gen/coursereg/student/v1/student_service';
import { failedPrecondition, notFound } from '../../../shared/src/errors';
import { retryingTransaction } from '../../../shared/src/db';
import type { Logger } from '../../../shared/src/logger';
import { appendAudit, type AuditInput } from '../audit/audit.repository';
import { unusedPermits, usePermit } from '../audit/overrides.repository';
import type { RegistrationDatabase, RegistrationStateName } from '../db';
import { appendOutbox, type OutboxMessage } from '../messaging/outbox.repository';
import { registrationEventKey, seatsEventKey } from '../messaging/topology';
import {
  findLive,
  findRegistrations,
  insertDecided,
  liveOfStudents,
  lockStudents,
  nextWaitlistSeqs,
  writeTransitions,
  type RegistrationRow,
  type Transition,
} from '../registrations/registrations.repository';
import { stateToProto, toRegistration } from '../registrations/registrations.service';
import { findSections, lockSeatRows, writeSeatCounts, type SeatRow, type SectionInfo } from '../sections/sections.repository';
import type { SeatChange, SeatStore } from '../seats/seats.store';
import type { Eligibility } from '../students/eligibility.client';
import { checkRules, placeBySeats, type Holding, type StudentPlan } from './decisions.service';

type Trx = Kysely<RegistrationDatabase>;

/** How many waitlisted students a drop considers for promotion before giving up. */
const PROMOTION_LOOKAHEAD = 25;

export interface Prepared {
  pending: RegistrationRow[];
  results: EligibilityResult[];
  info: Map<string, SectionInfo>;
}

export interface Decided {
  registrations: RegistrationRow[];
  seatChanges: SeatChange[];
}

/** A registration state change inside one decision transaction. */
interface Change {
  row: RegistrationRow;
  before: string;
  after: RegistrationStateName;
  kind: string;
  reasonCode: string;
  reasonMessage: string;
  waitlistSeq: number | null;
  actor: string;
  requestId: string;
}

/**
 * Decides registrations authoritatively: every path that changes seats locks
 * the seat rows (SELECT ... FOR UPDATE, in id order), then the students, then
 * re-checks the rules, writes states, counts, audit events and outbox rows, and
 * commits. Redis is told afterwards and only as a cache.
 */
export function createDecider(deps: { db: Kysely<RegistrationDatabase>; eligibility: Eligibility; seats: SeatStore; log: Logger; onCommitted?: () => void }) {
  const { db, eligibility, seats, log } = deps;

  /** Per-transaction bookkeeping shared by the decision paths. */
  class Work {
    changes: Change[] = [];
    counts = new Map<string, { enrolled: number; waitlisted: number }>();
    seatChange = new Map<string, SeatChange>();
    plans = new Map<string, StudentPlan>();
    constructor(readonly seatRows: Map<string, SeatRow>, readonly sections: Map<string, SectionInfo>) {
      for (const [id, s] of seatRows) this.counts.set(id, { enrolled: s.enrolled_count, waitlisted: s.waitlisted_count });
    }
    change(sectionId: string): SeatChange {
      let c = this.seatChange.get(sectionId);
      if (!c) {
        c = { sectionId, enrolled: 0, waitlisted: 0, releaseHolds: [], leave: [], join: [], waitlistAdd: [], waitlistRemove: [], permitsUsed: [] };
        this.seatChange.set(sectionId, c);
      }
      return c;
    }
    record(ch: Change) {
      this.changes.push(ch);
      const plan = this.plans.get(ch.row.student_id);
      if (plan) {
        plan.holdings = plan.holdings.filter((h) => h.registrationId !== ch.row.id);
        if (ch.after === 'PENDING' || ch.after === 'ENROLLED' || ch.after === 'WAITLISTED') {
          plan.holdings.push({ registrationId: ch.row.id, sectionId: ch.row.section_id, courseCode: ch.row.course_code, credits: ch.row.credits, state: ch.after });
        }
      }
    }
  }

  async function loadPlans(trx: Trx, work: Work, students: string[], termCodes: string[], results: Map<string, EligibilityResult>) {
    const live = await liveOfStudents(trx, students);
    const inTerm = live.filter((r) => termCodes.includes(r.term_code));
    const missing = inTerm.map((r) => r.section_id).filter((id) => !work.sections.has(id));
    if (missing.length > 0) for (const [id, s] of await findSections(trx, missing)) work.sections.set(id, s);
    for (const s of students) {
      const holdings: Holding[] = inTerm
        .filter((r) => r.student_id === s)
        .map((r) => ({ registrationId: r.id, sectionId: r.section_id, courseCode: r.course_code, credits: r.credits, state: r.state }));
      const max = [...results.values()].find((e) => e.query?.studentId === s)?.maxCredits ?? 0;
      work.plans.set(s, { maxCredits: max, holdings });
    }
  }

  async function finish(trx: Trx, work: Work): Promise<RegistrationRow[]> {
    const transitions: Transition[] = work.changes.map((c) => ({ id: c.row.id, state: c.after, reasonCode: c.reasonCode, reasonMessage: c.reasonMessage, waitlistSeq: c.waitlistSeq }));
    // The last transition of a row wins (a promotion after a skip, say).
    const last = new Map(transitions.map((t) => [t.id, t]));
    await writeTransitions(trx, [...last.values()]);
    const changed = [...work.counts].filter(([id, c]) => {
      const row = work.seatRows.get(id)!;
      return row.enrolled_count !== c.enrolled || row.waitlisted_count !== c.waitlisted;
    });
    await writeSeatCounts(trx, changed.map(([id, c]) => ({ id, ...c })));
    for (const [id, c] of work.counts) {
      const sc = work.change(id);
      sc.enrolled = c.enrolled;
      sc.waitlisted = c.waitlisted;
    }
    const events: AuditInput[] = work.changes.map((c) => ({
      kind: c.kind,
      actor: c.actor,
      studentId: c.row.student_id,
      sectionId: c.row.section_id,
      registrationId: c.row.id,
      requestId: c.requestId,
      beforeState: c.before,
      afterState: c.after,
      reasonCode: c.reasonCode,
    }));
    const appended = await appendAudit(trx, events);
    const ids = [...new Set(work.changes.map((c) => c.row.id))];
    const fresh = new Map((await findRegistrations(trx, ids)).map((r) => [r.id, r]));
    const outbox: OutboxMessage[] = work.changes.map((c, i) => {
      const row = fresh.get(c.row.id)!;
      return {
        routingKey: registrationEventKey(c.after, row.student_id),
        messageType: 'coursereg.events.v1.RegistrationChanged',
        payload: Buffer.from(
          RegistrationChanged.encode({ registration: toRegistration({ ...row, state: c.after, reason_code: c.reasonCode, reason_message: c.reasonMessage }), previousState: stateToProto(c.before), sequence: appended[i].sequence }).finish(),
        ),
      };
    });
    for (const [id, c] of work.counts) {
      const row = work.seatRows.get(id)!;
      const seq = Math.max(0, ...appended.filter((e) => e.section_id === id).map((e) => e.sequence));
      outbox.push({
        routingKey: seatsEventKey(id),
        messageType: 'coursereg.events.v1.SectionSeatsChanged',
        payload: Buffer.from(
          SectionSeatsChanged.encode({
            seats: { sectionId: id, capacity: row.capacity, enrolledCount: c.enrolled, waitlistCapacity: row.waitlist_capacity, waitlistedCount: c.waitlisted, observeTime: new Date() },
            sequence: seq,
          }).finish(),
        ),
      });
    }
    await appendOutbox(trx, outbox);
    return ids.map((id) => fresh.get(id)!);
  }

  async function afterCommit(changes: SeatChange[]) {
    deps.onCommitted?.();
    await Promise.all(changes.map((c) => seats.apply(c).catch((err: Error) => log.warn({ err: err.message, sectionId: c.sectionId }, 'seat cache update failed; it will reload'))));
  }

  /** Promotes the first eligible waitlisted students into free seats of a locked section. */
  async function promote(trx: Trx, work: Work, sectionId: string, actor: string, requestId: string) {
    const seat = work.seatRows.get(sectionId)!;
    const counts = work.counts.get(sectionId)!;
    if (counts.enrolled >= seat.capacity || counts.waitlisted === 0) return;
    const waiting = (await trx
      .selectFrom('registration.registrations')
      .selectAll()
      .where('section_id', '=', sectionId)
      .where('state', '=', 'WAITLISTED')
      .orderBy('waitlist_seq')
      .limit(PROMOTION_LOOKAHEAD)
      .execute()) as RegistrationRow[];
    if (waiting.length === 0) return;
    const students = [...new Set(waiting.map((w) => w.student_id))];
    await lockStudents(trx, students);
    const results = await eligibility.checkMany(waiting.map((w) => ({ studentId: w.student_id, sectionId })));
    const byStudent = new Map(results.map((r) => [r.query!.studentId, r]));
    await loadPlans(trx, work, students.filter((s) => !work.plans.has(s)), [seat.term_code], byStudent);
    const section = work.sections.get(sectionId)!;
    for (const w of waiting) {
      if (counts.enrolled >= seat.capacity) break;
      const verdict = checkRules(section, work.plans.get(w.student_id)!, byStudent.get(w.student_id), work.sections);
      const sc = work.change(sectionId);
      if (!verdict.ok) {
        work.record({ row: w, before: 'WAITLISTED', after: 'WAITLISTED', kind: 'WAITLIST_SKIPPED', reasonCode: verdict.reasonCode, reasonMessage: verdict.reasonMessage, waitlistSeq: w.waitlist_seq, actor, requestId });
        continue;
      }
      counts.enrolled++;
      counts.waitlisted--;
      sc.waitlistRemove.push(w.student_id);
      work.record({ row: w, before: 'WAITLISTED', after: 'ENROLLED', kind: 'PROMOTED', reasonCode: '', reasonMessage: '', waitlistSeq: null, actor, requestId });
    }
  }

  return {
    /**
     * Decides PENDING requests (a worker's batch): one transaction for all their
     * sections. Rows already decided are skipped, so a redelivered batch is harmless.
     */
    async decide(registrationIds: readonly string[]): Promise<Decided> {
      return this.commit(await this.prepare(registrationIds));
    },

    /**
     * The part of a decision that needs no lock: which requests are still
     * PENDING, their eligibility and their sections. A worker prepares the next
     * batch while the previous one commits.
     */
    async prepare(registrationIds: readonly string[]): Promise<Prepared> {
      const pending = (await findRegistrations(db, registrationIds)).filter((r) => r.state === 'PENDING');
      if (pending.length === 0) return { pending, results: [], info: new Map() };
      // Eligibility is asked before the locks are taken: the student service never sits inside a seat lock.
      const results = await eligibility.checkMany(pending.map((r) => ({ studentId: r.student_id, sectionId: r.section_id })));
      const info = await findSections(db, [...new Set(pending.map((r) => r.section_id))]);
      return { pending, results, info };
    },

    /** Decides prepared requests in one transaction over all their sections. */
    async commit({ pending, results, info }: Prepared): Promise<Decided> {
      if (pending.length === 0) return { registrations: [], seatChanges: [] };
      const byPair = new Map(results.map((r, i) => [pending[i].id, r]));
      const sectionIds = [...new Set(pending.map((r) => r.section_id))];
      let seatChanges: SeatChange[] = [];
      const decided = await retryingTransaction(db, async (trx) => {
        const seatRows = await lockSeatRows(trx, sectionIds);
        const students = [...new Set(pending.map((r) => r.student_id))];
        await lockStudents(trx, students);
        // Re-read under the locks: another decider may have finished some of these.
        const still = (await findRegistrations(trx, pending.map((r) => r.id))).filter((r) => r.state === 'PENDING');
        const work = new Work(seatRows, new Map(info));
        const maxBy = new Map(results.map((r) => [r.query!.studentId, r]));
        await loadPlans(trx, work, students, [...new Set(still.map((r) => r.term_code))], maxBy);
        const permits = await unusedPermits(trx, sectionIds);
        still.sort((a, b) => a.created_at.getTime() - b.created_at.getTime() || a.id.localeCompare(b.id));
        const waitlistRows: Change[] = [];
        for (const r of still) {
          const section = work.sections.get(r.section_id);
          const seat = seatRows.get(r.section_id);
          const sc = work.change(r.section_id);
          sc.releaseHolds.push(r.id);
          const reject = (reasonCode: string, reasonMessage: string) => {
            sc.leave.push(r.student_id);
            work.record({ row: r, before: 'PENDING', after: 'REJECTED', kind: 'DECIDED', reasonCode, reasonMessage, waitlistSeq: null, actor: r.requested_by, requestId: r.request_id });
          };
          if (!section || !seat) {
            reject('SECTION_NOT_FOUND', `No section ${r.section_id} exists.`);
            continue;
          }
          const verdict = checkRules(section, work.plans.get(r.student_id)!, byPair.get(r.id), work.sections);
          if (!verdict.ok) {
            reject(verdict.reasonCode, verdict.reasonMessage);
            continue;
          }
          const counts = work.counts.get(r.section_id)!;
          const permit = r.capacity_override || (permits.get(r.section_id)?.has(r.student_id) ?? false);
          const place = placeBySeats({ capacity: seat.capacity, waitlistCapacity: seat.waitlist_capacity, ...counts }, permit);
          if (place === 'FULL') {
            reject('SECTION_FULL', `Section ${section.sectionCode} of ${section.courseCode} has no seats or waitlist places left.`);
          } else if (place === 'WAITLIST') {
            counts.waitlisted++;
            const ch: Change = { row: r, before: 'PENDING', after: 'WAITLISTED', kind: 'DECIDED', reasonCode: '', reasonMessage: '', waitlistSeq: 0, actor: r.requested_by, requestId: r.request_id };
            waitlistRows.push(ch);
            work.record(ch);
          } else {
            counts.enrolled++;
            if (place === 'ENROLL_OVERRIDE') {
              await usePermit(trx, r.student_id, r.section_id, r.id);
              permits.get(r.section_id)?.delete(r.student_id);
              sc.permitsUsed.push(r.student_id);
            }
            const reason = place === 'ENROLL_OVERRIDE' ? 'CAPACITY_OVERRIDE' : '';
            work.record({ row: r, before: 'PENDING', after: 'ENROLLED', kind: 'DECIDED', reasonCode: reason, reasonMessage: '', waitlistSeq: null, actor: r.requested_by, requestId: r.request_id });
          }
        }
        const seqs = await nextWaitlistSeqs(trx, waitlistRows.length);
        waitlistRows.forEach((ch, i) => {
          ch.waitlistSeq = Number(seqs[i]);
          work.change(ch.row.section_id).waitlistAdd.push({ studentId: ch.row.student_id, seq: ch.waitlistSeq });
        });
        const rows = await finish(trx, work);
        seatChanges = [...work.seatChange.values()];
        return rows;
      });
      await afterCommit(seatChanges);
      return { registrations: decided, seatChanges };
    },

    /** Ends requests that cannot be decided (dead-lettered) as FAILED and frees their holds. */
    async fail(registrationIds: readonly string[], reasonCode: string, reasonMessage: string): Promise<RegistrationRow[]> {
      let seatChanges: SeatChange[] = [];
      const pending = (await findRegistrations(db, registrationIds)).filter((r) => r.state === 'PENDING');
      if (pending.length === 0) return [];
      const rows = await retryingTransaction(db, async (trx) => {
        const seatRows = await lockSeatRows(trx, pending.map((r) => r.section_id));
        const still = (await findRegistrations(trx, pending.map((r) => r.id))).filter((r) => r.state === 'PENDING');
        const work = new Work(seatRows, new Map());
        for (const r of still) {
          const sc = work.change(r.section_id);
          sc.releaseHolds.push(r.id);
          sc.leave.push(r.student_id);
          work.record({ row: r, before: 'PENDING', after: 'FAILED', kind: 'FAILED', reasonCode, reasonMessage, waitlistSeq: null, actor: 'registration-worker', requestId: r.request_id });
        }
        const out = await finish(trx, work);
        seatChanges = [...work.seatChange.values()];
        return out;
      });
      await afterCommit(seatChanges);
      return rows;
    },

    /** Drops a student's enrollment or waitlist place and promotes from the waitlist in the same transaction. */
    async drop(p: { studentId: string; sectionId: string; requestId: string; actor: string }): Promise<{ dropped: RegistrationRow; promoted?: RegistrationRow }> {
      let seatChanges: SeatChange[] = [];
      const info = await findSections(db, [p.sectionId]);
      if (!info.has(p.sectionId)) throw notFound('SECTION_NOT_FOUND', `No section ${p.sectionId} exists.`);
      const result = await retryingTransaction(db, async (trx) => {
        const seatRows = await lockSeatRows(trx, [p.sectionId]);
        await lockStudents(trx, [p.studentId]);
        const live = await findLive(trx, p.studentId, p.sectionId);
        if (!live) throw failedPrecondition('NOT_REGISTERED', `You are not enrolled or waitlisted in section ${info.get(p.sectionId)!.sectionCode} of ${info.get(p.sectionId)!.courseCode}.`);
        if (live.state === 'PENDING') throw failedPrecondition('REGISTRATION_PENDING', 'Your registration for this section is still being decided; try again in a moment.');
        const work = new Work(seatRows, new Map(info));
        const counts = work.counts.get(p.sectionId)!;
        const sc = work.change(p.sectionId);
        if (live.state === 'ENROLLED') counts.enrolled--;
        else {
          counts.waitlisted--;
          sc.waitlistRemove.push(p.studentId);
        }
        sc.leave.push(p.studentId);
        work.record({ row: live, before: live.state, after: 'DROPPED', kind: 'DROPPED', reasonCode: '', reasonMessage: '', waitlistSeq: null, actor: p.actor, requestId: p.requestId });
        await promote(trx, work, p.sectionId, p.actor, p.requestId);
        const rows = await finish(trx, work);
        seatChanges = [...work.seatChange.values()];
        const promotedId = work.changes.find((c) => c.kind === 'PROMOTED')?.row.id;
        return { dropped: rows.find((r) => r.id === live.id)!, promoted: promotedId ? rows.find((r) => r.id === promotedId) : undefined };
      });
      await afterCommit(seatChanges);
      return result;
    },

    /**
     * Drops one section and enrolls in another atomically. Any failed check on
     * the new section throws before anything is written, so nothing changes.
     */
    async swap(p: { studentId: string; dropSectionId: string; addSectionId: string; requestId: string; actor: string }): Promise<{ dropped: RegistrationRow; added: RegistrationRow }> {
      let seatChanges: SeatChange[] = [];
      const info = await findSections(db, [p.dropSectionId, p.addSectionId]);
      for (const id of [p.dropSectionId, p.addSectionId]) if (!info.has(id)) throw notFound('SECTION_NOT_FOUND', `No section ${id} exists.`);
      const [result] = await eligibility.checkMany([{ studentId: p.studentId, sectionId: p.addSectionId }]);
      const out = await retryingTransaction(db, async (trx) => {
        const seatRows = await lockSeatRows(trx, [p.dropSectionId, p.addSectionId]);
        await lockStudents(trx, [p.studentId]);
        const current = await findLive(trx, p.studentId, p.dropSectionId);
        if (!current || current.state !== 'ENROLLED') throw failedPrecondition('NOT_ENROLLED', 'You can only swap out of a section you are enrolled in.');
        if (await findLive(trx, p.studentId, p.addSectionId)) throw failedPrecondition('ALREADY_REGISTERED', 'You already hold or await a place in the section to add.');
        const work = new Work(seatRows, new Map(info));
        await loadPlans(trx, work, [p.studentId], [seatRows.get(p.addSectionId)!.term_code], new Map([[p.studentId, result]]));
        const add = work.sections.get(p.addSectionId)!;
        // The rules see the student without the section being dropped.
        const plan = work.plans.get(p.studentId)!;
        const without: StudentPlan = { ...plan, holdings: plan.holdings.filter((h) => h.sectionId !== p.dropSectionId) };
        const verdict = checkRules(add, without, result, work.sections, p.dropSectionId);
        if (!verdict.ok) throw failedPrecondition(verdict.reasonCode, verdict.reasonMessage);
        const addCounts = work.counts.get(p.addSectionId)!;
        const addSeat = seatRows.get(p.addSectionId)!;
        if (addCounts.enrolled >= addSeat.capacity) throw failedPrecondition('SECTION_FULL', `Section ${add.sectionCode} of ${add.courseCode} has no free seat; nothing was changed.`);
        work.counts.get(p.dropSectionId)!.enrolled--;
        addCounts.enrolled++;
        const dropChange = work.change(p.dropSectionId);
        dropChange.leave.push(p.studentId);
        work.record({ row: current, before: 'ENROLLED', after: 'DROPPED', kind: 'SWAPPED_OUT', reasonCode: '', reasonMessage: '', waitlistSeq: null, actor: p.actor, requestId: p.requestId });
        const added = await insertDecided(trx, {
          id: randomUUID(),
          studentId: p.studentId,
          sectionId: p.addSectionId,
          termCode: add.termCode,
          courseCode: add.courseCode,
          credits: add.credits,
          requestId: p.requestId,
          requestedBy: p.actor,
          seatHeld: false,
          capacityOverride: false,
          state: 'ENROLLED',
        });
        work.change(p.addSectionId).join.push(p.studentId);
        work.record({ row: added, before: '', after: 'ENROLLED', kind: 'SWAPPED_IN', reasonCode: '', reasonMessage: '', waitlistSeq: null, actor: p.actor, requestId: p.requestId });
        await promote(trx, work, p.dropSectionId, p.actor, p.requestId);
        const rows = await finish(trx, work);
        seatChanges = [...work.seatChange.values()];
        return { dropped: rows.find((r) => r.id === current.id)!, added: rows.find((r) => r.id === added.id)! };
      });
      await afterCommit(seatChanges);
      return out;
    },
  };
}

export type Decider = ReturnType<typeof createDecider>;
