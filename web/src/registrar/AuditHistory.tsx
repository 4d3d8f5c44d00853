import { useEffect, useId, useState } from 'react';
import { RegistrationState, type AuditEvent } from '../../../gen/web/coursereg/registration/v1/registration';
import type { ListAuditEventsRequest } from '../../../gen/web/coursereg/registration/v1/registration_service';
import { useApi } from '../api/context';
import { toApiError, type ApiError } from '../api/errors';
import { ErrorNotice } from '../components/ErrorNotice';
import { registrationStateName } from '../components/outcome';
import { Empty, Loading } from '../components/Status';
import { formatDateTime } from '../lib/time';

const stateName = (s: RegistrationState) => registrationStateName(s) ?? '—';

/** The audit trail of a section or a student, oldest first, a page at a time. */
export function AuditHistory({ subject }: { subject: NonNullable<ListAuditEventsRequest['subject']> }) {
  const api = useApi();
  const id = useId();
  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [next, setNext] = useState('');
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();
  const [loaded, setLoaded] = useState(false);
  const key = subject.$case === 'sectionId' ? `s:${subject.sectionId}` : `t:${subject.studentId}`;

  async function load(pageToken: string) {
    setLoading(true);
    setError(undefined);
    try {
      const res = await api.registration.ListAuditEvents({ subject, pageSize: 50, pageToken });
      setEvents((prev) => (pageToken ? [...prev, ...res.events] : res.events));
      setNext(res.nextPageToken);
      setLoaded(true);
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setLoading(false);
    }
  }

  useEffect(() => {
    setEvents([]);
    setNext('');
    setLoaded(false);
    void load('');
    // Reload when the subject changes (key), not when `subject`, a new object each render, does.
  }, [key]);

  return (
    <section aria-labelledby={`${id}-h`} data-testid="audit-history">
      <h3 id={`${id}-h`}>History</h3>
      {loading && !loaded ? <Loading>Loading history…</Loading> : null}
      <ErrorNotice error={error} onRetry={() => void load(loaded ? next : '')} />
      {loaded && events.length === 0 ? <Empty>No recorded events yet.</Empty> : null}
      {events.length > 0 ? (
        <div className="table-scroll">
          <table>
            <caption className="visually-hidden">Audit events, oldest first</caption>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">When</th>
                <th scope="col">What</th>
                <th scope="col">{subject.$case === 'sectionId' ? 'Student' : 'Section'}</th>
                <th scope="col">Change</th>
                <th scope="col">Reason</th>
                <th scope="col">By</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr key={e.sequence} data-testid="audit-event">
                  <td>{e.sequence}</td>
                  <td>{formatDateTime(e.occurTime)}</td>
                  <td>{e.kind}</td>
                  <td className="mono">{subject.$case === 'sectionId' ? e.studentId : e.sectionId}</td>
                  <td>
                    {e.beforeState || e.afterState ? `${stateName(e.beforeState)} → ${stateName(e.afterState)}` : '—'}
                  </td>
                  <td>{e.reasonCode || '—'}</td>
                  <td>{e.actor}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {next ? (
        <button type="button" onClick={() => void load(next)} disabled={loading}>
          {loading ? 'Loading…' : 'Load more events'}
        </button>
      ) : null}
    </section>
  );
}
