import { useId, useState } from 'react';
import { TermStatus, type Term } from '../../../gen/web/coursereg/course/v1/course';
import { useAction, useApi } from '../api/context';
import { ErrorNotice } from '../components/ErrorNotice';
import { formatDateTime, toDateTimeLocal } from '../lib/time';

const STATUSES: [TermStatus, string][] = [
  [TermStatus.TERM_STATUS_PLANNED, 'Planned'],
  [TermStatus.TERM_STATUS_OPEN, 'Open'],
  [TermStatus.TERM_STATUS_CLOSED, 'Closed'],
];
const statusName = (s: TermStatus) => STATUSES.find(([v]) => v === s)?.[1] ?? 'Unknown';

/** A term's registration period: when registration opens, the add/drop deadline, and its status. */
function TermEditor({ term, onSaved }: { term: Term; onSaved: (t: Term) => void }) {
  const api = useApi();
  const id = useId();
  const [opens, setOpens] = useState(toDateTimeLocal(term.registrationOpensTime));
  const [deadline, setDeadline] = useState(toDateTimeLocal(term.addDropDeadlineTime));
  const [status, setStatus] = useState(term.status);
  const save = useAction(async () => {
    const res = await api.course.UpdateTerm({
      term: { code: term.code, etag: term.etag, registrationOpensTime: new Date(opens), addDropDeadlineTime: new Date(deadline), status },
      updateMask: ['registration_opens_time', 'add_drop_deadline_time', 'status'],
    });
    if (res.term) onSaved(res.term);
  });
  return (
    <form
      className="form"
      onSubmit={(e) => {
        e.preventDefault();
        void save.run();
      }}
      aria-label={`Registration period of ${term.name}`}
    >
      <div className="field-row">
        <div className="field">
          <label htmlFor={`${id}-opens`}>Registration opens</label>
          <input id={`${id}-opens`} type="datetime-local" value={opens} onChange={(e) => setOpens(e.target.value)} required />
        </div>
        <div className="field">
          <label htmlFor={`${id}-deadline`}>Add/drop deadline</label>
          <input id={`${id}-deadline`} type="datetime-local" value={deadline} onChange={(e) => setDeadline(e.target.value)} required />
        </div>
        <div className="field">
          <label htmlFor={`${id}-status`}>Term status</label>
          <select id={`${id}-status`} value={status} onChange={(e) => setStatus(Number(e.target.value) as TermStatus)}>
            {STATUSES.map(([v, l]) => (
              <option key={v} value={v}>
                {l}
              </option>
            ))}
          </select>
        </div>
      </div>
      <button type="submit" disabled={save.busy || !opens || !deadline}>
        Save registration period
      </button>
      <ErrorNotice error={save.error} context="Not saved" />
    </form>
  );
}

/** Terms and their registration periods (students' own windows are set on the Students page). */
export function TermsPage({ terms, onChanged }: { terms: Term[]; onChanged: () => void }) {
  const id = useId();
  const [message, setMessage] = useState('');
  return (
    <section className="card" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>Terms</h2>
      <p role="status" className="muted">
        {message}
      </p>
      {terms.map((t) => (
        <article key={`${t.code}:${t.etag}`} className="term" data-testid="term" data-term-code={t.code}>
          <h3>
            {t.name} ({t.code}) — {statusName(t.status)}
          </h3>
          <p className="muted">
            Classes {t.startDate} to {t.endDate}. Registration opens {formatDateTime(t.registrationOpensTime)}; add/drop until {formatDateTime(t.addDropDeadlineTime)}.
          </p>
          <TermEditor
            term={t}
            onSaved={(saved) => {
              setMessage(`Saved ${saved.name}.`);
              onChanged();
            }}
          />
        </article>
      ))}
    </section>
  );
}
