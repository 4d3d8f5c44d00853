import { useId, useState, type FormEvent } from 'react';
import { DayOfWeek, SectionKind, SectionStatus, type MeetingTime, type Section } from '../../../gen/web/coursereg/course/v1/course';
import { useApi, useLoad } from '../api/context';
import { toApiError, type ApiError } from '../api/errors';
import { ErrorNotice, FormProblems } from '../components/ErrorNotice';
import { kindLabel } from '../components/SectionBits';
import { dayLong, dayShort, parseHHMM, WEEK } from '../lib/time';

const KINDS = [SectionKind.SECTION_KIND_LECTURE, SectionKind.SECTION_KIND_LAB, SectionKind.SECTION_KIND_DISCUSSION, SectionKind.SECTION_KIND_SEMINAR];
const MUTABLE = ['kind', 'instructor', 'capacity', 'waitlist_capacity', 'meeting_times', 'status', 'linked_section_ids'];

interface Draft {
  courseCode: string;
  sectionCode: string;
  kind: SectionKind;
  instructor: string;
  capacity: string;
  waitlistCapacity: string;
  status: SectionStatus;
  meetings: MeetingTime[];
  linked: string[];
}

const blankMeeting = (): MeetingTime => ({ days: [], startTime: '09:00', endTime: '09:50', room: '' });

function draftOf(s: Section | undefined): Draft {
  return s
    ? {
        courseCode: s.courseCode,
        sectionCode: s.sectionCode,
        kind: s.kind,
        instructor: s.instructor,
        capacity: String(s.capacity),
        waitlistCapacity: String(s.waitlistCapacity),
        status: s.status,
        meetings: s.meetingTimes.map((m) => ({ ...m, days: [...m.days] })),
        linked: [...s.linkedSectionIds],
      }
    : { courseCode: '', sectionCode: '', kind: SectionKind.SECTION_KIND_LECTURE, instructor: '', capacity: '30', waitlistCapacity: '10', status: SectionStatus.SECTION_STATUS_OPEN, meetings: [blankMeeting()], linked: [] };
}

/** Problems the form can see before asking the server (which checks everything again). */
export function checkSectionDraft(d: Draft, creating: boolean): string[] {
  const out: string[] = [];
  if (creating && !/^[A-Z]{2,8} [0-9]{3,4}[A-Z]?$/.test(d.courseCode.trim().toUpperCase())) out.push('Course code must look like "CS 101".');
  if (creating && d.sectionCode.trim() === '') out.push('Section code is required.');
  for (const [name, v] of [['Capacity', d.capacity], ['Waitlist capacity', d.waitlistCapacity]] as const) {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 2000) out.push(`${name} must be a whole number from 0 to 2000.`);
  }
  d.meetings.forEach((m, i) => {
    if (m.days.length === 0) out.push(`Meeting ${i + 1}: choose at least one day.`);
    const s = parseHHMM(m.startTime);
    const e = parseHHMM(m.endTime);
    if (Number.isNaN(s) || Number.isNaN(e)) out.push(`Meeting ${i + 1}: times must be HH:MM.`);
    else if (e <= s) out.push(`Meeting ${i + 1}: the end must be after the start.`);
  });
  return out;
}

