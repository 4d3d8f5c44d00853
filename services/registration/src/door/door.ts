import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { AppError, failedPrecondition, notFound, unavailable } from '../../../shared/src/errors';
import { createBatcher } from '../../../shared/src/batcher';
import type { Logger } from '../../../shared/src/logger';
import type { Redis } from '../../../shared/src/redis';
import { unusedPermits } from '../audit/overrides.repository';
import type { RegistrationDatabase } from '../db';
import type { Decider } from '../decisions/decider';
import type { Publisher } from '../messaging/publisher';
import { findByRequests, findRegistration, insertPending, liveOfSection, type PendingInput, type RegistrationRow } from '../registrations/registrations.repository';
import { findSections, type SectionInfo } from '../sections/sections.repository';
import type { SeatStore } from '../seats/seats.store';
import type { Eligibility } from '../students/eligibility.client';
import { publishRequest } from '../worker/relay';
import { status } from '@grpc/grpc-js';

const SECTION_INFO_TTL_MS = 10_000;

/**
 * The front door of registration: answers a Register call in a few
 * milliseconds. Seats and waitlist places are held atomically in Redis, the
 * request is written PENDING and published (with a confirm) to its section's
 * queue, and a worker decides it. Anything that fails on the way gives the hold
 * back, so no half-done request remains.
 */
