import { useId, useMemo, useState } from 'react';
import { newRequestId } from '../api/client';
import { useAction, useApi, useLoad } from '../api/context';
import { ErrorNotice } from '../components/ErrorNotice';
import { MeetingTimes } from '../components/SectionBits';
import { Empty, Loading } from '../components/Status';
import { conflictIndex, findConflicts, type TimedItem } from '../lib/conflicts';
import { labelOf, SectionActions } from './SectionActions';
import { useHeldItems, useStudent } from './StudentContext';

/**
 * The cart: sections with their meeting times, credit load, and time conflicts
 * (checked here between cart and schedule, and by the server). "Register all"
 * submits the cart; each section gets its own outcome.
 */
export function CartPage() {
  const api = useApi();
  const { cart, schedule, tracker } = useStudent();
  const heldItems = useHeldItems();
  const id = useId();
  const items = cart.data?.cart?.items ?? [];
  const ids = items.map((i) => i.sectionId);
  const sections = useLoad(() => (ids.length > 0 ? api.course.BatchGetSections({ ids }) : undefined), [api, ids.join(',')]);
  const byId = useMemo(() => new Map((sections.data?.sections ?? []).map((s) => [s.id, s])), [sections.data]);
  const [submitId, setSubmitId] = useState(newRequestId);

  const conflicts = useMemo(() => {
    const cartItems: TimedItem[] = items.flatMap((i) => {
      const s = byId.get(i.sectionId);
      return s ? [{ id: s.id, label: labelOf(s), meetings: s.meetingTimes }] : [];
    });
    const held = heldItems.filter((h) => !ids.includes(h.id));
    // Conflicts among cart items and between cart items and the schedule; not within the schedule.
    const found = findConflicts([...cartItems, ...held]).filter((c) => ids.includes(c.a.id) || ids.includes(c.b.id));
    const index = conflictIndex(found);
    for (const i of items) {
      for (const other of i.conflictingSectionIds) {
        const s = byId.get(other);
        const label = s ? labelOf(s) : (heldItems.find((h) => h.id === other)?.label ?? 'another section');
        if (!index.has(i.sectionId)) index.set(i.sectionId, new Set());
        index.get(i.sectionId)!.add(label);
      }
    }
    return index;
  }, [items, byId, heldItems]);

  const remove = useAction(async (sectionId: string) => cart.setData(await api.registration.RemoveFromCart({ sectionId })));
  const submit = useAction(async () => {
    const res = await api.registration.SubmitCart({ requestId: submitId });
    for (const o of res.outcomes) {
      const s = byId.get(o.sectionId);
      if (s) tracker.setLabel(s.id, labelOf(s), s.meetingTimes);
      if (o.registration) tracker.registration(o.registration);
      else tracker.refusal(o.sectionId, o.errorReason, o.errorMessage);
    }
    setSubmitId(newRequestId());
    cart.reload();
    schedule.reload();
    return res;
  });

  const c = cart.data?.cart;
  const conflicted = items.filter((i) => conflicts.has(i.sectionId));
  const blocked = conflicted.length > 0 || (c?.overCreditLimit ?? false);

  return (
    <section aria-labelledby={`${id}-h`} className="card" data-testid="cart">
      <h2 id={`${id}-h`}>Cart</h2>
      {cart.loading && !cart.data ? <Loading>Loading your cart…</Loading> : null}
      <ErrorNotice error={cart.error} context="Could not load the cart" onRetry={cart.reload} />
      {cart.data && items.length === 0 ? <Empty>Your cart is empty. Add sections from the search to register for several at once.</Empty> : null}
      {items.length > 0 ? (
        <>
          <p data-testid="cart-credits">
            {c?.totalCredits ?? 0} of {c?.maxCredits ?? 0} credits with your enrolled sections.
            {c?.overCreditLimit ? <strong className="warn"> Over your credit limit: remove something before registering.</strong> : null}
          </p>
          <ErrorNotice error={sections.error} context="Could not load section details" onRetry={sections.reload} />
          <ul className="section-list" aria-label="Sections in your cart">
            {items.map((i) => {
              const s = byId.get(i.sectionId);
              const clash = conflicts.get(i.sectionId);
              const label = s ? labelOf(s) : i.courseCode;
              return (
                <li key={i.sectionId} className={`section-row${clash ? ' has-conflict' : ''}`} data-testid="cart-item" data-section-id={i.sectionId}>
                  <div className="row-main">
                    <h3 className="row-title">
                      <span className="code">{s ? `${s.courseCode} · ${s.sectionCode}` : i.courseCode}</span> {s?.courseTitle}
                    </h3>
                    <p className="row-meta">
                      {i.credits} credit{i.credits === 1 ? '' : 's'}
                    </p>
                    {s ? <MeetingTimes meetings={s.meetingTimes} /> : null}
                    {clash ? (
                      <p className="warn" data-testid="cart-conflict">
                        Time conflict with {[...clash].join(', ')}.
                      </p>
                    ) : null}
                  </div>
                  <div className="row-actions">
                    {s ? <SectionActions section={s} compact /> : null}
                    <button type="button" onClick={() => void remove.run(i.sectionId)} disabled={remove.busy} aria-label={`Remove ${label} from cart`}>
                      Remove
                    </button>
                  </div>
                </li>
              );
            })}
          </ul>
          <ErrorNotice error={remove.error} context="Could not remove" />
          <ErrorNotice error={submit.error} context="Could not register the cart" />
          <div className="buttons">
            <button type="button" className="primary" onClick={() => void submit.run()} disabled={submit.busy || blocked} aria-describedby={blocked ? `${id}-blocked` : undefined} data-testid="submit-cart">
              {submit.busy ? 'Registering…' : `Register all (${items.length})`}
            </button>
            {blocked ? (
              <span id={`${id}-blocked`} className="warn">
                {conflicted.length > 0 ? 'Resolve the time conflicts first (remove one of each clashing pair).' : 'Your cart is over your credit limit.'}
              </span>
            ) : null}
          </div>
        </>
      ) : null}
    </section>
  );
}
