import type { Kysely } from 'kysely';
import { RegistrationRequested, RequestKind } from '../../../../gen/coursereg/events/v1/events';
import { Lease } from '../../../shared/src/lease';
import type { Logger } from '../../../shared/src/logger';
import type { Redis } from '../../../shared/src/redis';
import type { RegistrationDatabase } from '../db';
import { deleteOutbox, oldestOutbox } from '../messaging/outbox.repository';
import { EVENTS_EXCHANGE, REQUESTS_EXCHANGE, shardOf } from '../messaging/topology';
import type { Publisher } from '../messaging/publisher';
import { stalePending, touch, type RegistrationRow } from '../registrations/registrations.repository';

/** The message a PENDING registration is decided from. */
export function requestMessage(row: RegistrationRow): Buffer {
  return Buffer.from(
    RegistrationRequested.encode({
      registrationId: row.id,
      studentId: row.student_id,
      sectionId: row.section_id,
      termCode: row.term_code,
      requestId: row.request_id,
      actor: row.requested_by,
      kind: RequestKind.REQUEST_KIND_REGISTER,
      seatHeld: row.seat_held,
      capacityOverride: row.capacity_override,
      requestTime: row.created_at,
    }).finish(),
  );
}

/** Publishes a PENDING request to its section's shard. */
export function publishRequest(publisher: Publisher, shards: number, row: RegistrationRow): Promise<void> {
  return publisher.publish(REQUESTS_EXCHANGE, String(shardOf(row.section_id, shards)), requestMessage(row), {}, 'coursereg.events.v1.RegistrationRequested');
}

/**
 * Background jobs that must run on one replica at a time, each under a Redis
 * lease: the outbox relay (events to the topic exchange, deleted once confirmed)
 * and the reconciler (republishes requests left PENDING, e.g. after a crash
 * between the door's insert and its publish).
 */
export function createBackgroundJobs(deps: { db: Kysely<RegistrationDatabase>; redis: Redis; publisher: Publisher; log: Logger; shards: number; republishAfterMs: number }) {
  const { db, redis, publisher, log } = deps;
  const relayLease = new Lease(redis, 'outbox-relay', 5000);
  const reconcileLease = new Lease(redis, 'reconciler', 15000);
  let stopped = false;
  const wakers = new Map<string, () => void>();
  const loops: Promise<void>[] = [];

  const sleep = (name: string, ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      wakers.set(name, () => {
        clearTimeout(t);
        resolve();
      });
    });

  async function relayOnce(): Promise<number> {
    const rows = await oldestOutbox(db, 500);
    if (rows.length === 0) return 0;
    await Promise.all(rows.map((r) => publisher.publish(EVENTS_EXCHANGE, r.routing_key, r.payload, {}, r.message_type)));
    await deleteOutbox(db, rows.map((r) => String(r.id)));
    return rows.length;
  }

  async function reconcileOnce(): Promise<number> {
    const stale = await stalePending(db, new Date(Date.now() - deps.republishAfterMs), 500);
    for (const row of stale) await publishRequest(publisher, deps.shards, row);
    await touch(db, stale.map((r) => r.id));
    if (stale.length > 0) log.warn({ count: stale.length }, 'republished requests left PENDING');
    return stale.length;
  }

  async function loop(name: string, lease: Lease, run: () => Promise<number>, busyMs: number, idleMs: number) {
    while (!stopped) {
      let next = idleMs;
      try {
        if (await lease.tryHold()) next = (await run()) > 0 ? 0 : busyMs;
      } catch (err) {
        log.warn({ job: name, err: (err as Error).message }, 'background job failed; retrying');
        next = 1000;
      }
      if (next > 0) await sleep(name, next);
    }
    await lease.release().catch(() => undefined);
  }

  return {
    start() {
      loops.push(loop('outbox-relay', relayLease, relayOnce, 50, 1000));
      loops.push(loop('reconciler', reconcileLease, reconcileOnce, 5000, 5000));
    },
    /** Runs the relay soon (after a commit wrote outbox rows). */
    nudge() {
      wakers.get('outbox-relay')?.();
    },
    relayOnce,
    reconcileOnce,
    async stop() {
      stopped = true;
      for (const w of wakers.values()) w();
      await Promise.all(loops);
    },
  };
}
