import { useEffect, useId, useRef, useState } from 'react';
import type { Term } from '../../../gen/web/coursereg/course/v1/course';
import { RegistrationState } from '../../../gen/web/coursereg/registration/v1/registration';
import { HoldKind, type Hold, type Student } from '../../../gen/web/coursereg/student/v1/student';
import { newRequestId } from '../api/client';
import { useAction, useApi, useLoad } from '../api/context';
import { toApiError, type ApiError } from '../api/errors';
import { ErrorNotice } from '../components/ErrorNotice';
import { MeetingTimes } from '../components/SectionBits';
import { Empty, Loading } from '../components/Status';
import { formatDateTime, toDateTimeLocal } from '../lib/time';
import { AuditHistory } from './AuditHistory';

const HOLD_KINDS: [HoldKind, string][] = [
  [HoldKind.HOLD_KIND_FINANCIAL, 'Financial'],
  [HoldKind.HOLD_KIND_ADVISING, 'Advising'],
  [HoldKind.HOLD_KIND_DISCIPLINARY, 'Disciplinary'],
  [HoldKind.HOLD_KIND_ADMINISTRATIVE, 'Administrative'],
];
const holdKindLabel = (k: HoldKind) => HOLD_KINDS.find(([v]) => v === k)?.[1] ?? 'Other';

function Holds({ studentId }: { studentId: string }) {
  const api = useApi();
  const id = useId();
  const holds = useLoad(() => api.student.ListHolds({ studentId, includeReleased: true, pageSize: 100 }), [api, studentId]);
  const [kind, setKind] = useState(HoldKind.HOLD_KIND_ADVISING);
  const [reason, setReason] = useState('');
  const place = useAction(async () => {
    await api.student.PlaceHold({ studentId, kind, reason: reason.trim() });
    setReason('');
    holds.reload();
  });
  const release = useAction(async (h: Hold) => {
    await api.student.ReleaseHold({ holdId: h.id });
    holds.reload();
  });
  const list = holds.data?.holds ?? [];
  return (
    <section aria-labelledby={`${id}-h`} data-testid="holds">
      <h3 id={`${id}-h`}>Holds</h3>
      {holds.loading && !holds.data ? <Loading>Loading holds…</Loading> : null}
      <ErrorNotice error={holds.error} onRetry={holds.reload} />
      {holds.data && list.length === 0 ? <Empty>No holds.</Empty> : null}
      <ul className="plain">
        {list.map((h) => (
          <li key={h.id} data-testid="hold" data-active={h.active}>
            <strong>{holdKindLabel(h.kind)}</strong> — {h.reason} <span className="muted">(placed {formatDateTime(h.placeTime)} by {h.placedBy}{h.active ? '' : `; released ${formatDateTime(h.releaseTime)} by ${h.releasedBy}`})</span>{' '}
            {h.active ? (
              <button type="button" onClick={() => void release.run(h)} disabled={release.busy} aria-label={`Release the ${holdKindLabel(h.kind).toLowerCase()} hold`}>
                Release
              </button>
            ) : (
              <span className="badge">Released</span>
            )}
          </li>
        ))}
      </ul>
      <ErrorNotice error={release.error} context="Could not release the hold" />
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          void place.run();
        }}
      >
        <h4>Place a hold</h4>
        <div className="field-row">
          <div className="field">
            <label htmlFor={`${id}-kind`}>Hold kind</label>
            <select id={`${id}-kind`} value={kind} onChange={(e) => setKind(Number(e.target.value) as HoldKind)}>
              {HOLD_KINDS.map(([v, l]) => (
                <option key={v} value={v}>
                  {l}
                </option>
              ))}
            </select>
          </div>
          <div className="field grow">
            <label htmlFor={`${id}-reason`}>Reason shown to the student</label>
            <input id={`${id}-reason`} value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} />
          </div>
        </div>
        <button type="submit" disabled={place.busy || reason.trim() === ''} data-testid="place-hold">
          Place hold
        </button>
        <ErrorNotice error={place.error} context="Could not place the hold" />
      </form>
    </section>
  );
}

