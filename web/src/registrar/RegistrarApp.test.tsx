import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { NEVER } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import { DayOfWeek, SectionKind, SectionStatus, TermStatus, type Section } from '../../../gen/web/coursereg/course/v1/course';
import type { Api } from '../api/client';
import { ApiProvider } from '../api/context';
import { ApiError, Code } from '../api/errors';
import { sessionFromToken, SessionStore } from '../api/session';
import { fakeApi, fakeToken, memoryStorage } from '../test/fakes';
import { RegistrarApp } from './RegistrarApp';

const created: Section = {
  id: 'new-sec',
  courseCode: 'CS 101',
  termCode: '2027SP',
  sectionCode: '009',
  kind: SectionKind.SECTION_KIND_LAB,
  instructor: 'Dr. Baker',
  capacity: 24,
  waitlistCapacity: 5,
  meetingTimes: [{ days: [DayOfWeek.DAY_OF_WEEK_TUESDAY, DayOfWeek.DAY_OF_WEEK_THURSDAY], startTime: '09:00', endTime: '09:50', room: 'LAB 2' }],
  status: SectionStatus.SECTION_STATUS_OPEN,
  linkedSectionIds: [],
  enrolledCount: 20,
  waitlistedCount: 0,
  courseTitle: 'Programming',
  credits: 3,
  etag: 'v1',
  createTime: undefined,
  updateTime: undefined,
};

function setup() {
  const CreateSection = vi.fn(async (_req: Parameters<Api['course']['CreateSection']>[0]) => ({ section: created }));
  const UpdateSection = vi.fn(async (req: Parameters<Api['course']['UpdateSection']>[0]) => ({ section: { ...created, capacity: req.section?.capacity ?? created.capacity, etag: 'v2' } }));
  const api = fakeApi({
    course: {
      ListTerms: async () => ({ terms: [{ code: '2027SP', name: 'Spring 2027', startDate: '', endDate: '', registrationOpensTime: undefined, addDropDeadlineTime: undefined, status: TermStatus.TERM_STATUS_OPEN, etag: '', createTime: undefined, updateTime: undefined }], nextPageToken: '' }),
      ListSections: async () => ({ sections: [], nextPageToken: '' }),
      CreateSection,
      UpdateSection,
      GetSection: async () => ({ section: created }),
    },
    registration: {
      WatchSection: () => NEVER,
      GetSectionSnapshot: async () => ({ seats: undefined, enrolledStudentIds: ['S0001', 'S0002'], waitlistedStudentIds: ['S0003'] }),
      ListAuditEvents: async () => ({ events: [], nextPageToken: '' }),
    },
  });
  const session = sessionFromToken(fakeToken({ sub: 'registrar-dev', role: 'registrar' }), 'Registrar');
  render(
    <ApiProvider api={api} sessions={new SessionStore(memoryStorage())}>
      <RegistrarApp session={session} />
    </ApiProvider>,
  );
  return { CreateSection, UpdateSection };
}

describe('registrar sections', () => {
  it('checks a new section in the form, creates it, then manages it', async () => {
    const { CreateSection, UpdateSection } = setup();
    await userEvent.click(await screen.findByRole('button', { name: 'New section' }));
    const form = await screen.findByTestId('section-form');
    const f = within(form);
    await userEvent.type(f.getByLabelText('Course code'), 'cs 101');
    await userEvent.type(f.getByLabelText('Section code'), '009');
    await userEvent.selectOptions(f.getByLabelText('Kind'), 'Lab');
    await userEvent.type(f.getByLabelText('Instructor'), 'Dr. Baker');
    await userEvent.clear(f.getByLabelText('Capacity'));
    await userEvent.type(f.getByLabelText('Capacity'), '24');
    await userEvent.clear(f.getByLabelText('Waitlist capacity'));
    await userEvent.type(f.getByLabelText('Waitlist capacity'), '5');
    await userEvent.type(f.getByLabelText('Room'), 'LAB 2');

    // No day chosen yet: the form says so and sends nothing.
    await userEvent.click(f.getByRole('button', { name: 'Create section' }));
    expect(f.getByRole('alert').textContent).toContain('Meeting 1: choose at least one day.');
    expect(CreateSection).not.toHaveBeenCalled();

    await userEvent.click(f.getByRole('checkbox', { name: 'Meeting 1 on Tuesday' }));
    await userEvent.click(f.getByRole('checkbox', { name: 'Meeting 1 on Thursday' }));
    await userEvent.click(f.getByRole('button', { name: 'Create section' }));
    await waitFor(() => expect(CreateSection).toHaveBeenCalledOnce());
    expect(CreateSection.mock.calls[0][0].section).toMatchObject({
      courseCode: 'CS 101',
      termCode: '2027SP',
      sectionCode: '009',
      kind: SectionKind.SECTION_KIND_LAB,
      instructor: 'Dr. Baker',
      capacity: 24,
      waitlistCapacity: 5,
      meetingTimes: [{ days: [DayOfWeek.DAY_OF_WEEK_TUESDAY, DayOfWeek.DAY_OF_WEEK_THURSDAY], startTime: '09:00', endTime: '09:50', room: 'LAB 2' }],
    });

    const admin = await screen.findByTestId('section-admin');
    expect(within(admin).getByRole('heading', { level: 2 }).textContent).toBe('CS 101 · 009 — Programming');
    const roster = await within(admin).findByTestId('roster-enrolled');
    expect(roster.textContent).toContain('S0001');
    expect(within(admin).getByTestId('roster-waitlist').textContent).toContain('S0003');

    await userEvent.clear(within(admin).getByLabelText('New capacity'));
    await userEvent.type(within(admin).getByLabelText('New capacity'), '30');
    await userEvent.click(within(admin).getByRole('button', { name: 'Change capacity' }));
    await waitFor(() => expect(UpdateSection).toHaveBeenCalledWith({ section: { id: 'new-sec', etag: 'v1', capacity: 30 }, updateMask: ['capacity'] }));
    expect((await within(admin).findByTestId('admin-message')).textContent).toBe('Capacity is now 30.');
  });

  it('explains a capacity below the enrolled count', async () => {
    const { UpdateSection } = setup();
    UpdateSection.mockRejectedValueOnce(new ApiError(Code.FAILED_PRECONDITION, 'capacity 10 is below the 20 enrolled', 'CAPACITY_BELOW_ENROLLED'));
    await userEvent.click(await screen.findByRole('button', { name: 'New section' }));
    const f = within(await screen.findByTestId('section-form'));
    await userEvent.type(f.getByLabelText('Course code'), 'CS 101');
    await userEvent.type(f.getByLabelText('Section code'), '009');
    await userEvent.click(f.getByRole('checkbox', { name: 'Meeting 1 on Monday' }));
    await userEvent.click(f.getByRole('button', { name: 'Create section' }));
    const admin = await screen.findByTestId('section-admin');
    await userEvent.clear(within(admin).getByLabelText('New capacity'));
    await userEvent.type(within(admin).getByLabelText('New capacity'), '10');
    await userEvent.click(within(admin).getByRole('button', { name: 'Change capacity' }));
    expect((await within(admin).findByTestId('error-notice')).textContent).toContain('Capacity cannot be set below the number of students already enrolled.');
  });
});
