import { DayOfWeek, type MeetingTime } from '../../../gen/web/coursereg/course/v1/course';
import { WEEK, parseHHMM } from './time';

/** One section to place on the week. */
export interface CalendarItem {
  id: string;
  /** e.g. "CS 101 · 001". */
  label: string;
  /** e.g. "Enrolled", "Waitlisted #3". */
  status: string;
  /** For styling: enrolled, waitlisted, pending, cart. */
  tone: string;
  meetings: readonly MeetingTime[];
}

/** One meeting of one item on one day, placed in the grid. */
export interface CalendarBlock {
  key: string;
  itemId: string;
  day: DayOfWeek;
  start: number;
  end: number;
  /** Position within the visible hours, in percent of the column's height. */
  topPct: number;
  heightPct: number;
  /** Side-by-side placement among blocks that overlap in time: lane of laneCount. */
  lane: number;
  laneCount: number;
  /** True when it overlaps another item's block. */
  conflict: boolean;
  item: CalendarItem;
  room: string;
}

export interface WeekLayout {
  days: DayOfWeek[];
  /** Visible range, minutes after midnight, on whole hours. */
  startMinute: number;
  endMinute: number;
  /** Whole hours for gridlines and labels. */
  hours: number[];
  blocks: CalendarBlock[];
  /** Items with no (readable) meeting times, to list under the grid. */
  unscheduled: CalendarItem[];
}

const WEEKDAYS = WEEK.slice(0, 5);

/**
 * Lays out a week: Monday to Friday always, Saturday and Sunday only when something
 * meets then; hours from the earliest start to the latest end (at least 08:00–17:00),
 * and overlapping meetings side by side in lanes, marked as conflicts.
 */
export function layoutWeek(items: readonly CalendarItem[], defaults = { startMinute: 8 * 60, endMinute: 17 * 60 }): WeekLayout {
  const raw: Omit<CalendarBlock, 'topPct' | 'heightPct' | 'lane' | 'laneCount' | 'conflict'>[] = [];
  const unscheduled: CalendarItem[] = [];
  for (const item of items) {
    let placed = false;
    item.meetings.forEach((m, mi) => {
      const start = parseHHMM(m.startTime);
      const end = parseHHMM(m.endTime);
      if (Number.isNaN(start) || Number.isNaN(end) || end <= start) return;
      for (const day of new Set(m.days)) {
        if (!WEEK.includes(day)) continue;
        raw.push({ key: `${item.id}:${mi}:${day}`, itemId: item.id, day, start, end, item, room: m.room });
        placed = true;
      }
    });
    if (!placed) unscheduled.push(item);
  }

  const days = [...WEEKDAYS];
  for (const weekend of [DayOfWeek.DAY_OF_WEEK_SATURDAY, DayOfWeek.DAY_OF_WEEK_SUNDAY]) {
    if (raw.some((b) => b.day === weekend)) days.push(weekend);
  }
  const startMinute = Math.min(defaults.startMinute, ...raw.map((b) => Math.floor(b.start / 60) * 60));
  const endMinute = Math.max(defaults.endMinute, ...raw.map((b) => Math.ceil(b.end / 60) * 60));
  const span = endMinute - startMinute;
  const hours: number[] = [];
  for (let m = startMinute; m <= endMinute; m += 60) hours.push(m / 60);

  const blocks: CalendarBlock[] = [];
  for (const day of days) {
    const ofDay = raw.filter((b) => b.day === day).sort((a, b) => a.start - b.start || b.end - a.end || a.key.localeCompare(b.key));
    // Clusters of transitively overlapping blocks share a lane count.
    let cluster: (typeof blocks)[number][] = [];
    let clusterEnd = -1;
    let laneEnds: number[] = [];
    const flush = () => {
      for (const b of cluster) b.laneCount = laneEnds.length;
      cluster = [];
      laneEnds = [];
    };
    for (const r of ofDay) {
      if (r.start >= clusterEnd) {
        flush();
        clusterEnd = -1;
      }
      let lane = laneEnds.findIndex((end) => end <= r.start);
      if (lane === -1) {
        lane = laneEnds.length;
        laneEnds.push(r.end);
      } else laneEnds[lane] = r.end;
      const block: CalendarBlock = {
        ...r,
        topPct: ((r.start - startMinute) / span) * 100,
        heightPct: ((r.end - r.start) / span) * 100,
        lane,
        laneCount: 1,
        conflict: ofDay.some((o) => o.itemId !== r.itemId && o.start < r.end && r.start < o.end),
      };
      cluster.push(block);
      blocks.push(block);
      clusterEnd = Math.max(clusterEnd, r.end);
    }
    flush();
  }
  return { days, startMinute, endMinute, hours, blocks, unscheduled };
}