function Windows({ studentId, terms, termCode }: { studentId: string; terms: Term[]; termCode: string }) {
  const api = useApi();
  const id = useId();
  const windows = useLoad(() => api.student.ListRegistrationWindows({ studentId }), [api, studentId]);
  const [term, setTerm] = useState(termCode);
  const [opens, setOpens] = useState(toDateTimeLocal(new Date()));
  const set = useAction(async () => {
    await api.student.SetRegistrationWindow({ studentId, termCode: term, opensTime: new Date(opens) });
    windows.reload();
  });
  useEffect(() => setTerm(termCode), [termCode]);
  return (
    <section aria-labelledby={`${id}-h`} data-testid="windows">
      <h3 id={`${id}-h`}>Registration windows</h3>
      <ErrorNotice error={windows.error} onRetry={windows.reload} />
      {windows.data && windows.data.windows.length === 0 ? <Empty>No registration window set.</Empty> : null}
      <ul className="plain">
        {(windows.data?.windows ?? []).map((w) => (
          <li key={w.termCode}>
            {w.termCode}: opens {formatDateTime(w.opensTime)}
          </li>
        ))}
      </ul>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (opens) void set.run();
        }}
      >
        <div className="field">
          <label htmlFor={`${id}-term`}>Window term</label>
          <select id={`${id}-term`} value={term} onChange={(e) => setTerm(e.target.value)}>
            {terms.map((t) => (
              <option key={t.code} value={t.code}>
                {t.name} ({t.code})
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-opens`}>Opens at</label>
          <input id={`${id}-opens`} type="datetime-local" value={opens} onChange={(e) => setOpens(e.target.value)} />
        </div>
        <button type="submit" disabled={set.busy || !opens || !term} data-testid="set-window">
          Set window
        </button>
      </form>
      <ErrorNotice error={set.error} context="Could not set the window" />
    </section>
  );
}

function StudentSchedule({ studentId, termCode }: { studentId: string; termCode: string }) {
  const api = useApi();
  const id = useId();
  const schedule = useLoad(() => api.registration.GetSchedule({ studentId, termCode }), [api, studentId, termCode]);
  const [message, setMessage] = useState('');
  const drop = useAction(async (sectionId: string, label: string) => {
    const res = await api.registration.Drop({ sectionId, studentId, requestId: newRequestId() });
    setMessage(`Dropped ${label}${res.promoted ? `; ${res.promoted.studentId} was promoted from the waitlist` : ''}.`);
    schedule.reload();
  });
  const entries = schedule.data?.entries ?? [];
  return (
    <section aria-labelledby={`${id}-h`} data-testid="student-schedule">
      <h3 id={`${id}-h`}>Schedule in {termCode}</h3>
      <p role="status" className="muted">
        {message}
      </p>
      {schedule.loading && !schedule.data ? <Loading>Loading schedule…</Loading> : null}
      <ErrorNotice error={schedule.error} onRetry={schedule.reload} />
      {schedule.data ? (
        <p>
          Enrolled credits: {schedule.data.enrolledCredits} of {schedule.data.maxCredits}
        </p>
      ) : null}
      {schedule.data && entries.length === 0 ? <Empty>No sections this term.</Empty> : null}
      <ul className="plain">
        {entries.map((e) => {
          const r = e.registration!;
          const label = `${r.courseCode} section ${e.sectionCode}`;
          const state = r.state === RegistrationState.REGISTRATION_STATE_ENROLLED ? 'Enrolled' : r.state === RegistrationState.REGISTRATION_STATE_WAITLISTED ? `Waitlisted (#${r.waitlistPosition})` : 'Pending';
          return (
            <li key={r.id} className="section-row">
              <div className="row-main">
                <strong>{label}</strong> — {e.courseTitle} · {state} · {r.credits} credits
                <MeetingTimes meetings={e.meetingTimes} />
              </div>
              <div className="row-actions">
                {r.state !== RegistrationState.REGISTRATION_STATE_PENDING ? (
                  <button type="button" onClick={() => void drop.run(r.sectionId, label)} disabled={drop.busy} aria-label={`Drop ${label} for ${studentId}`}>
                    Drop
                  </button>
                ) : null}
              </div>
            </li>
          );
        })}
      </ul>
      <ErrorNotice error={drop.error} context="Drop failed" />
    </section>
  );
}

function StudentAdmin({ student, terms, termCode, onClose }: { student: Student; terms: Term[]; termCode: string; onClose: () => void }) {
  const id = useId();
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [student.id]);
  return (
    <section className="card details" aria-labelledby={`${id}-h`} data-testid="student-admin" data-student-id={student.id}>
      <div className="details-head">
        <h2 id={`${id}-h`} ref={heading} tabIndex={-1}>
          {student.name} ({student.id})
        </h2>
        <button type="button" onClick={onClose} aria-label="Close student">
          Close
        </button>
      </div>
      <p className="muted">
        {student.program} · {student.email} · up to {student.maxCredits} credits per term
      </p>
      <StudentSchedule studentId={student.id} termCode={termCode} />
      <Holds studentId={student.id} />
      <Windows studentId={student.id} terms={terms} termCode={termCode} />
      <AuditHistory subject={{ $case: 'studentId', studentId: student.id }} />
    </section>
  );
}

/** Students: find one, then holds, registration windows, schedule (drop on their behalf) and history. */
export function StudentsPage({ terms, termCode }: { terms: Term[]; termCode: string }) {
  const api = useApi();
  const id = useId();
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<Student[] | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();
  const [open, setOpen] = useState<Student | null>(null);

  async function search() {
    setLoading(true);
    setError(undefined);
    try {
      const res = await api.student.ListStudents({ query: query.trim(), pageSize: 25 });
      setResults(res.students);
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setLoading(false);
    }
  }

  return (
    <div className="registrar-page">
      {open ? <StudentAdmin key={open.id} student={open} terms={terms} termCode={termCode} onClose={() => setOpen(null)} /> : null}
      <form
        role="search"
        aria-label="Find students"
        className="card inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void search();
        }}
      >
        <div className="field grow">
          <label htmlFor={`${id}-q`}>Student id, name or email</label>
          <input id={`${id}-q`} type="search" value={query} onChange={(e) => setQuery(e.target.value)} data-testid="registrar-student-search" />
        </div>
        <button type="submit">Find students</button>
      </form>
      <section aria-labelledby={`${id}-h`} aria-busy={loading}>
        <h2 id={`${id}-h`}>Students</h2>
        <ErrorNotice error={error} onRetry={() => void search()} />
        {loading && !results ? <Loading>Searching…</Loading> : null}
        {results && results.length === 0 ? <Empty>No students match.</Empty> : null}
        {results && results.length > 0 ? (
          <ul className="plain student-list">
            {results.map((s) => (
              <li key={s.id} data-testid="student-row" data-student-id={s.id}>
                <span className="mono">{s.id}</span> {s.name} <span className="muted">{s.program}</span>{' '}
                <button type="button" onClick={() => setOpen(s)} aria-label={`Open ${s.name} (${s.id})`}>
                  Open
                </button>
              </li>
            ))}
          </ul>
        ) : null}
      </section>
    </div>
  );
}
