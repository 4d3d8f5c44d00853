import { useMemo, useState, useSyncExternalStore } from 'react';
import { SectionStatus, type MeetingTime } from '../../../gen/web/coursereg/course/v1/course';
import { RegistrationState } from '../../../gen/web/coursereg/registration/v1/registration';
import { newRequestId } from '../api/client';
import { useApi } from '../api/context';
import { ApiError, Code, toApiError } from '../api/errors';
import { ErrorNotice } from '../components/ErrorNotice';
import { OutcomeStatus } from '../components/OutcomeStatus';
import { useCountdown } from '../components/useCountdown';
import { conflictsWith, describeConflict, type Conflict } from '../lib/conflicts';
import { scheduleEntryFor, useHeldItems, useLiveSchedule, useStudent } from './StudentContext';

/** What the actions need to know about a section. */
export interface SectionRef {
  id: string;
  courseCode: string;
  sectionCode: string;
  meetingTimes: readonly MeetingTime[];
  status: SectionStatus;
}

export const labelOf = (s: Pick<SectionRef, 'courseCode' | 'sectionCode'>) => `${s.courseCode} section ${s.sectionCode}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Register with one retry (same request id, so never twice) when the door is briefly unavailable. */
export function useRegister() {
  const api = useApi();
  const { tracker } = useStudent();
  return async (section: SectionRef): Promise<ApiError | undefined> => {
    const label = labelOf(section);
    tracker.setLabel(section.id, label, section.meetingTimes);
    const requestId = newRequestId();
    for (let attempt = 0; ; attempt++) {
      try {
        const { registration } = await api.registration.Register({ sectionId: section.id, requestId });
        if (registration) tracker.registration(registration);
        return undefined;
      } catch (e) {
        const err = toApiError(e);
        if (err.code === Code.UNAVAILABLE && attempt === 0) {
          await sleep(1000);
          continue;
        }
        tracker.refusal(section.id, err.reason, err.message, err);
        return err;
      }
    }
  };
}

/** The newest outcome for a section, if the student asked for it in this session. */
export function useSectionOutcome(sectionId: string) {
  const { tracker } = useStudent();
  const outcomes = useSyncExternalStore(tracker.subscribe, tracker.snapshot, tracker.snapshot);
  return useMemo(() => outcomes.find((o) => o.sectionId === sectionId), [outcomes, sectionId]);
}

/**
 * Register and Add to cart for one section. Before registering it compares meeting
 * times with the schedule and, on a clash, asks the student to confirm. Shows the
 * section's latest outcome next to the buttons.
 */
export function SectionActions({ section, compact = false }: { section: SectionRef; compact?: boolean }) {
  const api = useApi();
  const { schedule, cart, tracker } = useStudent();
  const register = useRegister();
  const outcome = useSectionOutcome(section.id);
  const [busy, setBusy] = useState<'register' | 'cart' | null>(null);
  const [pendingConflicts, setPendingConflicts] = useState<Conflict[] | null>(null);
  const [cartError, setCartError] = useState<ApiError | undefined>();
  const [cooldownUntil, setCooldownUntil] = useState<number | undefined>();
  const cooldown = useCountdown(cooldownUntil);
  const live = useLiveSchedule();
  const held = useHeldItems();
  const label = labelOf(section);
  const entry = scheduleEntryFor(live, section.id);
  const inCart = cart.data?.cart?.items.some((i) => i.sectionId === section.id) ?? false;
  const unavailable = section.status !== SectionStatus.SECTION_STATUS_OPEN;
  const waiting = cooldown !== undefined && cooldown > 0;

  async function doRegister() {
    setPendingConflicts(null);
    setBusy('register');
    const err = await register(section);
    setBusy(null);
    if (err?.retryAfterSeconds) setCooldownUntil(Date.now() + err.retryAfterSeconds * 1000);
    if (!err) {
      schedule.reload();
      if (inCart) cart.reload();
    }
  }

  function onRegister() {
    const conflicts = conflictsWith({ id: section.id, label, meetings: section.meetingTimes }, held);
    if (conflicts.length > 0) setPendingConflicts(conflicts);
    else void doRegister();
  }

  async function onAddToCart() {
    setBusy('cart');
    setCartError(undefined);
    tracker.setLabel(section.id, label, section.meetingTimes);
    try {
      const res = await api.registration.AddToCart({ sectionId: section.id });
      cart.setData(res);
    } catch (e) {
      const err = toApiError(e);
      setCartError(err);
      if (err.retryAfterSeconds) setCooldownUntil(Date.now() + err.retryAfterSeconds * 1000);
    } finally {
      setBusy(null);
    }
  }

  // A request still being decided counts as held: registering again would only be refused.
  const holding = entry?.registration ?? (outcome?.state === 'pending' ? { state: RegistrationState.REGISTRATION_STATE_PENDING } : undefined);
  return (
    <div className={`section-actions${compact ? ' compact' : ''}`}>
      <div className="buttons">
        {holding ? (
          <span className="badge" data-testid="held-state">
            {holding.state === RegistrationState.REGISTRATION_STATE_ENROLLED ? 'On your schedule' : holding.state === RegistrationState.REGISTRATION_STATE_WAITLISTED ? 'On the waitlist' : 'Pending'}
          </span>
        ) : (
          <button type="button" className="primary" onClick={onRegister} disabled={busy !== null || unavailable || waiting || pendingConflicts !== null} aria-label={`Register for ${label}`} data-testid="register-button">
            {busy === 'register' ? 'Registering…' : 'Register'}
          </button>
        )}
        {!holding ? (
          <button type="button" onClick={onAddToCart} disabled={busy !== null || inCart || section.status === SectionStatus.SECTION_STATUS_CANCELLED || waiting} aria-label={inCart ? `${label} is in your cart` : `Add ${label} to cart`} data-testid="add-to-cart-button">
            {busy === 'cart' ? 'Adding…' : inCart ? 'In cart' : 'Add to cart'}
          </button>
        ) : null}
        {waiting ? <span className="muted">Try again in {cooldown} s</span> : null}
      </div>
      {pendingConflicts ? (
        <div className="notice notice-warn" role="alert" data-testid="conflict-warning">
          <p>
            <strong>Time conflict.</strong> {pendingConflicts.map(describeConflict).join(' ')} A registration that clashes with an enrolled section will be refused.
          </p>
          <button type="button" onClick={() => void doRegister()}>
            Register anyway
          </button>{' '}
          <button type="button" onClick={() => setPendingConflicts(null)}>
            Cancel
          </button>
        </div>
      ) : null}
      {cartError ? <ErrorNotice error={cartError} context="Could not add to cart" /> : null}
      {outcome ? (
        <p className="inline-outcome" data-testid="section-outcome">
          <OutcomeStatus outcome={outcome} />
        </p>
      ) : null}
    </div>
  );
}
