import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { NEVER, Subject } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import { DayOfWeek, SectionKind, SectionStatus, TermStatus, type Section } from '../../../gen/web/coursereg/course/v1/course';
import { RegistrationState, type Registration, type ScheduleEntry } from '../../../gen/web/coursereg/registration/v1/registration';
import type { WatchStudentResponse } from '../../../gen/web/coursereg/registration/v1/registration_service';
import { ApiProvider } from '../api/context';
import { ApiError, Code } from '../api/errors';
import { sessionFromToken, SessionStore } from '../api/session';
import { fakeApi, fakeToken, memoryStorage } from '../test/fakes';
import { StudentApp } from './StudentApp';

const { DAY_OF_WEEK_MONDAY: MON, DAY_OF_WEEK_WEDNESDAY: WED, DAY_OF_WEEK_FRIDAY: FRI } = DayOfWeek;

function section(id: string, courseCode: string, sectionCode: string, start: string, end: string, extra: Partial<Section> = {}): Section {
  return {
    id,
    courseCode,
    termCode: '2027SP',
    sectionCode,
    kind: SectionKind.SECTION_KIND_LECTURE,
    instructor: 'Dr. Ahmed',
    capacity: 30,
    waitlistCapacity: 10,
    meetingTimes: [{ days: [MON, WED, FRI], startTime: start, endTime: end, room: 'ENG 120' }],
    status: SectionStatus.SECTION_STATUS_OPEN,
    linkedSectionIds: [],
    enrolledCount: 12,
    waitlistedCount: 0,
    courseTitle: `${courseCode} title`,
    credits: 3,
    etag: 'e1',
    createTime: undefined,
    updateTime: undefined,
    ...extra,
  };
}

const cs101 = section('sec-cs101', 'CS 101', '001', '09:00', '09:50');
const math120 = section('sec-math120', 'MATH 120', '002', '09:30', '10:45');
const hist = section('sec-hist', 'HIST 110', '001', '13:00', '13:50');

let t = Date.parse('2026-11-24T10:00:00Z');
function registration(sec: Section, state: RegistrationState, extra: Partial<Registration> = {}): Registration {
  return {
    id: `reg-${sec.id}`,
    studentId: 'S0001',
    sectionId: sec.id,
    termCode: '2027SP',
    courseCode: sec.courseCode,
    state,
    reasonCode: '',
    reasonMessage: '',
    waitlistPosition: 0,
    requestId: 'q',
    requestedBy: 'S0001',
    createTime: new Date(t),
    updateTime: new Date((t += 1000)),
    credits: 3,
    ...extra,
  };
}
const entry = (sec: Section, r: Registration): ScheduleEntry => ({ registration: r, courseTitle: sec.courseTitle, sectionCode: sec.sectionCode, meetingTimes: sec.meetingTimes, instructor: sec.instructor });

function setup(schedule: ScheduleEntry[] = []) {
  const events = new Subject<WatchStudentResponse>();
  let current = schedule;
  const calls = {
    Register: vi.fn(async (req: { sectionId?: string }) => ({ registration: registration(req.sectionId === cs101.id ? cs101 : hist, RegistrationState.REGISTRATION_STATE_PENDING) })),
    GetSchedule: vi.fn(async () => ({ entries: current, enrolledCredits: current.filter((e) => e.registration?.state === RegistrationState.REGISTRATION_STATE_ENROLLED).length * 3, maxCredits: 18 })),
    Drop: vi.fn(async () => ({ registration: registration(math120, RegistrationState.REGISTRATION_STATE_DROPPED), promoted: undefined })),
    ListSections: vi.fn(async () => ({ sections: [cs101, math120, hist], nextPageToken: '' })),
  };
  const api = fakeApi({
    course: {
      ListTerms: async () => ({ terms: [{ code: '2027SP', name: 'Spring 2027', startDate: '', endDate: '', registrationOpensTime: undefined, addDropDeadlineTime: undefined, status: TermStatus.TERM_STATUS_OPEN, etag: '', createTime: undefined, updateTime: undefined }], nextPageToken: '' }),
      ListSections: calls.ListSections,
      BatchGetSections: async (req) => ({ sections: [cs101, math120, hist].filter((s) => req.ids?.includes(s.id)) }),
      GetCourse: async () => {
        throw new ApiError(Code.NOT_FOUND, 'not in this test');
      },
    },
    registration: {
      GetSchedule: calls.GetSchedule,
      GetCart: async () => ({ cart: { items: [], totalCredits: 0, maxCredits: 18, overCreditLimit: false, expireTime: undefined } }),
      WatchStudent: () => events,
      WatchSection: () => NEVER,
      Register: calls.Register,
      GetRegistration: async ({ id }) => ({ registration: registration(id === `reg-${cs101.id}` ? cs101 : hist, RegistrationState.REGISTRATION_STATE_PENDING) }),
      Drop: calls.Drop,
    },
  });
  const sessions = new SessionStore(memoryStorage());
  const session = sessionFromToken(fakeToken({ sub: 'S0001', role: 'student' }), 'Ava Anders (S0001)');
  render(
    <ApiProvider api={api} sessions={sessions}>
      <StudentApp session={session} />
    </ApiProvider>,
  );
  return { events, calls, setSchedule: (s: ScheduleEntry[]) => (current = s) };
}

