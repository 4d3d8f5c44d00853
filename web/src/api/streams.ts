import type { Observable, Subscription } from 'rxjs';
import { ApiError, Code, toApiError } from './errors';

/** What the connection banner shows: whether live updates are lost and when the next attempt is. */
export interface ConnectionSnapshot {
  online: boolean;
  reconnecting: boolean;
  /** Epoch ms of the earliest scheduled reconnect, if any. */
  retryAt?: number;
  /** What is reconnecting, e.g. "seat counts". */
  labels: string[];
}

/**
 * Collects the state of every live stream so that one banner can say "live updates
 * lost, reconnecting in 4 s". Streams report themselves; the browser's online/offline
 * events report the network.
 */
export class ConnectionMonitor {
  private readonly links = new Map<number, { label: string; retryAt?: number }>();
  private readonly listeners = new Set<() => void>();
  private online = true;
  private snap: ConnectionSnapshot = { online: true, reconnecting: false, labels: [] };
  private nextId = 1;

  register(): number {
    return this.nextId++;
  }

  reconnecting(id: number, label: string, retryAt: number): void {
    this.links.set(id, { label, retryAt });
    this.update();
  }

  live(id: number): void {
    if (this.links.delete(id)) this.update();
  }

  setOnline(online: boolean): void {
    if (this.online === online) return;
    this.online = online;
    this.update();
  }

  snapshot = (): ConnectionSnapshot => this.snap;

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  private update() {
    const links = [...this.links.values()];
    const times = links.map((l) => l.retryAt).filter((t): t is number => t !== undefined);
    this.snap = {
      online: this.online,
      reconnecting: links.length > 0,
      retryAt: times.length > 0 ? Math.min(...times) : undefined,
      labels: [...new Set(links.map((l) => l.label))],
    };
    for (const fn of [...this.listeners]) fn();
  }
}

/**
 * Exponential backoff with jitter: attempt 0 waits about `baseMs`, doubling up to `maxMs`,
 * each delay scaled by a random factor in [0.5, 1).
 *
 * @example backoffDelay(3, 1000, 30000, () => 0) === 4000
 */
export function backoffDelay(attempt: number, baseMs = 1000, maxMs = 30_000, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(ceiling * (0.5 + random() * 0.5));
}

/** Errors a retry cannot fix: the stream stops and the caller is told. */
const PERMANENT: ReadonlySet<number> = new Set([Code.INVALID_ARGUMENT, Code.NOT_FOUND, Code.PERMISSION_DENIED, Code.UNAUTHENTICATED, Code.FAILED_PRECONDITION, Code.UNIMPLEMENTED]);

export interface WatchOptions<T> {
  next: (value: T) => void;
  /** A permanent failure (not found, not allowed, signed out): the stream is not reopened. */
  onError?: (err: ApiError) => void;
  /** The stream was lost and is live again: refresh anything that may have been missed. */
  onReconnected?: () => void;
  /** The stream ended normally and `reconnectOnComplete` is false. */
  onComplete?: () => void;
  monitor?: ConnectionMonitor;
  /** What the banner calls this stream. */
  label?: string;
  /** Reopen a stream that the server ended normally (idle timeout, restart). Default true. */
  reconnectOnComplete?: boolean;
  baseMs?: number;
  maxMs?: number;
  /** A reopened stream counts as live again once it has stayed open this long or sent a message. */
  healthyAfterMs?: number;
  random?: () => number;
}

/**
 * Follows a server stream and keeps it open: on a transport error or an unexpected end
 * it reopens it with backoff (honouring retry-after when rate limited) and reports to the
 * connection monitor meanwhile. Returns the function that stops it.
 *
 * @example
 *   const stop = watchStream(() => api.registration.WatchSection({ sectionId }), { next: (m) => setSeats(m.seats), monitor, label: 'seat counts' });
 */
export function watchStream<T>(open: () => Observable<T>, opts: WatchOptions<T>): () => void {
  const base = opts.baseMs ?? 1000;
  const max = opts.maxMs ?? 30_000;
  const healthyAfter = opts.healthyAfterMs ?? 3000;
  const reconnectOnComplete = opts.reconnectOnComplete ?? true;
  const id = opts.monitor?.register() ?? 0;
  let attempt = 0;
  let lost = false;
  let stopped = false;
  let sub: Subscription | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let healthyTimer: ReturnType<typeof setTimeout> | undefined;

  const healthy = () => {
    if (healthyTimer !== undefined) clearTimeout(healthyTimer);
    healthyTimer = undefined;
    attempt = 0;
    if (lost) {
      lost = false;
      opts.monitor?.live(id);
      opts.onReconnected?.();
    }
  };

  const retry = (err: ApiError | undefined) => {
    if (stopped) return;
    if (healthyTimer !== undefined) clearTimeout(healthyTimer);
    healthyTimer = undefined;
    let delay = backoffDelay(attempt, base, max, opts.random);
    if (err?.retryAfterSeconds !== undefined) delay = Math.max(delay, err.retryAfterSeconds * 1000);
    attempt++;
    // A normal end (idle timeout) is reopened quietly the first time; errors show the banner.
    if (err !== undefined || attempt > 1) {
      lost = true;
      opts.monitor?.reconnecting(id, opts.label ?? 'live updates', Date.now() + delay);
    }
    retryTimer = setTimeout(connect, delay);
  };

  function connect() {
    retryTimer = undefined;
    if (stopped) return;
    let ended = false;
    sub = open().subscribe({
      next: (v) => {
        healthy();
        opts.next(v);
      },
      error: (e: unknown) => {
        ended = true;
        const err = toApiError(e);
        if (PERMANENT.has(err.code)) {
          stopped = true;
          opts.monitor?.live(id);
          opts.onError?.(err);
          return;
        }
        // A stream closed for idling (the gateway's idle timeout) is reopened like a normal end.
        retry(err.code === Code.DEADLINE_EXCEEDED && err.retryAfterSeconds === undefined ? undefined : err);
      },
      complete: () => {
        ended = true;
        if (reconnectOnComplete) retry(undefined);
        else {
          stopped = true;
          opts.monitor?.live(id);
          opts.onComplete?.();
        }
      },
    });
    if (!ended && !stopped) healthyTimer = setTimeout(healthy, healthyAfter);
  }

  connect();
  return () => {
    stopped = true;
    if (retryTimer !== undefined) clearTimeout(retryTimer);
    if (healthyTimer !== undefined) clearTimeout(healthyTimer);
    sub?.unsubscribe();
    opts.monitor?.live(id);
  };
}
