import { useEffect, useId, useMemo, useRef, useState, useSyncExternalStore, type FormEvent } from 'react';
import { SectionStatus, type Section } from '../../../gen/web/coursereg/course/v1/course';
import { newRequestId } from '../api/client';
import { useAction, useApi, useLoad, useMonitor } from '../api/context';
import { Code } from '../api/errors';
import type { SeatCounts } from '../api/seatFeed';
import { watchStream } from '../api/streams';
import { ErrorNotice } from '../components/ErrorNotice';
import { OutcomeStatus } from '../components/OutcomeStatus';
import { countsOf, kindLabel, MeetingTimes, Seats, statusLabel } from '../components/SectionBits';
import { Empty, Loading } from '../components/Status';
import { toDateTimeLocal } from '../lib/time';
import { OutcomeTracker } from '../student/tracker';
import { AuditHistory } from './AuditHistory';
import { SectionForm } from './SectionForm';

function useWatchedSeats(section: Section | undefined): SeatCounts | undefined {
  const api = useApi();
  const monitor = useMonitor();
  const [counts, setCounts] = useState<SeatCounts | undefined>();
  useEffect(() => {
    setCounts(section ? countsOf(section) : undefined);
    if (!section) return;
    return watchStream(() => api.registration.WatchSection({ sectionId: section.id }), {
      monitor,
      label: 'seat counts',
      next: (m) => m.seats && setCounts({ ...m.seats, sectionId: section.id, live: true }),
    });
  }, [api, monitor, section]);
  return counts;
}

/** Roster and waitlist (GetSectionSnapshot), now or as they stood at a past moment, with drop on behalf. */
function Roster({ section, version, onChanged }: { section: Section; version: number; onChanged: () => void }) {
  const api = useApi();
  const id = useId();
  const [at, setAt] = useState('');
  const [asOf, setAsOf] = useState<Date | undefined>();
  const snapshot = useLoad(() => api.registration.GetSectionSnapshot({ sectionId: section.id, atTime: asOf }), [api, section.id, asOf, version]);
  const [message, setMessage] = useState('');
  const drop = useAction(async (studentId: string) => {
    const res = await api.registration.Drop({ sectionId: section.id, studentId, requestId: newRequestId() });
    setMessage(`Dropped ${studentId}${res.promoted ? `; ${res.promoted.studentId} was promoted from the waitlist` : ''}.`);
    onChanged();
  });
  const s = snapshot.data;
  const historic = asOf !== undefined;
  return (
    <section aria-labelledby={`${id}-h`} data-testid="roster">
      <h3 id={`${id}-h`}>Roster and waitlist</h3>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          setAsOf(at ? new Date(at) : undefined);
        }}
      >
        <div className="field">
          <label htmlFor={`${id}-at`}>As of</label>
          <input id={`${id}-at`} type="datetime-local" value={at} onChange={(e) => setAt(e.target.value)} max={toDateTimeLocal(new Date())} />
        </div>
        <button type="submit">Show</button>
        {historic ? (
          <button
            type="button"
            onClick={() => {
              setAt('');
              setAsOf(undefined);
            }}
          >
            Now
          </button>
        ) : null}
      </form>
      <p role="status" className="muted">
        {message}
      </p>
      <ErrorNotice error={drop.error} context="Drop failed" />
      {snapshot.loading && !s ? <Loading>Loading roster…</Loading> : null}
      <ErrorNotice error={snapshot.error} onRetry={snapshot.reload} />
      {s ? (
        <div className="two-col">
          <div>
            <h4>
              Enrolled ({s.enrolledStudentIds.length}
              {s.seats ? ` of ${s.seats.capacity}` : ''})
            </h4>
            {s.enrolledStudentIds.length === 0 ? <Empty>Nobody enrolled.</Empty> : null}
            <ol className="roster-list" data-testid="roster-enrolled">
              {s.enrolledStudentIds.map((sid) => (
                <li key={sid}>
                  <span className="mono">{sid}</span>{' '}
                  {!historic ? (
                    <button type="button" onClick={() => void drop.run(sid)} disabled={drop.busy} aria-label={`Drop ${sid} from this section`}>
                      Drop
                    </button>
                  ) : null}
                </li>
              ))}
            </ol>
          </div>
          <div>
            <h4>
              Waitlist ({s.waitlistedStudentIds.length}
              {s.seats ? ` of ${s.seats.waitlistCapacity}` : ''})
            </h4>
            {s.waitlistedStudentIds.length === 0 ? <Empty>Nobody waiting.</Empty> : null}
            <ol className="roster-list" data-testid="roster-waitlist">
              {s.waitlistedStudentIds.map((sid) => (
                <li key={sid}>
                  <span className="mono">{sid}</span>{' '}
                  {!historic ? (
                    <button type="button" onClick={() => void drop.run(sid)} disabled={drop.busy} aria-label={`Remove ${sid} from the waitlist`}>
                      Remove
                    </button>
                  ) : null}
                </li>
              ))}
            </ol>
          </div>
        </div>
      ) : null}
    </section>
  );
}

