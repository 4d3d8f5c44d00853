import { DayOfWeek, type MeetingTime } from '../../../gen/web/coursereg/course/v1/course';

/** Monday to Sunday, in calendar order. */
export const WEEK: readonly DayOfWeek[] = [
  DayOfWeek.DAY_OF_WEEK_MONDAY,
  DayOfWeek.DAY_OF_WEEK_TUESDAY,
  DayOfWeek.DAY_OF_WEEK_WEDNESDAY,
  DayOfWeek.DAY_OF_WEEK_THURSDAY,
  DayOfWeek.DAY_OF_WEEK_FRIDAY,
  DayOfWeek.DAY_OF_WEEK_SATURDAY,
  DayOfWeek.DAY_OF_WEEK_SUNDAY,
];

const SHORT: Record<number, string> = { 1: 'Mon', 2: 'Tue', 3: 'Wed', 4: 'Thu', 5: 'Fri', 6: 'Sat', 7: 'Sun' };
const LONG: Record<number, string> = { 1: 'Monday', 2: 'Tuesday', 3: 'Wednesday', 4: 'Thursday', 5: 'Friday', 6: 'Saturday', 7: 'Sunday' };

export const dayShort = (d: DayOfWeek) => SHORT[d] ?? '?';
export const dayLong = (d: DayOfWeek) => LONG[d] ?? 'Unknown day';

/** "09:30" → 570 minutes after midnight; NaN when malformed. */
export function parseHHMM(s: string): number {
  const m = /^(\d{1,2}):(\d{2})$/.exec(s.trim());
  if (!m) return Number.NaN;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (h > 24 || min > 59) return Number.NaN;
  return h * 60 + min;
}

/** 570 → "09:30". */
export function formatMinutes(total: number): string {
  const h = Math.floor(total / 60);
  const m = total % 60;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`;
}

/** "Mon, Wed, Fri 09:00–09:50 · ENG 120". */
export function formatMeeting(m: MeetingTime): string {
  const days = [...m.days].sort((a, b) => a - b).map(dayShort).join(', ');
  return `${days} ${m.startTime}–${m.endTime}${m.room ? ` · ${m.room}` : ''}`;
}

export function formatMeetings(ms: readonly MeetingTime[]): string {
  return ms.length === 0 ? 'No scheduled meetings' : ms.map(formatMeeting).join('; ');
}

/** A Date as the value of an <input type="datetime-local"> in local time. */
export function toDateTimeLocal(d: Date | undefined): string {
  if (!d) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function formatDateTime(d: Date | undefined): string {
  if (!d) return '—';
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}
