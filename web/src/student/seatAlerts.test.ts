import { describe, expect, it, vi } from 'vitest';
import type { SeatCounts } from '../api/seatFeed';
import { memoryStorage } from '../test/fakes';
import { SeatAlerts, type SeatAlert } from './seatAlerts';

function fakeFeed() {
  const listeners = new Map<string, (c: SeatCounts) => void>();
  return {
    listeners,
    subscribe: vi.fn((id: string, l: (c: SeatCounts) => void) => {
      listeners.set(id, l);
      return () => listeners.delete(id);
    }),
    push: (id: string, enrolled: number) => listeners.get(id)?.({ sectionId: id, capacity: 30, enrolledCount: enrolled, waitlistCapacity: 5, waitlistedCount: 5, live: true }),
  };
}

describe('SeatAlerts', () => {
  it('tells the student once when a seat opens in a full section, then stops watching', async () => {
    const feed = fakeFeed();
    const told: SeatAlert[] = [];
    const storage = memoryStorage();
    const alerts = new SeatAlerts(feed, storage, 'k', (a) => told.push(a));
    alerts.add('s1', 'CS 101 section 001');
    feed.push('s1', 30);
    expect(told).toEqual([]);
    feed.push('s1', 29);
    feed.push('s1', 28);
    expect(told.map((a) => [a.label, a.status])).toEqual([['CS 101 section 001', 'open']]);
    await Promise.resolve();
    expect(feed.listeners.has('s1')).toBe(false);
    expect(JSON.parse(storage.getItem('k')!)[0].status).toBe('open');
  });

  it('keeps alerts across page loads and resumes watching them', () => {
    const storage = memoryStorage();
    const first = new SeatAlerts(fakeFeed(), storage, 'k', () => undefined);
    first.add('s1', 'CS 101 section 001');
    const feed = fakeFeed();
    const again = new SeatAlerts(feed, storage, 'k', () => undefined);
    again.start();
    expect(again.has('s1')).toBe(true);
    expect(feed.subscribe).toHaveBeenCalledWith('s1', expect.any(Function), 1);
    again.remove('s1');
    expect(again.snapshot()).toEqual([]);
    expect(feed.listeners.size).toBe(0);
  });
});