export function createDoor(deps: {
  db: Kysely<RegistrationDatabase>;
  redis: Redis;
  seats: SeatStore;
  eligibility: Eligibility;
  publisher: Publisher;
  decider: Decider;
  log: Logger;
  shards: number;
  holdMs: number;
}) {
  const { db, redis, seats, eligibility, publisher, decider, log } = deps;
  const infoCache = new Map<string, { info: SectionInfo; until: number }>();

  const insert = createBatcher<PendingInput, RegistrationRow | undefined>({ maxSize: 500, windowMs: 2, run: (rows) => insertPending(db, rows) });

  async function sectionInfo(sectionId: string): Promise<SectionInfo> {
    const hit = infoCache.get(sectionId);
    if (hit && hit.until > Date.now()) return hit.info;
    const info = (await findSections(db, [sectionId])).get(sectionId);
    if (!info) throw notFound('SECTION_NOT_FOUND', `No section ${sectionId} exists.`, { section_id: sectionId });
    infoCache.set(sectionId, { info, until: Date.now() + SECTION_INFO_TTL_MS });
    return info;
  }

  /** Rebuilds one section's seat cache from PostgreSQL (one loader at a time per section). */
  async function loadSeats(sectionId: string): Promise<void> {
    const lockKey = `seatload:{${sectionId}}`;
    if ((await redis.set(lockKey, '1', 'PX', 5000, 'NX')) !== 'OK') {
      await new Promise((r) => setTimeout(r, 20));
      return;
    }
    try {
      const info = (await findSections(db, [sectionId])).get(sectionId);
      if (!info) return;
      const [live, permits] = await Promise.all([liveOfSection(db, sectionId), unusedPermits(db, [sectionId])]);
      const expiresAt = Date.now() + deps.holdMs;
      const pending = live.filter((r) => r.state === 'PENDING' && !r.capacity_override);
      await seats.load(sectionId, {
        capacity: info.capacity,
        waitlistCapacity: info.waitlistCapacity,
        enrolled: info.enrolledCount,
        waitlisted: info.waitlistedCount,
        open: info.status === 'OPEN',
        pendingSeatHolds: pending.filter((r) => r.seat_held).map((r) => ({ registrationId: r.id, expiresAt })),
        pendingWaitlistHolds: pending.filter((r) => !r.seat_held).map((r) => ({ registrationId: r.id, expiresAt })),
        liveStudents: [...new Set(live.map((r) => r.student_id))],
        waitlist: live.filter((r) => r.state === 'WAITLISTED').map((r) => ({ studentId: r.student_id, seq: Number(r.waitlist_seq) })),
        permits: [...(permits.get(sectionId) ?? [])],
      });
      log.debug({ sectionId }, 'seat cache loaded from PostgreSQL');
    } finally {
      await redis.del(lockKey);
    }
  }

  async function earlier(studentId: string, requestId: string): Promise<RegistrationRow | undefined> {
    return (await findByRequests(db, [{ studentId, requestId }]))[0];
  }

  return {
    loadSeats,
    sectionInfo,

    /** Accepts a registration request (PENDING) or refuses it with a reason. */
    async register(p: { studentId: string; sectionId: string; requestId: string; actor: string }): Promise<RegistrationRow> {
      const info = await sectionInfo(p.sectionId);
      const id = randomUUID();
      let outcome = await seats.hold(p.sectionId, p.studentId, p.requestId, id);
      for (let i = 0; outcome.kind === 'MISSING' && i < 50; i++) {
        await loadSeats(p.sectionId);
        outcome = await seats.hold(p.sectionId, p.studentId, p.requestId, id);
      }
      switch (outcome.kind) {
        case 'REPEAT': {
          const before = await findRegistration(db, outcome.registrationId);
          if (before) return before;
          // The earlier attempt is still on its way in (or was refused): look once more by request.
          const byRequest = await earlier(p.studentId, p.requestId);
          if (byRequest) return byRequest;
          throw unavailable('REQUEST_IN_PROGRESS', 'An identical request is still being accepted; try again in a moment.');
        }
        case 'MISSING':
          throw unavailable('SEAT_CACHE_UNAVAILABLE', 'Seat information is being rebuilt; try again in a moment.');
        case 'LIVE': {
          const before = await earlier(p.studentId, p.requestId);
          if (before) return before;
          throw failedPrecondition('ALREADY_REGISTERED', `You already hold or await a place in section ${info.sectionCode} of ${info.courseCode}.`, { section_id: p.sectionId });
        }
        case 'CLOSED':
          throw failedPrecondition(info.status === 'CANCELLED' ? 'SECTION_CANCELLED' : 'SECTION_CLOSED', `Section ${info.sectionCode} of ${info.courseCode} is not open for registration.`, { section_id: p.sectionId });
        case 'FULL': {
          throw failedPrecondition('SECTION_FULL', `Section ${info.sectionCode} of ${info.courseCode} has no seats or waitlist places left.`, { section_id: p.sectionId });
        }
      }
      const release = () => seats.release(p.sectionId, p.studentId, p.requestId, id).catch((err: Error) => log.warn({ err: err.message }, 'could not release a hold; it will expire'));
      let row: RegistrationRow | undefined;
      try {
        const check = await eligibility.check({ studentId: p.studentId, sectionId: p.sectionId });
        if (!check.eligible) {
          const first = check.ineligibilities[0];
          throw new AppError(status.FAILED_PRECONDITION, first?.reasonCode || 'NOT_ELIGIBLE', check.ineligibilities.map((x) => x.message).join(' '), {
            section_id: p.sectionId,
            reasons: check.ineligibilities.map((x) => x.reasonCode).join(','),
            missing_courses: check.ineligibilities.flatMap((x) => x.missingCourseCodes).join(','),
          });
        }
        row = await insert({
          id,
          studentId: p.studentId,
          sectionId: p.sectionId,
          termCode: info.termCode,
          courseCode: info.courseCode,
          credits: info.credits,
          requestId: p.requestId,
          requestedBy: p.actor,
          seatHeld: outcome.kind === 'SEAT',
          capacityOverride: outcome.kind === 'OVERRIDE',
        });
      } catch (err) {
        await release();
        throw err;
      }
      if (!row) {
        await release();
        throw failedPrecondition('ALREADY_REGISTERED', `You already hold or await a place in section ${info.sectionCode} of ${info.courseCode}.`, { section_id: p.sectionId });
      }
      if (row.id !== id) {
        await release(); // a repeat of an earlier request: answer with the original
        return row;
      }
      try {
        await publishRequest(publisher, deps.shards, row);
      } catch (err) {
        log.error({ err: (err as Error).message, registrationId: id }, 'publish failed; request ends FAILED');
        await decider.fail([id], 'PUBLISH_FAILED', 'The request could not be queued; please try again.').catch(() => undefined);
        await release();
        throw unavailable('QUEUE_UNAVAILABLE', 'Registration requests cannot be queued right now; nothing was changed. Please try again shortly.');
      }
      return row;
    },
  };
}

export type Door = ReturnType<typeof createDoor>;
