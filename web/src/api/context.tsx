import { createContext, useCallback, useContext, useEffect, useRef, useState, useSyncExternalStore, type ReactNode } from 'react';
import type { Api } from './client';
import { toApiError, type ApiError } from './errors';
import type { Session, SessionStore } from './session';
import { ConnectionMonitor, type ConnectionSnapshot } from './streams';

interface Services {
  api: Api;
  sessions: SessionStore;
  monitor: ConnectionMonitor;
}

const ServicesContext = createContext<Services | null>(null);

/** Makes the API, the session store and the connection monitor available below it. */
export function ApiProvider({ api, sessions, monitor, children }: { api: Api; sessions: SessionStore; monitor?: ConnectionMonitor; children: ReactNode }) {
  const [fallbackMonitor] = useState(() => new ConnectionMonitor());
  return <ServicesContext.Provider value={{ api, sessions, monitor: monitor ?? fallbackMonitor }}>{children}</ServicesContext.Provider>;
}

function useServices(): Services {
  const s = useContext(ServicesContext);
  if (!s) throw new Error('useApi must be used inside <ApiProvider>');
  return s;
}

export const useApi = (): Api => useServices().api;
export const useSessions = (): SessionStore => useServices().sessions;
export const useMonitor = (): ConnectionMonitor => useServices().monitor;

export function useSession(): Session | null {
  const sessions = useSessions();
  return useSyncExternalStore(sessions.subscribe, sessions.get, sessions.get);
}

export function useConnection(): ConnectionSnapshot {
  const monitor = useMonitor();
  return useSyncExternalStore(monitor.subscribe, monitor.snapshot, monitor.snapshot);
}

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload: () => void;
  /** Replace the data locally (after a mutation answered with the new value). */
  setData: (data: T) => void;
}

/**
 * Runs `load` when `deps` change (and on reload), keeping only the newest answer.
 * `load` returning undefined means "nothing to load yet".
 *
 * @example const terms = useLoad(() => api.course.ListTerms({ pageSize: 50 }), [api]);
 */
export function useLoad<T>(load: () => Promise<T> | undefined, deps: readonly unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const latest = useRef(0);
  useEffect(() => {
    const run = ++latest.current;
    const p = load();
    if (!p) {
      setState({ loading: false });
      return;
    }
    setState((s) => ({ data: s.data, loading: true }));
    p.then(
      (data) => run === latest.current && setState({ data, loading: false }),
      (e: unknown) => run === latest.current && setState((s) => ({ data: s.data, error: toApiError(e), loading: false })),
    );
    // `load` is a new closure on every render; the caller's deps say when it really changed.
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  const setData = useCallback((data: T) => setState({ data, loading: false }), []);
  return { data: state.data, error: state.error, loading: state.loading, reload, setData };
}

/** A mutation's state: busy while running, the error of the last failed run. */
export function useAction<A extends unknown[], R>(fn: (...args: A) => Promise<R>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const run = useCallback(async (...args: A): Promise<R | undefined> => {
    setBusy(true);
    setError(undefined);
    try {
      return await fnRef.current(...args);
    } catch (e) {
      setError(toApiError(e));
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { run, busy, error, clearError: () => setError(undefined) };
}