/** Register a student into the section on their behalf; the outcome is followed until decided. */
function RegisterOnBehalf({ section, onDecided }: { section: Section; onDecided: () => void }) {
  const api = useApi();
  const id = useId();
  const tracker = useMemo(() => new OutcomeTracker(api, { pollBaseMs: 700 }), [api]);
  useEffect(() => () => tracker.dispose(), [tracker]);
  const outcomes = useSyncExternalStore(tracker.subscribe, tracker.snapshot, tracker.snapshot);
  const [studentId, setStudentId] = useState('');
  const decided = useRef(onDecided);
  decided.current = onDecided;
  useEffect(() => tracker.onChange((o) => o.state !== 'pending' && decided.current()), [tracker]);
  const register = useAction(async (sid: string) => {
    tracker.setLabel(section.id, `${sid} in ${section.courseCode} section ${section.sectionCode}`);
    const { registration } = await api.registration.Register({ sectionId: section.id, studentId: sid, requestId: newRequestId() });
    if (registration) tracker.registration(registration);
  });
  function submit(e: FormEvent) {
    e.preventDefault();
    const sid = studentId.trim().toUpperCase();
    if (sid) void register.run(sid);
  }
  return (
    <section aria-labelledby={`${id}-h`}>
      <h3 id={`${id}-h`}>Register a student</h3>
      <form className="inline-form" onSubmit={submit}>
        <div className="field">
          <label htmlFor={`${id}-sid`}>Student id</label>
          <input id={`${id}-sid`} value={studentId} onChange={(e) => setStudentId(e.target.value)} placeholder="S0001" pattern="[Ss][0-9]{4,9}" data-testid="on-behalf-student" />
        </div>
        <button type="submit" disabled={register.busy || studentId.trim() === ''} data-testid="register-on-behalf">
          {register.busy ? 'Registering…' : 'Register student'}
        </button>
      </form>
      <ErrorNotice error={register.error} context="Registration refused" />
      <ul className="plain" aria-live="polite">
        {outcomes.map((o) => (
          <li key={`${o.registrationId}:${o.updatedAt}`} data-testid="outcome">
            <strong>{o.label}</strong>: <OutcomeStatus outcome={o} />
          </li>
        ))}
      </ul>
    </section>
  );
}

function CapacityOverride({ section }: { section: Section }) {
  const api = useApi();
  const id = useId();
  const [studentId, setStudentId] = useState('');
  const [reason, setReason] = useState('');
  const [done, setDone] = useState('');
  const grant = useAction(async () => {
    await api.registration.GrantCapacityOverride({ sectionId: section.id, studentId: studentId.trim().toUpperCase(), reason: reason.trim() });
    setDone(`${studentId.trim().toUpperCase()} may now register beyond capacity.`);
    setStudentId('');
    setReason('');
  });
  return (
    <details>
      <summary>Grant a capacity override</summary>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          void grant.run();
        }}
      >
        <div className="field">
          <label htmlFor={`${id}-sid`}>Student id for the override</label>
          <input id={`${id}-sid`} value={studentId} onChange={(e) => setStudentId(e.target.value)} placeholder="S0001" />
        </div>
        <div className="field">
          <label htmlFor={`${id}-why`}>Reason</label>
          <input id={`${id}-why`} value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} />
        </div>
        <button type="submit" disabled={grant.busy || !studentId.trim() || !reason.trim()}>
          Grant override
        </button>
        <p role="status">{done}</p>
        <ErrorNotice error={grant.error} />
      </form>
    </details>
  );
}

/**
 * One section for the registrar: details with live seats, edit, change capacity,
 * cancel, roster and waitlist, register or drop a student, overrides, history.
 */
