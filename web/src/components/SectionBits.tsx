import type { MeetingTime, Section } from '../../../gen/web/coursereg/course/v1/course';
import { SectionKind, SectionStatus } from '../../../gen/web/coursereg/course/v1/course';
import { seatsOpen, type SeatCounts } from '../api/seatFeed';
import { formatMeeting } from '../lib/time';

export const sectionLabel = (s: { courseCode: string; sectionCode: string }) => `${s.courseCode} section ${s.sectionCode}`;

export function kindLabel(k: SectionKind): string {
  switch (k) {
    case SectionKind.SECTION_KIND_LECTURE:
      return 'Lecture';
    case SectionKind.SECTION_KIND_LAB:
      return 'Lab';
    case SectionKind.SECTION_KIND_DISCUSSION:
      return 'Discussion';
    case SectionKind.SECTION_KIND_SEMINAR:
      return 'Seminar';
    default:
      return 'Section';
  }
}

export function statusLabel(s: SectionStatus): string {
  switch (s) {
    case SectionStatus.SECTION_STATUS_OPEN:
      return 'Open';
    case SectionStatus.SECTION_STATUS_CLOSED:
      return 'Closed';
    case SectionStatus.SECTION_STATUS_CANCELLED:
      return 'Cancelled';
    default:
      return 'Unknown';
  }
}

/** Meeting times as a short list. */
export function MeetingTimes({ meetings }: { meetings: readonly MeetingTime[] }) {
  if (meetings.length === 0) return <span className="muted">No scheduled meetings</span>;
  return (
    <ul className="meetings">
      {meetings.map((m, i) => (
        <li key={i}>{formatMeeting(m)}</li>
      ))}
    </ul>
  );
}

export function countsOf(s: Section): SeatCounts {
  return { sectionId: s.id, capacity: s.capacity, enrolledCount: s.enrolledCount, waitlistCapacity: s.waitlistCapacity, waitlistedCount: s.waitlistedCount, live: false };
}

/** "5 of 30 seats open · waitlist 0 of 10". */
export function seatText(c: SeatCounts): string {
  const open = seatsOpen(c);
  const unit = c.capacity === 1 ? 'seat' : 'seats';
  const seats = open === 0 ? `Full (${c.enrolledCount} of ${c.capacity} ${unit} taken)` : `${open} of ${c.capacity} ${unit} open`;
  return `${seats} · waitlist ${c.waitlistedCount} of ${c.waitlistCapacity}`;
}

/** Seat counts, with a "live" marker when they come from the WatchSection stream. */
export function Seats({ counts }: { counts: SeatCounts }) {
  return (
    <span className={`seats${seatsOpen(counts) === 0 ? ' seats-full' : ''}`} data-testid="seat-counts" data-open={seatsOpen(counts)}>
      {seatText(counts)}
      {counts.live ? <span className="live-dot" title="Live"> · live</span> : null}
    </span>
  );
}
