import { useEffect, useId, useMemo, useRef, useState } from 'react';
import { SectionStatus, type Section } from '../../../gen/web/coursereg/course/v1/course';
import { RegistrationState, type ScheduleEntry } from '../../../gen/web/coursereg/registration/v1/registration';
import { newRequestId } from '../api/client';
import { useAction, useApi, useLoad } from '../api/context';
import { ErrorNotice } from '../components/ErrorNotice';
import { MeetingTimes, Seats, countsOf, kindLabel } from '../components/SectionBits';
import { Empty, Loading } from '../components/Status';
import { WeeklyCalendar } from '../components/WeeklyCalendar';
import type { CalendarItem } from '../lib/calendar';
import { conflictsWith, describeConflict } from '../lib/conflicts';
import { labelOf } from './SectionActions';
import { useHeldItems, useLiveSchedule, useStudent } from './StudentContext';

const LIVE = [RegistrationState.REGISTRATION_STATE_ENROLLED, RegistrationState.REGISTRATION_STATE_WAITLISTED, RegistrationState.REGISTRATION_STATE_PENDING];

function stateText(e: ScheduleEntry, position: number | undefined): string {
  switch (e.registration?.state) {
    case RegistrationState.REGISTRATION_STATE_ENROLLED:
      return 'Enrolled';
    case RegistrationState.REGISTRATION_STATE_WAITLISTED:
      return position ? `Waitlisted — position ${position}` : 'Waitlisted';
    case RegistrationState.REGISTRATION_STATE_PENDING:
      return 'Pending';
    default:
      return '—';
  }
}

const tone = (e: ScheduleEntry) =>
  e.registration?.state === RegistrationState.REGISTRATION_STATE_ENROLLED ? 'enrolled' : e.registration?.state === RegistrationState.REGISTRATION_STATE_WAITLISTED ? 'waitlisted' : 'pending';

/**
 * Live waitlist positions: the schedule's position to start with, updated by
 * WatchStudent events and re-read (GetWaitlistPosition) whenever a waitlisted
 * section's counts change.
 */
function useWaitlistPositions(entries: ScheduleEntry[]): Map<string, { position: number; of?: number }> {
  const api = useApi();
  const { seatFeed, tracker } = useStudent();
  const [positions, setPositions] = useState(new Map<string, { position: number; of?: number }>());
  const waitlisted = entries.filter((e) => e.registration?.state === RegistrationState.REGISTRATION_STATE_WAITLISTED).map((e) => e.registration!);
  const key = waitlisted.map((r) => r.sectionId).join(',');

  useEffect(() => {
    setPositions(new Map(waitlisted.map((r) => [r.sectionId, { position: r.waitlistPosition }])));
    const stops: (() => void)[] = [];
    const timers = new Map<string, ReturnType<typeof setTimeout>>();
    const refresh = (sectionId: string) => {
      clearTimeout(timers.get(sectionId));
      timers.set(
        sectionId,
        setTimeout(() => {
          api.registration.GetWaitlistPosition({ sectionId }).then(
            (r) => setPositions((m) => new Map(m).set(sectionId, { position: r.position, of: r.waitlistedCount })),
            () => undefined,
          );
        }, 250),
      );
    };
    for (const r of waitlisted) {
      let last: string | undefined;
      stops.push(
        seatFeed.subscribe(
          r.sectionId,
          (c) => {
            const sig = `${c.enrolledCount}/${c.waitlistedCount}/${c.capacity}`;
            if (last !== undefined && last !== sig) refresh(r.sectionId);
            last = sig;
          },
          5,
        ),
      );
    }
    stops.push(
      tracker.onChange((o) => {
        if (o.state === 'waitlisted' && o.waitlistPosition) setPositions((m) => new Map(m).set(o.sectionId, { ...m.get(o.sectionId), position: o.waitlistPosition! }));
      }),
    );
    return () => {
      stops.forEach((s) => s());
      timers.forEach((t) => clearTimeout(t));
    };
    // Re-subscribe only when the set of waitlisted sections changes (key), not on every schedule reload.
  }, [api, seatFeed, tracker, key]);
  return positions;
}

