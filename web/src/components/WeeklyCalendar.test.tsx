import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { DayOfWeek } from '../../../gen/web/coursereg/course/v1/course';
import type { CalendarItem } from '../lib/calendar';
import { WeeklyCalendar } from './WeeklyCalendar';

const { DAY_OF_WEEK_MONDAY: MON, DAY_OF_WEEK_WEDNESDAY: WED, DAY_OF_WEEK_FRIDAY: FRI } = DayOfWeek;

const items: CalendarItem[] = [
  { id: 's1', label: 'CS 101 · 001', status: 'Enrolled', tone: 'enrolled', meetings: [{ days: [MON, WED, FRI], startTime: '09:00', endTime: '09:50', room: 'ENG 120' }] },
  { id: 's2', label: 'MATH 120 · 002', status: 'Waitlisted — position 3', tone: 'waitlisted', meetings: [{ days: [MON], startTime: '09:30', endTime: '10:45', room: '' }] },
  { id: 's3', label: 'ART 100 · 001', status: 'Enrolled', tone: 'enrolled', meetings: [] },
];

describe('WeeklyCalendar', () => {
  it('lists each day with its meetings, marking clashes', () => {
    render(<WeeklyCalendar items={items} />);
    const cal = screen.getByTestId('weekly-calendar');
    const monday = within(cal).getByRole('region', { name: 'Monday' });
    const blocks = within(monday).getAllByTestId('calendar-block');
    expect(blocks.map((b) => b.getAttribute('data-item-id'))).toEqual(['s1', 's2']);
    expect(blocks[0].textContent).toContain('CS 101 · 001');
    expect(blocks[0].textContent).toContain('09:00–09:50');
    expect(blocks[0].textContent).toContain('ENG 120');
    expect(blocks.every((b) => b.className.includes('cal-conflict'))).toBe(true);
    expect(blocks[1].textContent).toContain('time conflict');

    const wednesday = within(cal).getByRole('region', { name: 'Wednesday' });
    const wed = within(wednesday).getAllByTestId('calendar-block');
    expect(wed).toHaveLength(1);
    expect(wed[0].className).not.toContain('cal-conflict');
    expect(within(cal).getByRole('region', { name: 'Tuesday' }).textContent).toContain('Nothing scheduled');
    expect(within(cal).queryByRole('region', { name: 'Saturday' })).toBeNull();
  });

  it('lays overlapping blocks side by side', () => {
    render(<WeeklyCalendar items={items} />);
    const monday = screen.getByRole('region', { name: 'Monday' });
    const [a, b] = within(monday).getAllByTestId('calendar-block');
    expect([a.style.left, a.style.width]).toEqual(['0%', '50%']);
    expect([b.style.left, b.style.width]).toEqual(['50%', '50%']);
  });

  it('lists sections without meeting times under the grid', () => {
    render(<WeeklyCalendar items={items} />);
    expect(screen.getByTestId('calendar-unscheduled').textContent).toBe('ART 100 · 001 — Enrolled');
  });
});
