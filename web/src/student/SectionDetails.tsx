import { useEffect, useId, useRef, useState } from 'react';
import { SectionStatus, type Section } from '../../../gen/web/coursereg/course/v1/course';
import { useApi, useLoad } from '../api/context';
import { seatsOpen, type SeatCounts } from '../api/seatFeed';
import { ErrorNotice } from '../components/ErrorNotice';
import { countsOf, kindLabel, MeetingTimes, Seats, statusLabel } from '../components/SectionBits';
import { describePrerequisite } from '../lib/prerequisites';
import { labelOf, SectionActions } from './SectionActions';
import { useSeatAlerts, useStudent } from './StudentContext';

/** Live seat counts of one section, starting from what the caller already knows. */
export function useLiveSeats(section: Pick<Section, 'id'> & Partial<Section>, priority = 10): SeatCounts | undefined {
  const { seatFeed } = useStudent();
  const [counts, setCounts] = useState<SeatCounts | undefined>(() => (section.capacity !== undefined ? countsOf(section as Section) : undefined));
  useEffect(() => seatFeed.subscribe(section.id, setCounts, priority), [seatFeed, section.id, priority]);
  return counts;
}

/** "Alert me when a seat opens" for a full section; "Stop alert" once set. */
export function SeatAlertButton({ section, counts }: { section: Section; counts: SeatCounts | undefined }) {
  const { alerts } = useStudent();
  useSeatAlerts();
  const label = labelOf(section);
  if (alerts.has(section.id)) {
    return (
      <button type="button" onClick={() => alerts.remove(section.id)} aria-label={`Stop the seat alert for ${label}`} data-testid="seat-alert-button">
        Stop seat alert
      </button>
    );
  }
  if (!counts || seatsOpen(counts) > 0 || section.status === SectionStatus.SECTION_STATUS_CANCELLED) return null;
  return (
    <button
      type="button"
      onClick={() => {
        if (typeof Notification !== 'undefined' && Notification.permission === 'default') void Notification.requestPermission().catch(() => undefined);
        alerts.add(section.id, label);
      }}
      aria-label={`Alert me when a seat opens in ${label}`}
      data-testid="seat-alert-button"
    >
      Alert me when a seat opens
    </button>
  );
}

/**
 * A section's details: course description, prerequisites and corequisites, linked
 * sections, meeting times and live seat and waitlist counts (WatchSection).
 */
export function SectionDetails({ section, onClose }: { section: Section; onClose: () => void }) {
  const api = useApi();
  const headingId = useId();
  const heading = useRef<HTMLHeadingElement>(null);
  const counts = useLiveSeats(section, 10);
  const course = useLoad(() => api.course.GetCourse({ code: section.courseCode }), [api, section.courseCode]);
  const linked = useLoad(() => (section.linkedSectionIds.length > 0 ? api.course.BatchGetSections({ ids: section.linkedSectionIds }) : undefined), [api, section.id]);

  useEffect(() => heading.current?.focus(), [section.id]);

  const c = course.data?.course;
  return (
    <section className="card details" aria-labelledby={headingId} data-testid="section-details" data-section-id={section.id}>
      <div className="details-head">
        <h2 id={headingId} ref={heading} tabIndex={-1}>
          {section.courseCode} · {section.sectionCode} — {section.courseTitle}
        </h2>
        <button type="button" onClick={onClose} aria-label="Close section details">
          Close
        </button>
      </div>
      <dl className="facts">
        <dt>Kind</dt>
        <dd>{kindLabel(section.kind)}</dd>
        <dt>Instructor</dt>
        <dd>{section.instructor || 'Staff'}</dd>
        <dt>Credits</dt>
        <dd>{section.credits}</dd>
        <dt>Status</dt>
        <dd>{statusLabel(section.status)}</dd>
        <dt>Meets</dt>
        <dd>
          <MeetingTimes meetings={section.meetingTimes} />
        </dd>
        <dt>Seats</dt>
        <dd aria-live="polite" data-testid="live-seats">
          {counts ? <Seats counts={counts} /> : 'Loading…'}
        </dd>
        <dt>Prerequisites</dt>
        <dd data-testid="prerequisites">{course.loading && !c ? 'Loading…' : c ? describePrerequisite(c.prerequisite) : '—'}</dd>
        {c && c.corequisiteCodes.length > 0 ? (
          <>
            <dt>Corequisites</dt>
            <dd>{c.corequisiteCodes.join(', ')} (take in the same term unless already completed)</dd>
          </>
        ) : null}
        {section.linkedSectionIds.length > 0 ? (
          <>
            <dt>Take with</dt>
            <dd>
              {linked.data ? (
                <ul className="plain">
                  {linked.data.sections.map((l) => (
                    <li key={l.id}>
                      {l.courseCode} · {l.sectionCode} ({kindLabel(l.kind)}) — <MeetingTimes meetings={l.meetingTimes} />
                    </li>
                  ))}
                </ul>
              ) : linked.error ? (
                'Could not load the linked sections.'
              ) : (
                'Loading…'
              )}
              <p className="hint">One of these must be taken together with this section.</p>
            </dd>
          </>
        ) : null}
      </dl>
      {c?.description ? <p className="description">{c.description}</p> : null}
      <ErrorNotice error={course.error} context="Course details" onRetry={course.reload} />
      <SectionActions section={section} />
      <SeatAlertButton section={section} counts={counts} />
    </section>
  );
}
