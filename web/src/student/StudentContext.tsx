import { createContext, useContext, useMemo, useSyncExternalStore } from 'react';
import type { Section, Term } from '../../../gen/web/coursereg/course/v1/course';
import { RegistrationState } from '../../../gen/web/coursereg/registration/v1/registration';
import type { GetCartResponse, GetScheduleResponse } from '../../../gen/web/coursereg/registration/v1/registration_service';
import type { Loaded } from '../api/context';
import type { SeatFeed } from '../api/seatFeed';
import type { Outcome } from '../components/outcome';
import type { TimedItem } from '../lib/conflicts';
import type { SeatAlerts } from './seatAlerts';
import type { OutcomeTracker } from './tracker';

export interface StudentContextValue {
  studentId: string;
  term: Term | undefined;
  termCode: string;
  tracker: OutcomeTracker;
  seatFeed: SeatFeed;
  alerts: SeatAlerts;
  schedule: Loaded<GetScheduleResponse>;
  cart: Loaded<GetCartResponse>;
  /** Shows a section's details (switching to the search view). */
  openSection: (section: Section) => void;
}

export const StudentContext = createContext<StudentContextValue | null>(null);

export function useStudent(): StudentContextValue {
  const v = useContext(StudentContext);
  if (!v) throw new Error('useStudent must be used inside the student app');
  return v;
}

export function useOutcomes() {
  const { tracker } = useStudent();
  return useSyncExternalStore(tracker.subscribe, tracker.snapshot, tracker.snapshot);
}

export function useSeatAlerts() {
  const { alerts } = useStudent();
  return useSyncExternalStore(alerts.subscribe, alerts.snapshot, alerts.snapshot);
}

const LIVE = new Set([RegistrationState.REGISTRATION_STATE_ENROLLED, RegistrationState.REGISTRATION_STATE_WAITLISTED, RegistrationState.REGISTRATION_STATE_PENDING]);

/** The schedule's live entries (enrolled, waitlisted, pending) as timed items for conflict checks. */
export function scheduleItems(schedule: GetScheduleResponse | undefined, except?: string): TimedItem[] {
  return (schedule?.entries ?? [])
    .filter((e) => e.registration && LIVE.has(e.registration.state) && e.registration.sectionId !== except)
    .map((e) => ({ id: e.registration!.sectionId, label: `${e.registration!.courseCode} section ${e.sectionCode}`, meetings: e.meetingTimes }));
}

/** The live schedule entry for a section, if the student holds or awaits a place in it. */
export function scheduleEntryFor(schedule: GetScheduleResponse | undefined, sectionId: string) {
  return schedule?.entries.find((e) => e.registration?.sectionId === sectionId && LIVE.has(e.registration.state));
}

const STATE_OF: Partial<Record<Outcome['state'], RegistrationState>> = {
  pending: RegistrationState.REGISTRATION_STATE_PENDING,
  enrolled: RegistrationState.REGISTRATION_STATE_ENROLLED,
  waitlisted: RegistrationState.REGISTRATION_STATE_WAITLISTED,
  rejected: RegistrationState.REGISTRATION_STATE_REJECTED,
  dropped: RegistrationState.REGISTRATION_STATE_DROPPED,
  failed: RegistrationState.REGISTRATION_STATE_FAILED,
};

/**
 * The schedule with any newer state the tracker has heard of (a stream event that
 * arrived before the schedule was reloaded), so the page never shows "Pending" next
 * to a result that already says "Enrolled".
 */
export function mergeOutcomes(data: GetScheduleResponse | undefined, outcomes: readonly Outcome[]): GetScheduleResponse | undefined {
  if (!data) return data;
  const newest = new Map<string, Outcome>();
  for (const o of outcomes) if (o.registrationId && !newest.has(o.registrationId)) newest.set(o.registrationId, o);
  let changed = false;
  const entries = data.entries.map((e) => {
    const r = e.registration;
    const o = r ? newest.get(r.id) : undefined;
    const state = o ? STATE_OF[o.state] : undefined;
    if (!r || !o || state === undefined || o.updatedAt <= (r.updateTime?.getTime() ?? 0) || state === r.state) return e;
    changed = true;
    return { ...e, registration: { ...r, state, waitlistPosition: o.waitlistPosition ?? r.waitlistPosition } };
  });
  return changed ? { ...data, entries } : data;
}

/** The schedule as the student should see it now: loaded data plus newer streamed states. */
export function useLiveSchedule(): GetScheduleResponse | undefined {
  const { schedule } = useStudent();
  const outcomes = useOutcomes();
  return useMemo(() => mergeOutcomes(schedule.data, outcomes), [schedule.data, outcomes]);
}

/**
 * Everything the student holds or awaits, for conflict checks: the schedule plus what
 * the tracker knows and the schedule does not show yet (pending requests, decisions
 * streamed before the schedule was reloaded).
 */
export function useHeldItems(except?: string): TimedItem[] {
  const { tracker } = useStudent();
  const live = useLiveSchedule();
  // The tracker's held items change whenever its outcomes do.
  const outcomes = useOutcomes();
  return useMemo(() => {
    const items = new Map(scheduleItems(live, except).map((i) => [i.id, i]));
    for (const i of tracker.heldItems()) if (i.id !== except && !items.has(i.id)) items.set(i.id, i);
    return [...items.values()];
  }, [live, tracker, outcomes, except]);
}
