import { useMemo } from 'react';
import { ApiError } from '../api/errors';
import { errorSentence, retryPhrase } from '../api/reasons';
import { useCountdown } from './useCountdown';

/**
 * Shows a failed call in plain language. An answer with retry-after / RetryInfo (a
 * rate limit, or a service asking for a pause) counts down the seconds; invalid input lists each field's problem.
 * `onRetry` offers a retry button (disabled while the countdown runs).
 */
export function ErrorNotice({ error, onRetry, retryLabel = 'Try again', context }: { error: ApiError | Error | undefined | null; onRetry?: () => void; retryLabel?: string; context?: string }) {
  const until = useMemo(() => (error instanceof ApiError && error.retryAfterSeconds !== undefined ? Date.now() + error.retryAfterSeconds * 1000 : undefined), [error]);
  const left = useCountdown(until);
  if (!error) return null;
  const api = error instanceof ApiError ? error : undefined;
  const sentence = api ? errorSentence(api) : error.message;
  const waiting = left !== undefined && left > 0;
  return (
    <div className={`notice notice-error${api?.rateLimited ? ' notice-rate' : ''}`} role="alert" data-testid="error-notice" data-reason={api?.reason ?? ''} data-code={api?.code ?? ''}>
      <p>
        {context ? <strong>{context}: </strong> : null}
        {sentence}
        {api && (api.rateLimited || api.retryAfterSeconds !== undefined) ? (
          <>
            {' '}
            <span data-testid="retry-countdown">{waiting ? retryPhrase(left) : left === 0 ? 'You can try again now.' : 'Try again in a few seconds.'}</span>
          </>
        ) : null}
      </p>
      {api && api.fieldViolations.length > 0 ? (
        <ul>
          {api.fieldViolations.map((v, i) => (
            <li key={i}>
              {v.field}: {v.description}
            </li>
          ))}
        </ul>
      ) : null}
      {api && api.reason && !api.rateLimited && api.message && api.fieldViolations.length === 0 && api.message !== sentence ? <p className="detail">Details: {api.message}</p> : null}
      {onRetry ? (
        <button type="button" onClick={onRetry} disabled={waiting}>
          {retryLabel}
        </button>
      ) : null}
    </div>
  );
}

/** Lists what is wrong with a form before it is sent (nothing when the list is empty). */
export function FormProblems({ problems }: { problems: readonly string[] }) {
  if (problems.length === 0) return null;
  return (
    <div className="notice notice-error" role="alert">
      <ul>
        {problems.map((p) => (
          <li key={p}>{p}</li>
        ))}
      </ul>
    </div>
  );
}
