import type { Api } from './client';
import { watchStream, type ConnectionMonitor } from './streams';

/** A section's seat and waitlist counts at one moment. */
export interface SeatCounts {
  sectionId: string;
  capacity: number;
  enrolledCount: number;
  waitlistCapacity: number;
  waitlistedCount: number;
  /** True when pushed by WatchSection, false when polled. */
  live: boolean;
}

export const seatsOpen = (c: Pick<SeatCounts, 'capacity' | 'enrolledCount'>) => Math.max(0, c.capacity - c.enrolledCount);

type Listener = (counts: SeatCounts) => void;

interface Entry {
  subs: Map<object, { listener: Listener; priority: number }>;
  order: number;
  stop?: () => void;
  latest?: SeatCounts;
}

export interface SeatFeedOptions {
  monitor?: ConnectionMonitor;
  /**
   * Most WatchSection streams open at once. Over HTTP/1.1 a browser allows about six
   * connections per origin and every stream holds one, so the rest are polled.
   */
  maxStreams?: number;
  pollMs?: number;
}

/**
 * Live seat counts for any number of sections, shared between components: one
 * WatchSection stream per section for the most important few, one batched
 * BatchGetSections poll for the rest.
 *
 * @example
 *   const stop = feed.subscribe(sectionId, (c) => setSeats(c), 10); // priority 10: the section being viewed
 *   feed.subscribe(otherId, setOther, -1); // negative priority: always polled, never a stream
 */
export class SeatFeed {
  private readonly entries = new Map<string, Entry>();
  private seq = 0;
  private pollTimer: ReturnType<typeof setInterval> | undefined;
  private readonly maxStreams: number;
  private readonly pollMs: number;

  constructor(
    private readonly api: Pick<Api, 'course' | 'registration'>,
    private readonly opts: SeatFeedOptions = {},
  ) {
    this.maxStreams = opts.maxStreams ?? 3;
    this.pollMs = opts.pollMs ?? 15_000;
  }

  subscribe(sectionId: string, listener: Listener, priority = 0): () => void {
    let entry = this.entries.get(sectionId);
    if (!entry) {
      entry = { subs: new Map(), order: this.seq++ };
      this.entries.set(sectionId, entry);
    }
    const token = {};
    entry.subs.set(token, { listener, priority });
    if (entry.latest) listener(entry.latest);
    this.reconcile();
    return () => {
      const e = this.entries.get(sectionId);
      if (!e) return;
      e.subs.delete(token);
      if (e.subs.size === 0) {
        e.stop?.();
        this.entries.delete(sectionId);
      }
      this.reconcile();
    };
  }

  /**
   * Reads the counts of sections that are polled rather than streamed now, instead of at the
   * next poll: after this client's own request for one of them is decided, its counts changed.
   */
  refresh(sectionIds: readonly string[]): Promise<void> {
    return this.poll(sectionIds.filter((id) => this.entries.has(id)));
  }

  latest(sectionId: string): SeatCounts | undefined {
    return this.entries.get(sectionId)?.latest;
  }

  /** Stops every stream and poll. */
  close(): void {
    for (const e of this.entries.values()) e.stop?.();
    this.entries.clear();
    this.reconcile();
  }

  private emit(sectionId: string, counts: SeatCounts) {
    const e = this.entries.get(sectionId);
    if (!e) return;
    e.latest = counts;
    for (const { listener } of [...e.subs.values()]) listener(counts);
  }

  private reconcile() {
    const priority = (e: Entry) => Math.max(...[...e.subs.values()].map((s) => s.priority));
    const ranked = [...this.entries.entries()].sort(([, a], [, b]) => priority(b) - priority(a) || a.order - b.order);
    const polled: string[] = [];
    ranked.forEach(([id, e], i) => {
      if (i < this.maxStreams && priority(e) >= 0) {
        if (!e.stop) e.stop = this.stream(id);
      } else {
        if (e.stop) {
          e.stop();
          e.stop = undefined;
        }
        polled.push(id);
      }
    });
    if (polled.length === 0 && this.pollTimer !== undefined) {
      clearInterval(this.pollTimer);
      this.pollTimer = undefined;
    } else if (polled.length > 0 && this.pollTimer === undefined) {
      this.pollTimer = setInterval(() => void this.poll(), this.pollMs);
      void this.poll();
    }
  }

  private stream(sectionId: string): () => void {
    return watchStream(() => this.api.registration.WatchSection({ sectionId }), {
      monitor: this.opts.monitor,
      label: 'seat counts',
      next: (m) => {
        if (m.seats) this.emit(sectionId, { ...m.seats, sectionId, live: true });
      },
    });
  }

  private async poll(only?: readonly string[]) {
    const ids = (only ?? [...this.entries.keys()]).filter((id) => !this.entries.get(id)?.stop);
    for (let i = 0; i < ids.length; i += 200) {
      try {
        const { sections } = await this.api.course.BatchGetSections({ ids: ids.slice(i, i + 200) });
        for (const s of sections) {
          if (this.entries.get(s.id)?.stop) continue;
          this.emit(s.id, { sectionId: s.id, capacity: s.capacity, enrolledCount: s.enrolledCount, waitlistCapacity: s.waitlistCapacity, waitlistedCount: s.waitlistedCount, live: false });
        }
      } catch {
        // The next poll tries again; streams report connection trouble.
      }
    }
  }
}
