import { NEVER } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SeatFeed, type SeatCounts } from './seatFeed';

afterEach(() => vi.useRealTimers());

/** A course API whose BatchGetSections answers from `enrolled` and records each call's ids. */
function fakeApi(enrolled: Map<string, number>) {
  const calls: string[][] = [];
  const api = {
    course: {
      BatchGetSections: async ({ ids }: { ids: string[] }) => {
        calls.push(ids);
        return { sections: ids.map((id) => ({ id, capacity: 1, enrolledCount: enrolled.get(id) ?? 0, waitlistCapacity: 5, waitlistedCount: 0 })) };
      },
    },
    registration: { WatchSection: () => NEVER },
  };
  return { api: api as unknown as ConstructorParameters<typeof SeatFeed>[0], calls };
}

describe('SeatFeed.refresh', () => {
  it('reads a polled section at once instead of at the next poll', async () => {
    vi.useFakeTimers();
    const enrolled = new Map([['a', 0]]);
    const { api, calls } = fakeApi(enrolled);
    const feed = new SeatFeed(api, { maxStreams: 0, pollMs: 15_000 });
    const seen: SeatCounts[] = [];
    feed.subscribe('a', (c) => seen.push(c), -1);
    await vi.advanceTimersByTimeAsync(0);
    expect(seen.at(-1)?.enrolledCount).toBe(0);

    enrolled.set('a', 1);
    await feed.refresh(['a', 'not-watched']);
    expect(calls.at(-1)).toEqual(['a']);
    expect(seen.at(-1)?.enrolledCount).toBe(1);
    feed.close();
  });

  it('leaves streamed sections to their stream', async () => {
    const { api, calls } = fakeApi(new Map());
    const feed = new SeatFeed(api, { maxStreams: 1 });
    feed.subscribe('s', () => undefined, 10);
    await feed.refresh(['s']);
    expect(calls).toEqual([]);
    feed.close();
  });
});