export function SectionAdmin({ sectionId, termCode, onClose }: { sectionId: string; termCode: string; onClose: () => void }) {
  const api = useApi();
  const id = useId();
  const loaded = useLoad(() => api.course.GetSection({ id: sectionId }), [api, sectionId]);
  const section = loaded.data?.section;
  const counts = useWatchedSeats(section);
  const [editing, setEditing] = useState(false);
  // What the registrar typed; null shows the section's current capacity.
  const [capacityDraft, setCapacity] = useState<string | null>(null);
  const [confirmCancel, setConfirmCancel] = useState(false);
  const [version, setVersion] = useState(0);
  const [message, setMessage] = useState('');
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [sectionId]);
  const capacity = capacityDraft ?? (section ? String(section.capacity) : '');

  const saved = (s: Section, msg: string) => {
    loaded.setData({ section: s });
    setMessage(msg);
    setVersion((v) => v + 1);
  };
  const changeCapacity = useAction(async () => {
    if (!section) return;
    const res = await api.course.UpdateSection({ section: { id: section.id, etag: section.etag, capacity: Number(capacity) }, updateMask: ['capacity'] });
    if (res.section) saved(res.section, `Capacity is now ${res.section.capacity}.`);
    setCapacity(null);
  });
  const cancel = useAction(async () => {
    if (!section) return;
    const res = await api.course.CancelSection({ id: section.id, etag: section.etag });
    setConfirmCancel(false);
    if (res.section) saved(res.section, 'The section is cancelled.');
  });

  return (
    <section className="card details" aria-labelledby={`${id}-h`} data-testid="section-admin" data-section-id={sectionId}>
      <div className="details-head">
        <h2 id={`${id}-h`} ref={heading} tabIndex={-1}>
          {section ? `${section.courseCode} · ${section.sectionCode} — ${section.courseTitle}` : 'Section'}
        </h2>
        <button type="button" onClick={onClose} aria-label="Close section">
          Close
        </button>
      </div>
      {loaded.loading && !section ? <Loading>Loading section…</Loading> : null}
      <ErrorNotice error={loaded.error} onRetry={loaded.reload} />
      <p role="status" className="muted" data-testid="admin-message">
        {message}
      </p>
      {section ? (
        <>
          <dl className="facts">
            <dt>Section id</dt>
            <dd className="mono">{section.id}</dd>
            <dt>Kind</dt>
            <dd>{kindLabel(section.kind)}</dd>
            <dt>Instructor</dt>
            <dd>{section.instructor || 'Staff'}</dd>
            <dt>Status</dt>
            <dd data-testid="section-status">{statusLabel(section.status)}</dd>
            <dt>Meets</dt>
            <dd>
              <MeetingTimes meetings={section.meetingTimes} />
            </dd>
            <dt>Seats</dt>
            <dd aria-live="polite">{counts ? <Seats counts={counts} /> : null}</dd>
          </dl>
          {editing ? (
            <SectionForm
              termCode={termCode}
              section={section}
              onCancel={() => setEditing(false)}
              onSaved={(s) => {
                setEditing(false);
                saved(s, 'Section saved.');
              }}
            />
          ) : (
            <div className="buttons">
              <button type="button" onClick={() => setEditing(true)} disabled={section.status === SectionStatus.SECTION_STATUS_CANCELLED} data-testid="edit-section">
                Edit section
              </button>
              {!confirmCancel ? (
                <button type="button" className="danger" onClick={() => setConfirmCancel(true)} disabled={section.status === SectionStatus.SECTION_STATUS_CANCELLED} data-testid="cancel-section">
                  Cancel section
                </button>
              ) : (
                <span role="group" aria-label="Confirm cancelling the section" className="confirm">
                  Cancel this section for good? Enrolled students keep their history.{' '}
                  <button type="button" className="danger" onClick={() => void cancel.run()} disabled={cancel.busy} data-testid="confirm-cancel-section">
                    Yes, cancel section
                  </button>{' '}
                  <button type="button" onClick={() => setConfirmCancel(false)}>
                    Keep it
                  </button>
                </span>
              )}
            </div>
          )}
          <ErrorNotice error={cancel.error} context="Could not cancel" onRetry={cancel.error?.code === Code.ABORTED ? loaded.reload : undefined} retryLabel="Reload section" />
          {!editing && section.status !== SectionStatus.SECTION_STATUS_CANCELLED ? (
            <form
              className="inline-form"
              onSubmit={(e) => {
                e.preventDefault();
                void changeCapacity.run();
              }}
            >
              <div className="field">
                <label htmlFor={`${id}-cap`}>New capacity</label>
                <input id={`${id}-cap`} type="number" min={0} max={2000} value={capacity} onChange={(e) => setCapacity(e.target.value)} data-testid="new-capacity" />
              </div>
              <button type="submit" disabled={changeCapacity.busy || capacity === String(section.capacity) || capacity === ''} data-testid="save-capacity">
                Change capacity
              </button>
            </form>
          ) : null}
          <ErrorNotice error={changeCapacity.error} context="Capacity not changed" onRetry={changeCapacity.error?.code === Code.ABORTED ? loaded.reload : undefined} retryLabel="Reload section" />
          <Roster section={section} version={version} onChanged={() => setVersion((v) => v + 1)} />
          {section.status !== SectionStatus.SECTION_STATUS_CANCELLED ? <RegisterOnBehalf section={section} onDecided={() => setVersion((v) => v + 1)} /> : null}
          <CapacityOverride section={section} />
          <AuditHistory key={`${section.id}:${version}`} subject={{ $case: 'sectionId', sectionId: section.id }} />
        </>
      ) : null}
    </section>
  );
}
