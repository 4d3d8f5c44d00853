import { describe, expect, it } from 'vitest';
import { DayOfWeek } from '../../../gen/web/coursereg/course/v1/course';
import { conflictIndex, conflictsWith, describeConflict, findConflicts, type TimedItem } from './conflicts';

const { DAY_OF_WEEK_MONDAY: MON, DAY_OF_WEEK_TUESDAY: TUE, DAY_OF_WEEK_WEDNESDAY: WED, DAY_OF_WEEK_THURSDAY: THU, DAY_OF_WEEK_FRIDAY: FRI } = DayOfWeek;

const item = (id: string, ...meetings: [DayOfWeek[], string, string][]): TimedItem => ({
  id,
  label: id,
  meetings: meetings.map(([days, startTime, endTime]) => ({ days, startTime, endTime, room: '' })),
});

describe('findConflicts', () => {
  it('finds two sections overlapping on a shared day, once per shared day', () => {
    const a = item('CS 101 section 001', [[MON, WED, FRI], '09:00', '09:50']);
    const b = item('MATH 120 section 002', [[MON, WED], '09:30', '10:45']);
    const found = findConflicts([a, b]);
    expect(found.map((c) => [c.a.id, c.b.id, c.day, c.start, c.end])).toEqual([
      ['CS 101 section 001', 'MATH 120 section 002', MON, 570, 590],
      ['CS 101 section 001', 'MATH 120 section 002', WED, 570, 590],
    ]);
    expect(describeConflict(found[0])).toBe('Overlaps MATH 120 section 002 on Mon 09:30–09:50.');
  });

  it('does not flag back-to-back meetings', () => {
    expect(findConflicts([item('a', [[MON], '09:00', '09:50']), item('b', [[MON], '09:50', '10:40'])])).toEqual([]);
  });

  it('does not flag the same times on different days', () => {
    expect(findConflicts([item('a', [[MON, WED, FRI], '09:00', '09:50']), item('b', [[TUE, THU], '09:00', '10:15'])])).toEqual([]);
  });

  it('finds a clash in any meeting of a multi-meeting section (lecture plus lab)', () => {
    const lecture = item('lecture', [[MON, WED], '10:00', '11:15'], [[FRI], '14:00', '16:50']);
    const other = item('other', [[FRI], '16:00', '17:15']);
    expect(findConflicts([lecture, other]).map((c) => c.day)).toEqual([FRI]);
  });

  it('ignores the same section listed twice and unreadable times', () => {
    const a = item('a', [[MON], '09:00', '09:50']);
    expect(findConflicts([a, a])).toEqual([]);
    expect(findConflicts([a, item('b', [[MON], 'nine', '10:00'])])).toEqual([]);
  });

  it('checks every pair among many items', () => {
    const items = [item('a', [[MON], '09:00', '10:00']), item('b', [[MON], '09:30', '10:30']), item('c', [[MON], '10:15', '11:00']), item('d', [[TUE], '09:00', '10:00'])];
    const pairs = findConflicts(items).map((c) => `${c.a.id}-${c.b.id}`);
    expect(pairs).toEqual(['a-b', 'b-c']);
    const index = conflictIndex(findConflicts(items));
    expect([...index.get('b')!]).toEqual(['a', 'c']);
    expect(index.has('d')).toBe(false);
  });
});

describe('conflictsWith', () => {
  it('compares a candidate with what the student already holds, candidate first', () => {
    const held = [item('held', [[TUE, THU], '11:00', '12:15'])];
    const found = conflictsWith(item('new', [[THU], '12:00', '13:00']), held);
    expect(found).toHaveLength(1);
    expect(found[0].a.id).toBe('new');
    expect(found[0].b.id).toBe('held');
    expect(conflictsWith(item('held', [[TUE], '11:00', '12:00']), held)).toEqual([]);
  });
});