const row = async (courseCode: string) => (await screen.findAllByTestId('section-row')).find((r) => r.getAttribute('data-course-code') === courseCode)!;

describe('student registration flow', () => {
  it('searches, registers, and shows pending then the decision streamed by WatchStudent', async () => {
    const { events, calls, setSchedule } = setup();
    await userEvent.type(await screen.findByLabelText('Course code or title'), 'CS');
    await userEvent.click(screen.getByRole('button', { name: 'Search' }));
    await waitFor(() => expect(calls.ListSections).toHaveBeenLastCalledWith(expect.objectContaining({ termCode: '2027SP', query: 'CS' })));

    await userEvent.click(within(await row('CS 101')).getByRole('button', { name: 'Register for CS 101 section 001' }));
    expect(calls.Register).toHaveBeenCalledWith(expect.objectContaining({ sectionId: cs101.id, requestId: expect.any(String) }));
    const outcome = await screen.findByTestId('outcome');
    expect(within(outcome).getByTestId('outcome-status').getAttribute('data-state')).toBe('pending');

    setSchedule([entry(cs101, registration(cs101, RegistrationState.REGISTRATION_STATE_ENROLLED))]);
    events.next({ registration: registration(cs101, RegistrationState.REGISTRATION_STATE_ENROLLED) });
    await waitFor(() => expect(within(screen.getByTestId('outcome')).getByTestId('outcome-status').textContent).toBe('Enrolled'));
    expect(screen.getByTestId('outcome').textContent).toContain('CS 101 section 001');
    // The decision refreshes the schedule: the row now says so instead of offering Register again.
    await waitFor(() => expect(within(screen.getAllByTestId('section-row')[0]).getByTestId('held-state').textContent).toBe('On your schedule'));
  });

  it('shows a refusal with its plain-language reason', async () => {
    const { calls } = setup();
    calls.Register.mockRejectedValueOnce(new ApiError(Code.FAILED_PRECONDITION, 'Section 001 of HIST 110 is full.', 'SECTION_FULL'));
    await userEvent.click(within(await row('HIST 110')).getByRole('button', { name: /^Register for/ }));
    const status = await within(await screen.findByTestId('outcome')).findByTestId('outcome-status');
    expect(status.getAttribute('data-state')).toBe('refused');
    expect(status.textContent).toContain('This section is full, and its waitlist is full too.');
  });

  it('flags a time conflict with the schedule before registering', async () => {
    const { calls } = setup([entry(math120, registration(math120, RegistrationState.REGISTRATION_STATE_ENROLLED))]);
    await userEvent.click(within(await row('CS 101')).getByRole('button', { name: 'Register for CS 101 section 001' }));
    const warning = await screen.findByTestId('conflict-warning');
    expect(warning.textContent).toContain('Overlaps MATH 120 section 002 on Mon 09:30–09:50.');
    expect(calls.Register).not.toHaveBeenCalled();
    await userEvent.click(within(warning).getByRole('button', { name: 'Register anyway' }));
    expect(calls.Register).toHaveBeenCalledOnce();
  });

  it('flags a conflict with a request still pending, which GetSchedule does not list yet', async () => {
    const { calls } = setup();
    await userEvent.click(within(await row('CS 101')).getByRole('button', { name: 'Register for CS 101 section 001' }));
    // While pending the row offers no second Register.
    await waitFor(() => expect(within(screen.getAllByTestId('section-row')[0]).getByTestId('held-state').textContent).toBe('Pending'));
    await userEvent.click(within(await row('MATH 120')).getByRole('button', { name: 'Register for MATH 120 section 002' }));
    expect((await screen.findByTestId('conflict-warning')).textContent).toContain('Overlaps CS 101 section 001 on Mon 09:30–09:50.');
    expect(calls.Register).toHaveBeenCalledOnce();
  });

  it('shows the schedule as a calendar and a list, and drops after confirmation', async () => {
    const { calls } = setup([entry(math120, registration(math120, RegistrationState.REGISTRATION_STATE_ENROLLED)), entry(hist, registration(hist, RegistrationState.REGISTRATION_STATE_WAITLISTED, { waitlistPosition: 3 }))]);
    await userEvent.click(await screen.findByRole('button', { name: 'My schedule' }));
    const calendar = await screen.findByTestId('weekly-calendar');
    expect(within(within(calendar).getByRole('region', { name: 'Monday' })).getAllByTestId('calendar-block')).toHaveLength(2);
    expect(screen.getByTestId('schedule-credits').textContent).toBe('Enrolled credits: 3 of 18');
    const rows = screen.getAllByTestId('schedule-row');
    expect(rows.map((r) => within(r).getByTestId('schedule-state').textContent)).toEqual(['Enrolled', 'Waitlisted — position 3']);

    await userEvent.click(within(rows[0]).getByRole('button', { name: 'Drop MATH 120 section 002' }));
    expect(calls.Drop).not.toHaveBeenCalled();
    await userEvent.click(within(rows[0]).getByRole('button', { name: 'Yes, drop' }));
    expect(calls.Drop).toHaveBeenCalledWith(expect.objectContaining({ sectionId: math120.id, requestId: expect.any(String) }));
    expect((await screen.findByTestId('schedule-message')).textContent).toBe('Dropped MATH 120 section 002.');
  });
});
