import type { DayOfWeek, MeetingTime } from '../../../gen/web/coursereg/course/v1/course';
import { dayShort, formatMinutes, parseHHMM } from './time';

/** Something that meets at set times: a section in the cart, on the schedule, or being considered. */
export interface TimedItem {
  id: string;
  /** How to name it to the student, e.g. "CS 101 section 001". */
  label: string;
  meetings: readonly MeetingTime[];
}

/** Two items meeting at the same time on one day. */
export interface Conflict {
  a: TimedItem;
  b: TimedItem;
  day: DayOfWeek;
  /** The overlap, minutes after midnight. */
  start: number;
  end: number;
}

function overlaps(a: TimedItem, b: TimedItem): Conflict[] {
  const out: Conflict[] = [];
  for (const m of a.meetings) {
    const ms = parseHHMM(m.startTime);
    const me = parseHHMM(m.endTime);
    if (Number.isNaN(ms) || Number.isNaN(me)) continue;
    for (const n of b.meetings) {
      const ns = parseHHMM(n.startTime);
      const ne = parseHHMM(n.endTime);
      if (Number.isNaN(ns) || Number.isNaN(ne)) continue;
      // Back-to-back meetings (one ends when the other starts) do not conflict.
      if (!(ms < ne && ns < me)) continue;
      for (const d of m.days) {
        if (n.days.includes(d)) out.push({ a, b, day: d, start: Math.max(ms, ns), end: Math.min(me, ne) });
      }
    }
  }
  return out;
}

/**
 * Every pair of items whose meetings overlap, one entry per pair and day (the same
 * rule the registration workers apply: a shared day and overlapping times).
 *
 * @example findConflicts([cs101, math120, cs101lab]) // → [{ a: cs101, b: math120, day: MONDAY, ... }]
 */
export function findConflicts(items: readonly TimedItem[]): Conflict[] {
  const out: Conflict[] = [];
  for (let i = 0; i < items.length; i++) {
    for (let j = i + 1; j < items.length; j++) {
      if (items[i].id === items[j].id) continue;
      out.push(...overlaps(items[i], items[j]));
    }
  }
  return out;
}

/** The conflicts between one candidate and items already held (the candidate is always `a`). */
export function conflictsWith(candidate: TimedItem, others: readonly TimedItem[]): Conflict[] {
  return others.filter((o) => o.id !== candidate.id).flatMap((o) => overlaps(candidate, o));
}

/** Ids of the items that take part in any conflict, with the labels they clash with. */
export function conflictIndex(conflicts: readonly Conflict[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const add = (id: string, label: string) => {
    if (!out.has(id)) out.set(id, new Set());
    out.get(id)!.add(label);
  };
  for (const c of conflicts) {
    add(c.a.id, c.b.label);
    add(c.b.id, c.a.label);
  }
  return out;
}

/** "Overlaps MATH 120 section 002 on Mon 09:00–09:50." */
export function describeConflict(c: Conflict): string {
  return `Overlaps ${c.b.label} on ${dayShort(c.day)} ${formatMinutes(c.start)}–${formatMinutes(c.end)}.`;
}
