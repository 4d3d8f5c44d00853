import { useMemo } from 'react';
import { retryPhrase } from '../api/reasons';
import { outcomeText, type Outcome } from './outcome';
import { useCountdown } from './useCountdown';

/**
 * The status of one registration request: pending, then enrolled, waitlisted (with
 * position) or refused with a plain-language reason. `data-state` carries the state
 * for tests and styling.
 */
export function OutcomeStatus({ outcome }: { outcome: Outcome }) {
  const until = useMemo(() => (outcome.retryAfterSeconds !== undefined ? outcome.updatedAt + outcome.retryAfterSeconds * 1000 : undefined), [outcome]);
  const left = useCountdown(until);
  const text = outcomeText(outcome);
  const showDetail =
    outcome.reasonMessage && outcome.retryAfterSeconds === undefined && (outcome.state === 'rejected' || outcome.state === 'failed' || outcome.state === 'refused') && !text.includes(outcome.reasonMessage);
  return (
    <span className={`outcome outcome-${outcome.state}`} data-testid="outcome-status" data-state={outcome.state} data-reason={outcome.reasonCode ?? ''}>
      {text}
      {left !== undefined && left > 0 ? <> {retryPhrase(left)}</> : null}
      {showDetail ? <span className="detail"> ({outcome.reasonMessage})</span> : null}
    </span>
  );
}
