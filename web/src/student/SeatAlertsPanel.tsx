import { useId, useState } from 'react';
import { useApi } from '../api/context';
import { toApiError, type ApiError } from '../api/errors';
import { ErrorNotice } from '../components/ErrorNotice';
import { useSeatAlerts, useStudent } from './StudentContext';

/** The sections the student is waiting on for a seat; an opened seat is announced. */
export function SeatAlertsPanel() {
  const api = useApi();
  const { alerts, openSection } = useStudent();
  const [error, setError] = useState<ApiError | undefined>();
  const list = useSeatAlerts();
  const id = useId();
  if (list.length === 0) return null;
  const open = list.filter((a) => a.status === 'open');
  return (
    <section className="card seat-alerts" aria-labelledby={`${id}-h`} data-testid="seat-alerts">
      <h2 id={`${id}-h`}>Seat alerts</h2>
      <div role="alert" data-testid="seat-alert-announcement">
        {open.length > 0 ? `A seat opened in ${open.map((a) => a.label).join(', ')}. Register soon, before someone else takes it.` : ''}
      </div>
      <ul className="plain">
        {list.map((a) => (
          <li key={a.sectionId} data-testid="seat-alert" data-section-id={a.sectionId} data-status={a.status}>
            <strong>{a.label}</strong>: {a.status === 'open' ? 'a seat is open now' : 'watching for a free seat…'}{' '}
            <button type="button" onClick={() => alerts.remove(a.sectionId)} aria-label={`Remove the seat alert for ${a.label}`}>
              Remove
            </button>
            {a.status === 'open' ? (
              <button
                type="button"
                onClick={() =>
                  api.course.GetSection({ id: a.sectionId }).then(
                    (r) => r.section && openSection(r.section),
                    (e: unknown) => setError(toApiError(e)),
                  )
                }
                aria-label={`Open ${a.label}`}
              >
                Open section
              </button>
            ) : null}
            {a.status === 'open' ? (
              <button type="button" onClick={() => alerts.add(a.sectionId, a.label)} aria-label={`Watch ${a.label} again`}>
                Watch again
              </button>
            ) : null}
          </li>
        ))}
      </ul>
      <ErrorNotice error={error} />
    </section>
  );
}
