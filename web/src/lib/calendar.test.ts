import { describe, expect, it } from 'vitest';
import { DayOfWeek } from '../../../gen/web/coursereg/course/v1/course';
import { layoutWeek, type CalendarItem } from './calendar';

const { DAY_OF_WEEK_MONDAY: MON, DAY_OF_WEEK_WEDNESDAY: WED, DAY_OF_WEEK_SATURDAY: SAT } = DayOfWeek;

const item = (id: string, days: DayOfWeek[], startTime: string, endTime: string, room = ''): CalendarItem => ({ id, label: id, status: 'Enrolled', tone: 'enrolled', meetings: [{ days, startTime, endTime, room }] });

describe('layoutWeek', () => {
  it('shows Monday to Friday from 08:00 to 17:00 when nothing falls outside', () => {
    const w = layoutWeek([item('a', [MON, WED], '09:00', '10:00')]);
    expect(w.days).toEqual([1, 2, 3, 4, 5]);
    expect([w.startMinute, w.endMinute]).toEqual([480, 1020]);
    expect(w.hours[0]).toBe(8);
    expect(w.hours[w.hours.length - 1]).toBe(17);
  });

  it('places a block by its time within the visible hours', () => {
    const w = layoutWeek([item('a', [MON], '09:00', '10:30', 'ENG 120')]);
    expect(w.blocks).toHaveLength(1);
    const b = w.blocks[0];
    expect(b.day).toBe(MON);
    expect(b.topPct).toBeCloseTo((60 / 540) * 100);
    expect(b.heightPct).toBeCloseTo((90 / 540) * 100);
    expect(b.room).toBe('ENG 120');
    expect([b.lane, b.laneCount, b.conflict]).toEqual([0, 1, false]);
  });

  it('widens the hours to whole hours around early and late meetings, and adds Saturday when used', () => {
    const w = layoutWeek([item('early', [MON], '07:30', '08:20'), item('late', [SAT], '18:10', '19:40')]);
    expect(w.startMinute).toBe(420);
    expect(w.endMinute).toBe(1200);
    expect(w.days).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('puts overlapping meetings side by side and marks them as conflicts', () => {
    const w = layoutWeek([item('a', [MON], '09:00', '10:00'), item('b', [MON], '09:30', '10:30'), item('c', [MON], '11:00', '12:00'), item('d', [WED], '09:00', '10:00')]);
    const on = (id: string) => w.blocks.find((b) => b.itemId === id)!;
    expect([on('a').lane, on('a').laneCount, on('a').conflict]).toEqual([0, 2, true]);
    expect([on('b').lane, on('b').laneCount, on('b').conflict]).toEqual([1, 2, true]);
    expect([on('c').lane, on('c').laneCount, on('c').conflict]).toEqual([0, 1, false]);
    expect([on('d').lane, on('d').laneCount, on('d').conflict]).toEqual([0, 1, false]);
  });

  it('reuses a lane that has become free within a cluster', () => {
    // a overlaps b and c; b and c do not overlap each other: two lanes, c reuses b's.
    const w = layoutWeek([item('a', [MON], '09:00', '12:00'), item('b', [MON], '09:00', '10:00'), item('c', [MON], '10:00', '11:00')]);
    const on = (id: string) => w.blocks.find((b) => b.itemId === id)!;
    expect(on('a').lane).toBe(0);
    expect(on('b').lane).toBe(1);
    expect(on('c').lane).toBe(1);
    expect(new Set(w.blocks.map((b) => b.laneCount))).toEqual(new Set([2]));
  });

  it('does not call back-to-back meetings a conflict', () => {
    const w = layoutWeek([item('a', [MON], '09:00', '09:50'), item('b', [MON], '09:50', '10:40')]);
    expect(w.blocks.every((b) => !b.conflict && b.laneCount === 1)).toBe(true);
  });

  it('lists items without readable meetings separately', () => {
    const online: CalendarItem = { id: 'online', label: 'online', status: 'Enrolled', tone: 'enrolled', meetings: [] };
    const broken = item('broken', [MON], '10:00', '09:00');
    const w = layoutWeek([online, broken]);
    expect(w.blocks).toEqual([]);
    expect(w.unscheduled.map((i) => i.id)).toEqual(['online', 'broken']);
  });
});
