import { useId } from 'react';
import { OutcomeStatus } from '../components/OutcomeStatus';
import { useOutcomes, useStudent } from './StudentContext';

/** Registration results of this session, newest first, announced politely as they change. */
export function OutcomesPanel() {
  const { tracker } = useStudent();
  const outcomes = useOutcomes();
  const id = useId();
  return (
    <section className="card outcomes" aria-labelledby={`${id}-h`} data-testid="outcomes">
      <h2 id={`${id}-h`}>Registration results</h2>
      <div aria-live="polite" aria-atomic="false">
        {outcomes.length === 0 ? (
          <p className="muted">Results of your registrations appear here.</p>
        ) : (
          <ul className="plain outcome-list">
            {outcomes.map((o) => (
              <li key={`${o.registrationId ?? 'refused'}:${o.sectionId}:${o.updatedAt}`} data-testid="outcome" data-section-id={o.sectionId} data-state={o.state}>
                <strong>{o.label}</strong>: <OutcomeStatus outcome={o} />
              </li>
            ))}
          </ul>
        )}
      </div>
      {outcomes.length > 0 ? (
        <button type="button" onClick={() => tracker.clear()}>
          Clear results
        </button>
      ) : null}
    </section>
  );
}
