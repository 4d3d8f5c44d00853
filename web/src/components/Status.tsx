import type { ReactNode } from 'react';

/** A polite "Loading…" for screen readers and eyes. */
export function Loading({ children = 'Loading…' }: { children?: ReactNode }) {
  return (
    <p className="loading" role="status">
      {children}
    </p>
  );
}

/** The empty state of a list: says so rather than showing nothing. */
export function Empty({ children }: { children: ReactNode }) {
  return (
    <p className="empty" data-testid="empty">
      {children}
    </p>
  );
}