/** Swap: choose another section of the same course; drop and add happen together or not at all. */
function SwapPanel({ entry, onDone, onCancel }: { entry: ScheduleEntry; onDone: (message: string) => void; onCancel: () => void }) {
  const api = useApi();
  const { termCode, schedule, tracker } = useStudent();
  const id = useId();
  const reg = entry.registration!;
  const others = useHeldItems(reg.sectionId);
  const fromLabel = `${reg.courseCode} section ${entry.sectionCode}`;
  const options = useLoad(() => api.course.ListSections({ termCode, courseCode: reg.courseCode, pageSize: 100 }), [api, termCode, reg.courseCode]);
  const candidates = (options.data?.sections ?? []).filter((s) => s.id !== reg.sectionId && s.status === SectionStatus.SECTION_STATUS_OPEN);
  const [choice, setChoice] = useState('');
  // One idempotency key per target: a retry repeats the same swap, a new target is a new request.
  const requestIds = useRef(new Map<string, string>());
  const chosen = candidates.find((s) => s.id === choice);
  const clash = chosen ? conflictsWith({ id: chosen.id, label: labelOf(chosen), meetings: chosen.meetingTimes }, others) : [];
  const swap = useAction(async (target: Section) => {
    tracker.setLabel(target.id, labelOf(target), target.meetingTimes);
    if (!requestIds.current.has(target.id)) requestIds.current.set(target.id, newRequestId());
    const res = await api.registration.Swap({ dropSectionId: reg.sectionId, addSectionId: target.id, requestId: requestIds.current.get(target.id)! });
    if (res.dropped) tracker.registration(res.dropped);
    if (res.added) tracker.registration(res.added);
    schedule.reload();
    onDone(`Swapped ${fromLabel} for ${labelOf(target)}.`);
  });
  const firstField = useRef<HTMLSelectElement>(null);
  useEffect(() => firstField.current?.focus(), [options.data]);

  return (
    <div className="swap-panel" role="group" aria-labelledby={`${id}-h`} data-testid="swap-panel">
      <h4 id={`${id}-h`}>Swap {fromLabel}</h4>
      {options.loading && !options.data ? <Loading>Loading other sections…</Loading> : null}
      <ErrorNotice error={options.error} onRetry={options.reload} />
      {options.data && candidates.length === 0 ? <Empty>No other open section of {reg.courseCode} this term.</Empty> : null}
      {candidates.length > 0 ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (chosen) void swap.run(chosen);
          }}
        >
          <div className="field">
            <label htmlFor={`${id}-to`}>Swap to section</label>
            <select id={`${id}-to`} ref={firstField} value={choice} onChange={(e) => setChoice(e.target.value)} data-testid="swap-target">
              <option value="">Choose a section…</option>
              {candidates.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.sectionCode} · {kindLabel(s.kind)} · {s.instructor || 'Staff'} · {s.capacity - s.enrolledCount} open
                </option>
              ))}
            </select>
          </div>
          {chosen ? (
            <div className="swap-choice">
              <MeetingTimes meetings={chosen.meetingTimes} />
              <Seats counts={countsOf(chosen)} />
              {clash.length > 0 ? (
                <p className="warn" role="alert">
                  Time conflict: {clash.map(describeConflict).join(' ')} The swap will be refused and nothing will change.
                </p>
              ) : null}
            </div>
          ) : null}
          <p className="hint">You keep {fromLabel} unless the new section accepts you: the swap happens all at once or not at all.</p>
          <ErrorNotice error={swap.error} context="Swap refused, nothing changed" />
          <div className="buttons">
            <button type="submit" className="primary" disabled={!chosen || swap.busy} data-testid="confirm-swap">
              {swap.busy ? 'Swapping…' : 'Confirm swap'}
            </button>
            <button type="button" onClick={onCancel}>
              Cancel swap
            </button>
          </div>
        </form>
      ) : (
        <button type="button" onClick={onCancel}>
          Cancel swap
        </button>
      )}
    </div>
  );
}