/** Create a section, or edit one (kind, instructor, capacities, meetings, status, linked sections). */
export function SectionForm({ termCode, section, onSaved, onCancel }: { termCode: string; section?: Section; onSaved: (s: Section) => void; onCancel: () => void }) {
  const api = useApi();
  const id = useId();
  const creating = !section;
  const [d, setD] = useState<Draft>(() => draftOf(section));
  const [problems, setProblems] = useState<string[]>([]);
  const [error, setError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);
  const course = d.courseCode.trim().toUpperCase();
  const siblings = useLoad(
    () => (/^[A-Z]{2,8} [0-9]{3,4}[A-Z]?$/.test(course) ? api.course.ListSections({ termCode, courseCode: course, pageSize: 100 }) : undefined),
    [api, termCode, course],
  );
  const linkable = (siblings.data?.sections ?? []).filter((s) => s.id !== section?.id);

  const setMeeting = (i: number, m: Partial<MeetingTime>) => setD((x) => ({ ...x, meetings: x.meetings.map((old, j) => (j === i ? { ...old, ...m } : old)) }));
  const toggleDay = (i: number, day: DayOfWeek) =>
    setD((x) => ({ ...x, meetings: x.meetings.map((m, j) => (j === i ? { ...m, days: m.days.includes(day) ? m.days.filter((y) => y !== day) : [...m.days, day].sort((a, b) => a - b) } : m)) }));

  async function submit(e: FormEvent) {
    e.preventDefault();
    const found = checkSectionDraft(d, creating);
    setProblems(found);
    if (found.length > 0) return;
    setBusy(true);
    setError(undefined);
    const body = {
      kind: d.kind,
      instructor: d.instructor.trim(),
      capacity: Number(d.capacity),
      waitlistCapacity: Number(d.waitlistCapacity),
      meetingTimes: d.meetings.map((m) => ({ ...m, room: m.room.trim() })),
      linkedSectionIds: d.linked,
    };
    try {
      const res = creating
        ? await api.course.CreateSection({ section: { ...body, courseCode: course, termCode, sectionCode: d.sectionCode.trim().toUpperCase() } })
        : await api.course.UpdateSection({ section: { ...body, id: section.id, etag: section.etag, status: d.status }, updateMask: MUTABLE });
      if (res.section) onSaved(res.section);
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card form" onSubmit={submit} aria-labelledby={`${id}-h`} data-testid="section-form" noValidate>
      <h3 id={`${id}-h`}>{creating ? `New section in ${termCode}` : `Edit ${section.courseCode} section ${section.sectionCode}`}</h3>
      {creating ? (
        <div className="field-row">
          <div className="field">
            <label htmlFor={`${id}-course`}>Course code</label>
            <input id={`${id}-course`} value={d.courseCode} onChange={(e) => setD({ ...d, courseCode: e.target.value.toUpperCase() })} placeholder="CS 101" required data-testid="section-course-code" />
          </div>
          <div className="field">
            <label htmlFor={`${id}-code`}>Section code</label>
            <input id={`${id}-code`} value={d.sectionCode} onChange={(e) => setD({ ...d, sectionCode: e.target.value.toUpperCase() })} placeholder="001" required maxLength={8} data-testid="section-code" />
          </div>
        </div>
      ) : null}
      <div className="field-row">
        <div className="field">
          <label htmlFor={`${id}-kind`}>Kind</label>
          <select id={`${id}-kind`} value={d.kind} onChange={(e) => setD({ ...d, kind: Number(e.target.value) as SectionKind })}>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {kindLabel(k)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-instructor`}>Instructor</label>
          <input id={`${id}-instructor`} value={d.instructor} onChange={(e) => setD({ ...d, instructor: e.target.value })} placeholder="Staff" />
        </div>
      </div>
      <div className="field-row">
        <div className="field">
          <label htmlFor={`${id}-cap`}>Capacity</label>
          <input id={`${id}-cap`} type="number" min={0} max={2000} value={d.capacity} onChange={(e) => setD({ ...d, capacity: e.target.value })} data-testid="section-capacity" />
        </div>
        <div className="field">
          <label htmlFor={`${id}-wl`}>Waitlist capacity</label>
          <input id={`${id}-wl`} type="number" min={0} max={2000} value={d.waitlistCapacity} onChange={(e) => setD({ ...d, waitlistCapacity: e.target.value })} data-testid="section-waitlist-capacity" />
        </div>
        {!creating ? (
          <div className="field">
            <label htmlFor={`${id}-status`}>Status</label>
            <select id={`${id}-status`} value={d.status} onChange={(e) => setD({ ...d, status: Number(e.target.value) as SectionStatus })} disabled={section.status === SectionStatus.SECTION_STATUS_CANCELLED}>
              <option value={SectionStatus.SECTION_STATUS_OPEN}>Open</option>
              <option value={SectionStatus.SECTION_STATUS_CLOSED}>Closed</option>
              {section.status === SectionStatus.SECTION_STATUS_CANCELLED ? <option value={SectionStatus.SECTION_STATUS_CANCELLED}>Cancelled</option> : null}
            </select>
          </div>
        ) : null}
      </div>

      <fieldset className="meetings-editor">
        <legend>Meeting times</legend>
        {d.meetings.map((m, i) => (
          <fieldset key={i} className="meeting" data-testid="meeting-editor">
            <legend>Meeting {i + 1}</legend>
            <div className="days">
              {WEEK.map((day) => (
                <label key={day} title={dayLong(day)}>
                  <input type="checkbox" checked={m.days.includes(day)} onChange={() => toggleDay(i, day)} aria-label={`Meeting ${i + 1} on ${dayLong(day)}`} /> {dayShort(day)}
                </label>
              ))}
            </div>
            <div className="field-row">
              <div className="field">
                <label htmlFor={`${id}-m${i}-start`}>Start</label>
                <input id={`${id}-m${i}-start`} type="time" value={m.startTime} onChange={(e) => setMeeting(i, { startTime: e.target.value })} />
              </div>
              <div className="field">
                <label htmlFor={`${id}-m${i}-end`}>End</label>
                <input id={`${id}-m${i}-end`} type="time" value={m.endTime} onChange={(e) => setMeeting(i, { endTime: e.target.value })} />
              </div>
              <div className="field">
                <label htmlFor={`${id}-m${i}-room`}>Room</label>
                <input id={`${id}-m${i}-room`} value={m.room} onChange={(e) => setMeeting(i, { room: e.target.value })} placeholder="ENG 120" />
              </div>
            </div>
            <button type="button" onClick={() => setD((x) => ({ ...x, meetings: x.meetings.filter((_, j) => j !== i) }))} aria-label={`Remove meeting ${i + 1}`}>
              Remove meeting
            </button>
          </fieldset>
        ))}
        <button type="button" onClick={() => setD((x) => ({ ...x, meetings: [...x.meetings, blankMeeting()] }))} disabled={d.meetings.length >= 8}>
          Add meeting time
        </button>
      </fieldset>

      <fieldset>
        <legend>Linked sections (students must also take one of these)</legend>
        {linkable.length === 0 ? <p className="hint">{siblings.loading ? 'Loading sections of this course…' : 'No other sections of this course in this term.'}</p> : null}
        {linkable.map((s) => (
          <label key={s.id} className="block">
            <input type="checkbox" checked={d.linked.includes(s.id)} onChange={() => setD((x) => ({ ...x, linked: x.linked.includes(s.id) ? x.linked.filter((y) => y !== s.id) : [...x.linked, s.id] }))} /> {s.sectionCode} ({kindLabel(s.kind)})
          </label>
        ))}
      </fieldset>

      <FormProblems problems={problems} />
      <ErrorNotice error={error} context={creating ? 'Could not create the section' : 'Could not save the section'} />
      <div className="buttons">
        <button type="submit" className="primary" disabled={busy} data-testid="save-section">
          {busy ? 'Saving…' : creating ? 'Create section' : 'Save section'}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
