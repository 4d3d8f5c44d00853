import { z } from 'zod';
import type { RegistrationServiceServer } from '../../../../gen/coursereg/registration/v1/registration_service';
import { principalOf, studentIdFor } from '../../../shared/src/auth';
import { AppError, failedPrecondition, invalidArgument, notFound } from '../../../shared/src/errors';
import { unary } from '../../../shared/src/server';
import { rules, validate } from '../../../shared/src/validation';
import type { RegistrationDeps } from '../deps';
import { actorOf } from '../registrations/registrations.handlers';
import { liveOfStudents } from '../registrations/registrations.repository';
import { toRegistration } from '../registrations/registrations.service';
import { findSections } from '../sections/sections.repository';
import { submissionOrder, viewCart } from './cart.service';
import { CartStore } from './cart.store';

type Handlers = Pick<RegistrationServiceServer, 'addToCart' | 'removeFromCart' | 'getCart' | 'submitCart'>;

const itemRequest = z.object({ sectionId: rules.uuid(), studentId: z.string().max(64) });

export function cartHandlers(deps: RegistrationDeps): Handlers {
  const { db, log, door, eligibility, config } = deps;
  const store = new CartStore(deps.redis, config.CART_TTL_SECONDS);

  async function cartOf(studentId: string) {
    const { sectionIds, expireTime } = await store.items(studentId);
    const live = await liveOfStudents(db, [studentId]);
    const sections = await findSections(db, [...sectionIds, ...live.map((r) => r.section_id)]);
    const items = sectionIds.map((id) => sections.get(id)).filter((s) => s !== undefined);
    const terms = new Set(items.map((s) => s.termCode));
    const enrolled = live.filter((r) => r.state === 'ENROLLED' && terms.has(r.term_code)).map((r) => sections.get(r.section_id)!).filter(Boolean);
    return { cart: viewCart(items, enrolled, await eligibility.maxCreditsOf(studentId), expireTime), items };
  }

  return {
    addToCart: unary(log, 'AddToCart', async (call) => {
      const req = validate(itemRequest, call.request);
      const studentId = studentIdFor(principalOf(call), req.studentId);
      const section = (await findSections(db, [req.sectionId])).get(req.sectionId);
      if (!section) throw notFound('SECTION_NOT_FOUND', `No section ${req.sectionId} exists.`);
      if (section.status === 'CANCELLED') throw failedPrecondition('SECTION_CANCELLED', `Section ${section.sectionCode} of ${section.courseCode} has been cancelled.`);
      if (!(await store.add(studentId, req.sectionId, config.CART_MAX_ITEMS))) {
        throw failedPrecondition('CART_FULL', `A cart holds at most ${config.CART_MAX_ITEMS} sections.`);
      }
      return { cart: (await cartOf(studentId)).cart };
    }),

    removeFromCart: unary(log, 'RemoveFromCart', async (call) => {
      const req = validate(itemRequest, call.request);
      const studentId = studentIdFor(principalOf(call), req.studentId);
      await store.remove(studentId, [req.sectionId]);
      return { cart: (await cartOf(studentId)).cart };
    }),

    getCart: unary(log, 'GetCart', async (call) => {
      const req = validate(z.object({ studentId: z.string().max(64) }), call.request);
      const studentId = studentIdFor(principalOf(call), req.studentId);
      return { cart: (await cartOf(studentId)).cart };
    }),

    submitCart: unary(log, 'SubmitCart', async (call) => {
      const req = validate(z.object({ studentId: z.string().max(64), requestId: rules.requestId(40) }), call.request);
      const principal = principalOf(call);
      const studentId = studentIdFor(principal, req.studentId);
      const { cart, items } = await cartOf(studentId);
      if (items.length === 0) throw failedPrecondition('CART_EMPTY', 'Your cart is empty.');
      const conflicts = cart.items.filter((i) => i.conflictingSectionIds.length > 0);
      if (conflicts.length > 0) {
        throw invalidArgument(conflicts.map((i) => ({ field: `cart.items[${cart.items.indexOf(i)}]`, description: `section ${i.sectionId} (${i.courseCode}) overlaps ${i.conflictingSectionIds.join(', ')}` })));
      }
      if (cart.overCreditLimit) throw failedPrecondition('CREDIT_LIMIT_EXCEEDED', `The cart brings you to ${cart.totalCredits} credits; your limit is ${cart.maxCredits}.`);
      // Each section gets its own request id derived from the cart's, so a resubmitted cart is idempotent.
      const outcomes = [];
      for (const s of submissionOrder(items)) {
        try {
          const row = await door.register({ studentId, sectionId: s.id, requestId: `${req.requestId}:${s.id.slice(0, 8)}`, actor: actorOf(principal) });
          outcomes.push({ sectionId: s.id, registration: toRegistration(row), errorReason: '', errorMessage: '' });
        } catch (err) {
          if (!(err instanceof AppError)) throw err;
          outcomes.push({ sectionId: s.id, registration: undefined, errorReason: err.reason, errorMessage: err.message });
        }
      }
      await store.remove(studentId, outcomes.filter((o) => o.registration).map((o) => o.sectionId));
      const order = new Map(items.map((s, i) => [s.id, i]));
      return { outcomes: outcomes.sort((a, b) => order.get(a.sectionId)! - order.get(b.sectionId)!) };
    }),
  };
}
