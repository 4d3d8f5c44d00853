import type { SeatCounts } from '../api/seatFeed';
import { seatsOpen } from '../api/seatFeed';
import type { StorageLike } from '../api/session';

export interface SeatAlert {
  sectionId: string;
  label: string;
  /** watching: waiting for a seat; open: a seat opened (the student was told). */
  status: 'watching' | 'open';
  createdAt: number;
  openedAt?: number;
}

interface FeedLike {
  subscribe(sectionId: string, listener: (c: SeatCounts) => void, priority?: number): () => void;
}

/**
 * Seat alerts on full sections: each watched section is followed on the seat feed,
 * and when a seat opens the student is told once (in the page, and by a browser
 * notification if they allowed it). Kept in local storage per student.
 */
export class SeatAlerts {
  private alerts: SeatAlert[] = [];
  private readonly stops = new Map<string, () => void>();
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly feed: FeedLike,
    private readonly storage: StorageLike | null,
    private readonly key: string,
    private readonly notify: (alert: SeatAlert) => void,
  ) {
    try {
      const raw = storage?.getItem(key);
      const parsed = raw ? (JSON.parse(raw) as SeatAlert[]) : [];
      this.alerts = Array.isArray(parsed) ? parsed.filter((a) => typeof a.sectionId === 'string') : [];
    } catch {
      this.alerts = [];
    }
  }

  /** Starts following the stored alerts (again, after dispose). */
  start(): void {
    for (const a of this.alerts) if (a.status === 'watching') this.watch(a.sectionId);
  }

  snapshot = (): SeatAlert[] => this.alerts;

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  has(sectionId: string): boolean {
    return this.alerts.some((a) => a.sectionId === sectionId);
  }

  add(sectionId: string, label: string): void {
    this.alerts = [...this.alerts.filter((a) => a.sectionId !== sectionId), { sectionId, label, status: 'watching', createdAt: Date.now() }];
    this.save();
    this.watch(sectionId);
  }

  remove(sectionId: string): void {
    this.stops.get(sectionId)?.();
    this.stops.delete(sectionId);
    this.alerts = this.alerts.filter((a) => a.sectionId !== sectionId);
    this.save();
  }

  /** Stops following every section (alerts stay stored). */
  dispose(): void {
    for (const stop of this.stops.values()) stop();
    this.stops.clear();
  }

  private watch(sectionId: string) {
    if (this.stops.has(sectionId)) return;
    const stop = this.feed.subscribe(
      sectionId,
      (c) => {
        const alert = this.alerts.find((a) => a.sectionId === sectionId);
        if (!alert || alert.status !== 'watching' || seatsOpen(c) === 0) return;
        const opened: SeatAlert = { ...alert, status: 'open', openedAt: Date.now() };
        this.alerts = this.alerts.map((a) => (a.sectionId === sectionId ? opened : a));
        this.save();
        // Stop following once told; the student can register or watch again.
        queueMicrotask(() => {
          this.stops.get(sectionId)?.();
          this.stops.delete(sectionId);
        });
        this.notify(opened);
      },
      1,
    );
    this.stops.set(sectionId, stop);
  }

  private save() {
    this.storage?.setItem(this.key, JSON.stringify(this.alerts));
    for (const fn of [...this.listeners]) fn();
  }
}
