import type * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import type { RegistrationChanged, SectionSeatsChanged } from '../../../../gen/coursereg/events/v1/events';
import type { Registration } from '../../../../gen/coursereg/registration/v1/registration';
import type { RegistrationServiceServer } from '../../../../gen/coursereg/registration/v1/registration_service';
import { principalOf, studentIdFor } from '../../../shared/src/auth';
import { notFound } from '../../../shared/src/errors';
import { serverStream } from '../../../shared/src/server';
import { rules, validate } from '../../../shared/src/validation';
import type { RegistrationDeps } from '../deps';
import { findRegistration } from '../registrations/registrations.repository';
import { toRegistration } from '../registrations/registrations.service';
import { findSections } from '../sections/sections.repository';

type Handlers = Pick<RegistrationServiceServer, 'watchRegistration' | 'watchStudent' | 'watchSection'>;

/** Resolves when the client goes away or the server shuts the stream. */
const untilClosed = (call: grpc.ServerWritableStream<unknown, unknown>) =>
  new Promise<void>((resolve) => {
    call.on('cancelled', resolve);
    call.on('close', resolve);
    call.on('error', () => resolve());
  });

export function streamHandlers({ db, log, hub, seats }: RegistrationDeps): Handlers {
  /** Keeps only changes newer than what the stream already sent. */
  const newer = () => {
    const seen = new Map<string, number>();
    return (r: Registration, seq: number) => {
      if ((seen.get(r.id) ?? -1) >= seq) return false;
      seen.set(r.id, seq);
      return true;
    };
  };

  return {
    watchRegistration: serverStream(log, 'WatchRegistration', async (call) => {
      const { id } = validate(z.object({ id: rules.uuid() }), call.request);
      const principal = principalOf(call);
      const fresh = newer();
      const buffered: RegistrationChanged[] = [];
      let live = false;
      const off = hub.subscribe<RegistrationChanged>(`registration:${id}`, (ev) => {
        if (!live) buffered.push(ev);
        else if (ev.registration && fresh(ev.registration, ev.sequence)) call.write({ registration: ev.registration });
      });
      try {
        const row = await findRegistration(db, id);
        if (!row || (principal.role === 'student' && principal.studentId !== row.student_id)) throw notFound('REGISTRATION_NOT_FOUND', `No registration ${id} exists.`);
        const pos = row.state === 'WAITLISTED' ? ((await seats.waitlistPosition(row.section_id, row.student_id).catch(() => undefined))?.position ?? 0) : 0;
        call.write({ registration: toRegistration(row, pos) });
        fresh(toRegistration(row), 0);
        live = true;
        // Changes that raced the first read: sent if they are not already reflected.
        for (const ev of buffered) if (ev.registration && ev.registration.updateTime! > row.updated_at && fresh(ev.registration, ev.sequence)) call.write({ registration: ev.registration });
        await untilClosed(call);
      } finally {
        off();
      }
    }),

    watchStudent: serverStream(log, 'WatchStudent', async (call) => {
      const req = validate(z.object({ studentId: z.string().max(64) }), call.request);
      const studentId = studentIdFor(principalOf(call), req.studentId);
      const fresh = newer();
      const off = hub.subscribe<RegistrationChanged>(`student:${studentId}`, (ev) => {
        if (ev.registration && fresh(ev.registration, ev.sequence)) call.write({ registration: ev.registration });
      });
      try {
        await untilClosed(call);
      } finally {
        off();
      }
    }),

    watchSection: serverStream(log, 'WatchSection', async (call) => {
      const { sectionId } = validate(z.object({ sectionId: rules.uuid() }), call.request);
      principalOf(call);
      let last = -1;
      const off = hub.subscribe<SectionSeatsChanged>(`section:${sectionId}`, (ev) => {
        if (ev.seats && ev.sequence > last) {
          last = ev.sequence;
          call.write({ seats: ev.seats });
        }
      });
      try {
        const section = (await findSections(db, [sectionId])).get(sectionId);
        if (!section) throw notFound('SECTION_NOT_FOUND', `No section ${sectionId} exists.`);
        if (last < 0) {
          call.write({
            seats: {
              sectionId,
              capacity: section.capacity,
              enrolledCount: section.enrolledCount,
              waitlistCapacity: section.waitlistCapacity,
              waitlistedCount: section.waitlistedCount,
              observeTime: new Date(),
            },
          });
        }
        await untilClosed(call);
      } finally {
        off();
      }
    }),
  };
}