function ScheduleRow({ entry, position, onMessage }: { entry: ScheduleEntry; position?: { position: number; of?: number }; onMessage: (m: string) => void }) {
  const api = useApi();
  const { schedule, tracker } = useStudent();
  const reg = entry.registration!;
  const label = `${reg.courseCode} section ${entry.sectionCode}`;
  const [mode, setMode] = useState<'idle' | 'confirm-drop' | 'swap'>('idle');
  const [requestId] = useState(newRequestId);
  const drop = useAction(async () => {
    tracker.setLabel(reg.sectionId, label);
    const res = await api.registration.Drop({ sectionId: reg.sectionId, requestId });
    if (res.registration) tracker.registration(res.registration);
    setMode('idle');
    schedule.reload();
    onMessage(`${reg.state === RegistrationState.REGISTRATION_STATE_WAITLISTED ? 'Left the waitlist of' : 'Dropped'} ${label}.`);
  });
  const waitlisted = reg.state === RegistrationState.REGISTRATION_STATE_WAITLISTED;
  const enrolled = reg.state === RegistrationState.REGISTRATION_STATE_ENROLLED;
  return (
    <li className="section-row" data-testid="schedule-row" data-section-id={reg.sectionId} data-course-code={reg.courseCode} data-state={tone(entry)}>
      <div className="row-main">
        <h3 className="row-title">
          <span className="code">
            {reg.courseCode} · {entry.sectionCode}
          </span>{' '}
          {entry.courseTitle}
        </h3>
        <p className="row-meta">
          <span className={`badge tone-${tone(entry)}`} data-testid="schedule-state" aria-live="polite">
            {stateText(entry, position?.position)}
            {waitlisted && position?.of ? ` of ${position.of}` : ''}
          </span>{' '}
          · {reg.credits} credit{reg.credits === 1 ? '' : 's'} · {entry.instructor || 'Staff'}
        </p>
        <MeetingTimes meetings={entry.meetingTimes} />
      </div>
      <div className="row-actions">
        {mode === 'idle' && (enrolled || waitlisted) ? (
          <>
            <button type="button" onClick={() => setMode('confirm-drop')} aria-label={`${waitlisted ? 'Leave the waitlist of' : 'Drop'} ${label}`} data-testid="drop-button">
              {waitlisted ? 'Leave waitlist' : 'Drop'}
            </button>
            {enrolled ? (
              <button type="button" onClick={() => setMode('swap')} aria-label={`Swap ${label} for another section`} data-testid="swap-button">
                Swap
              </button>
            ) : null}
          </>
        ) : null}
        {mode === 'confirm-drop' ? (
          <div className="confirm" role="group" aria-label={`Confirm dropping ${label}`}>
            <p>
              {waitlisted ? 'Leave the waitlist of' : 'Drop'} {label}? {enrolled ? 'Your seat goes to the next student on the waitlist.' : ''}
            </p>
            <button type="button" className="danger" onClick={() => void drop.run()} disabled={drop.busy} data-testid="confirm-drop">
              {drop.busy ? 'Dropping…' : waitlisted ? 'Yes, leave waitlist' : 'Yes, drop'}
            </button>{' '}
            <button type="button" onClick={() => setMode('idle')} disabled={drop.busy}>
              Keep it
            </button>
          </div>
        ) : null}
        <ErrorNotice error={drop.error} context="Drop failed" />
      </div>
      {mode === 'swap' ? <SwapPanel entry={entry} onCancel={() => setMode('idle')} onDone={(m) => { setMode('idle'); onMessage(m); }} /> : null}
    </li>
  );
}

/** My schedule: a weekly calendar and a list with credits, drop, swap and live waitlist positions. */
export function SchedulePage() {
  const { schedule, term } = useStudent();
  const live = useLiveSchedule();
  const id = useId();
  const [message, setMessage] = useState('');
  const entries = useMemo(() => (live?.entries ?? []).filter((e) => e.registration && LIVE.includes(e.registration.state)), [live]);
  const positions = useWaitlistPositions(entries);
  const calendarItems: CalendarItem[] = useMemo(
    () =>
      entries.map((e) => ({
        id: e.registration!.sectionId,
        label: `${e.registration!.courseCode} · ${e.sectionCode}`,
        status: stateText(e, positions.get(e.registration!.sectionId)?.position),
        tone: tone(e),
        meetings: e.meetingTimes,
      })),
    [entries, positions],
  );
  const credits = schedule.data;

  return (
    <section aria-labelledby={`${id}-h`} className="card" data-testid="schedule">
      <h2 id={`${id}-h`}>My schedule{term ? ` — ${term.name}` : ''}</h2>
      <p role="status" className="muted" data-testid="schedule-message">
        {message}
      </p>
      {schedule.loading && !schedule.data ? <Loading>Loading your schedule…</Loading> : null}
      <ErrorNotice error={schedule.error} context="Could not load your schedule" onRetry={schedule.reload} />
      {credits ? (
        <p data-testid="schedule-credits">
          Enrolled credits: <strong>{credits.enrolledCredits}</strong> of {credits.maxCredits}
        </p>
      ) : null}
      {schedule.data && entries.length === 0 ? <Empty>You have no sections this term yet. Search the catalog to register.</Empty> : null}
      {entries.length > 0 ? (
        <>
          <WeeklyCalendar items={calendarItems} />
          <h3>Sections</h3>
          <ul className="section-list" aria-label="Sections on your schedule">
            {entries.map((e) => (
              <ScheduleRow key={e.registration!.id} entry={e} position={positions.get(e.registration!.sectionId)} onMessage={setMessage} />
            ))}
          </ul>
        </>
      ) : null}
    </section>
  );
}
