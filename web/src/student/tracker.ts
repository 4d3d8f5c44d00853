import type { MeetingTime } from '../../../gen/web/coursereg/course/v1/course';
import { RegistrationState, type Registration } from '../../../gen/web/coursereg/registration/v1/registration';
import type { Api } from '../api/client';
import type { ApiError } from '../api/errors';
import { outcomeFromRefusal, outcomeFromRegistration, type Outcome } from '../components/outcome';
import type { TimedItem } from '../lib/conflicts';

interface Tracked {
  outcome: Outcome;
  /** Shown in the results list (false for states only known from the schedule). */
  visible: boolean;
  seq: number;
}

export interface TrackerOptions {
  /** First poll of a PENDING registration after this long, doubling up to pollMaxMs. */
  pollBaseMs?: number;
  pollMaxMs?: number;
  /** Stop polling a registration still PENDING after this long. */
  giveUpMs?: number;
}

type ChangeListener = (now: Outcome, before: Outcome | undefined) => void;

/**
 * Follows what became of the student's requests. Outcomes arrive from Register and
 * SubmitCart answers, from the WatchStudent stream, and from polling GetRegistration
 * for anything still PENDING (so a decision made while the stream was reconnecting is
 * never missed).
 */
export class OutcomeTracker {
  private readonly byKey = new Map<string, Tracked>();
  private readonly labels = new Map<string, string>();
  private readonly meetings = new Map<string, readonly MeetingTime[]>();
  private readonly polling = new Map<string, { attempt: number; since: number; timer?: ReturnType<typeof setTimeout> }>();
  private readonly listeners = new Set<() => void>();
  private readonly changeListeners = new Set<ChangeListener>();
  private snap: Outcome[] = [];
  private seq = 0;
  private readonly opts: Required<TrackerOptions>;

  constructor(
    private readonly api: Pick<Api, 'registration'>,
    opts: TrackerOptions = {},
  ) {
    this.opts = { pollBaseMs: opts.pollBaseMs ?? 1500, pollMaxMs: opts.pollMaxMs ?? 10_000, giveUpMs: opts.giveUpMs ?? 120_000 };
  }

  /** Remembers how to name a section ("CS 101 section 001") and, if given, when it meets. */
  setLabel(sectionId: string, label: string, meetings?: readonly MeetingTime[]): void {
    this.labels.set(sectionId, label);
    if (meetings) this.meetings.set(sectionId, meetings);
  }

  /**
   * Sections the student holds or awaits by what this tracker has heard (pending ones
   * included, which GetSchedule leaves out), with their meetings when known: for
   * conflict checks before the schedule has caught up.
   */
  heldItems(): TimedItem[] {
    const out = new Map<string, TimedItem>();
    for (const { outcome: o } of this.byKey.values()) {
      if (!o.registrationId || !(o.state === 'pending' || o.state === 'enrolled' || o.state === 'waitlisted')) continue;
      const meetings = this.meetings.get(o.sectionId);
      if (meetings) out.set(o.sectionId, { id: o.sectionId, label: o.label, meetings });
    }
    return [...out.values()];
  }

  labelOf(sectionId: string, fallback?: string): string {
    return this.labels.get(sectionId) ?? fallback ?? 'Section';
  }

  /** A registration seen in an answer or an event; shown unless `quiet` (known from the schedule). */
  registration(r: Registration, quiet = false): void {
    const before = this.byKey.get(r.id);
    if (before && r.updateTime && before.outcome.updatedAt > r.updateTime.getTime()) return;
    const outcome = outcomeFromRegistration(r, this.labelOf(r.sectionId, r.courseCode), before?.outcome);
    const unchanged = before && before.outcome.state === outcome.state && before.outcome.waitlistPosition === outcome.waitlistPosition;
    this.byKey.set(r.id, { outcome, visible: (before?.visible ?? false) || !quiet, seq: unchanged ? before.seq : ++this.seq });
    if (r.state === RegistrationState.REGISTRATION_STATE_PENDING) this.ensurePolling(r.id);
    else this.stopPoll(r.id);
    // Quietly learning a state (from the schedule) is not a change anyone needs to hear about.
    if (!unchanged && (before || !quiet)) {
      for (const fn of [...this.changeListeners]) fn(outcome, before?.outcome);
    }
    this.update();
  }

  /** A request refused before it was queued. */
  refusal(sectionId: string, reason: string | undefined, message: string | undefined, err?: ApiError): Outcome {
    const outcome = outcomeFromRefusal(sectionId, this.labelOf(sectionId), reason, message, err);
    this.byKey.set(`refused:${sectionId}:${++this.seq}`, { outcome, visible: true, seq: this.seq });
    for (const fn of [...this.changeListeners]) fn(outcome, undefined);
    this.update();
    return outcome;
  }

  /** Newest shown outcome for a section. */
  latestFor(sectionId: string): Outcome | undefined {
    return this.snap.find((o) => o.sectionId === sectionId);
  }

  /** Shown outcomes, newest first. */
  snapshot = (): Outcome[] => this.snap;

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  /** Called for every change of state (to refresh the schedule, announce promotions). */
  onChange(fn: ChangeListener): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  /** Hides the shown outcomes. */
  clear(): void {
    for (const t of this.byKey.values()) t.visible = false;
    this.update();
  }

  /** Asks again about everything still pending (after a lost stream came back). */
  refreshPending(): void {
    for (const [key, t] of this.byKey) {
      if (t.outcome.state !== 'pending' || !t.outcome.registrationId) continue;
      this.ensurePolling(key);
      this.schedule(key, 0);
    }
  }

  /** Stops polling (the page is going away); a later registration starts it again. */
  dispose(): void {
    for (const p of this.polling.values()) if (p.timer !== undefined) clearTimeout(p.timer);
    this.polling.clear();
  }

  private ensurePolling(id: string) {
    if (this.polling.has(id)) return;
    this.polling.set(id, { attempt: 0, since: Date.now() });
    this.schedule(id);
  }

  private schedule(id: string, delay?: number) {
    const p = this.polling.get(id);
    if (!p) return;
    if (p.timer !== undefined) clearTimeout(p.timer);
    const wait = delay ?? Math.min(this.opts.pollMaxMs, this.opts.pollBaseMs * 2 ** p.attempt);
    p.timer = setTimeout(() => void this.pollOnce(id), wait);
  }

  private async pollOnce(id: string) {
    const p = this.polling.get(id);
    if (!p) return;
    p.timer = undefined;
    p.attempt++;
    try {
      const { registration } = await this.api.registration.GetRegistration({ id });
      if (registration) this.registration(registration, !this.byKey.get(id)?.visible);
    } catch {
      // Asked again below; lasting trouble shows on the connection banner via the streams.
    }
    if (this.polling.get(id) !== p) return; // decided meanwhile
    if (Date.now() - p.since >= this.opts.giveUpMs) {
      this.polling.delete(id);
      return;
    }
    this.schedule(id);
  }

  private stopPoll(id: string) {
    const p = this.polling.get(id);
    if (p?.timer !== undefined) clearTimeout(p.timer);
    this.polling.delete(id);
  }

  private update() {
    this.snap = [...this.byKey.values()]
      .filter((t) => t.visible)
      .sort((a, b) => b.seq - a.seq)
      .map((t) => t.outcome);
    for (const fn of [...this.listeners]) fn();
  }
}
