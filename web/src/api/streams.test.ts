import { Subject, type Observable } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, Code } from './errors';
import { backoffDelay, ConnectionMonitor, watchStream } from './streams';

/** A stream factory whose every opening is a Subject the test drives. */
function streams<T>() {
  const opened: Subject<T>[] = [];
  const open = (): Observable<T> => {
    const s = new Subject<T>();
    opened.push(s);
    return s;
  };
  return { opened, open };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('backoffDelay', () => {
  it('doubles from the base up to the ceiling, scaled by jitter', () => {
    expect([0, 1, 2, 3, 10].map((a) => backoffDelay(a, 1000, 30_000, () => 0.999999))).toEqual([1000, 2000, 4000, 8000, 30_000]);
    expect(backoffDelay(3, 1000, 30_000, () => 0)).toBe(4000);
  });
});

describe('watchStream', () => {
  it('delivers messages, reopens after a transport error with backoff, and shows then clears the banner', () => {
    const { opened, open } = streams<number>();
    const monitor = new ConnectionMonitor();
    const got: number[] = [];
    const reconnected = vi.fn();
    const stop = watchStream(open, { next: (v) => got.push(v), monitor, label: 'seat counts', random: () => 0.999999, onReconnected: reconnected });
    opened[0].next(1);
    opened[0].error(new ApiError(Code.UNKNOWN, 'Response closed without headers'));
    expect(monitor.snapshot().reconnecting).toBe(true);
    expect(monitor.snapshot().labels).toEqual(['seat counts']);
    expect(opened).toHaveLength(1);
    vi.advanceTimersByTime(999);
    expect(opened).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(opened).toHaveLength(2);
    // Fails again at once: the next wait doubles.
    opened[1].error(new ApiError(Code.UNAVAILABLE, 'upstream down'));
    vi.advanceTimersByTime(1999);
    expect(opened).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(opened).toHaveLength(3);
    opened[2].next(2);
    expect(got).toEqual([1, 2]);
    expect(monitor.snapshot().reconnecting).toBe(false);
    expect(reconnected).toHaveBeenCalledOnce();
    stop();
    expect(opened[2].observed).toBe(false);
  });

  it('counts a reopened stream as live after it stays open a while without messages', () => {
    const { opened, open } = streams<number>();
    const monitor = new ConnectionMonitor();
    watchStream(open, { next: () => undefined, monitor, random: () => 0, healthyAfterMs: 3000 });
    opened[0].error(new ApiError(Code.UNKNOWN, 'network'));
    vi.advanceTimersByTime(500);
    expect(monitor.snapshot().reconnecting).toBe(true);
    vi.advanceTimersByTime(3000);
    expect(monitor.snapshot().reconnecting).toBe(false);
  });

  it('waits at least as long as retry-after says when rate limited', () => {
    const { opened, open } = streams<number>();
    watchStream(open, { next: () => undefined, random: () => 0 });
    opened[0].error(new ApiError(Code.RESOURCE_EXHAUSTED, 'slow down', undefined, {}, [], 10));
    vi.advanceTimersByTime(9999);
    expect(opened).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(opened).toHaveLength(2);
  });

  it('stops and reports a permanent error instead of retrying', () => {
    const { opened, open } = streams<number>();
    const monitor = new ConnectionMonitor();
    const onError = vi.fn();
    watchStream(open, { next: () => undefined, onError, monitor });
    opened[0].error(new ApiError(Code.PERMISSION_DENIED, 'no'));
    vi.advanceTimersByTime(60_000);
    expect(opened).toHaveLength(1);
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ code: Code.PERMISSION_DENIED }));
    expect(monitor.snapshot().reconnecting).toBe(false);
  });

  it('reopens a stream the server ended normally, quietly the first time', () => {
    const { opened, open } = streams<number>();
    const monitor = new ConnectionMonitor();
    watchStream(open, { next: () => undefined, monitor, random: () => 0 });
    opened[0].complete();
    expect(monitor.snapshot().reconnecting).toBe(false);
    vi.advanceTimersByTime(500);
    expect(opened).toHaveLength(2);
  });

  it('reopens a stream closed for idling quietly, like a normal end', () => {
    const { opened, open } = streams<number>();
    const monitor = new ConnectionMonitor();
    watchStream(open, { next: () => undefined, monitor, random: () => 0 });
    opened[0].error(new ApiError(Code.DEADLINE_EXCEEDED, 'the stream was idle too long', 'DEADLINE_EXCEEDED'));
    expect(monitor.snapshot().reconnecting).toBe(false);
    vi.advanceTimersByTime(500);
    expect(opened).toHaveLength(2);
  });

  it('does not reopen a finished stream when told not to', () => {
    const { opened, open } = streams<number>();
    const onComplete = vi.fn();
    watchStream(open, { next: () => undefined, reconnectOnComplete: false, onComplete });
    opened[0].complete();
    vi.advanceTimersByTime(60_000);
    expect(opened).toHaveLength(1);
    expect(onComplete).toHaveBeenCalledOnce();
  });

  it('stops retrying once stopped', () => {
    const { opened, open } = streams<number>();
    const monitor = new ConnectionMonitor();
    const stop = watchStream(open, { next: () => undefined, monitor });
    opened[0].error(new ApiError(Code.UNKNOWN, 'network'));
    stop();
    vi.advanceTimersByTime(60_000);
    expect(opened).toHaveLength(1);
    expect(monitor.snapshot().reconnecting).toBe(false);
  });
});
