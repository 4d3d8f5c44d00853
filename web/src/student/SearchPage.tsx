import { useEffect, useId, useState, type FormEvent } from 'react';
import { DayOfWeek, SectionStatus, type Section } from '../../../gen/web/coursereg/course/v1/course';
import type { ListSectionsRequest } from '../../../gen/web/coursereg/course/v1/course_service';
import { useApi } from '../api/context';
import { toApiError, type ApiError } from '../api/errors';
import { ErrorNotice } from '../components/ErrorNotice';
import { countsOf, kindLabel, MeetingTimes, Seats, statusLabel } from '../components/SectionBits';
import { Empty, Loading } from '../components/Status';
import { dayLong, dayShort, WEEK } from '../lib/time';
import { SectionActions, labelOf } from './SectionActions';
import { SectionDetails, useLiveSeats } from './SectionDetails';
import { useStudent } from './StudentContext';

interface Filters {
  query: string;
  department: string;
  openSeatsOnly: boolean;
  days: DayOfWeek[];
  startAfter: string;
  endBefore: string;
}

const EMPTY: Filters = { query: '', department: '', openSeatsOnly: false, days: [], startAfter: '', endBefore: '' };
const PAGE = 25;

function SeatCell({ section }: { section: Section }) {
  // Rows show counts from the search; the open section's details stream them live.
  const counts = useLiveSeats(section, -1);
  return <Seats counts={counts ?? countsOf(section)} />;
}

/** One result: the section's essentials and its actions. */
function SectionRow({ section, onDetails, selected }: { section: Section; onDetails: () => void; selected: boolean }) {
  const label = labelOf(section);
  return (
    <li className={`section-row${selected ? ' selected' : ''}`} data-testid="section-row" data-section-id={section.id} data-course-code={section.courseCode} data-section-code={section.sectionCode}>
      <div className="row-main">
        <h3 className="row-title">
          <span className="code">
            {section.courseCode} · {section.sectionCode}
          </span>{' '}
          {section.courseTitle}
        </h3>
        <p className="row-meta">
          {kindLabel(section.kind)} · {section.instructor || 'Staff'} · {section.credits} credit{section.credits === 1 ? '' : 's'}
          {section.status !== SectionStatus.SECTION_STATUS_OPEN ? <span className="badge badge-warn"> {statusLabel(section.status)}</span> : null}
        </p>
        <MeetingTimes meetings={section.meetingTimes} />
        <p>
          <SeatCell section={section} />
        </p>
      </div>
      <div className="row-actions">
        <button type="button" onClick={onDetails} aria-label={`Details for ${label}`} aria-expanded={selected} data-testid="section-details-button">
          Details
        </button>
        <SectionActions section={section} compact />
      </div>
    </li>
  );
}

/** Catalog search for the term: text, department, open seats, days and times; results with details. */
export function SearchPage({ selected, onSelect }: { selected: Section | null; onSelect: (s: Section | null) => void }) {
  const api = useApi();
  const { termCode, term } = useStudent();
  const id = useId();
  const [form, setForm] = useState<Filters>(EMPTY);
  const [results, setResults] = useState<{ sections: Section[]; next: string; filters: Filters } | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();

  async function run(filters: Filters, pageToken = '') {
    if (!termCode) return;
    setLoading(true);
    setError(undefined);
    const req: Partial<ListSectionsRequest> = {
      termCode,
      pageSize: PAGE,
      pageToken,
      query: filters.query.trim(),
      department: filters.department.trim().toUpperCase(),
      openSeatsOnly: filters.openSeatsOnly,
      days: filters.days,
      startAfter: filters.startAfter,
      endBefore: filters.endBefore,
    };
    try {
      const res = await api.course.ListSections(req);
      setResults((prev) => ({ sections: pageToken && prev ? [...prev.sections, ...res.sections] : res.sections, next: res.nextPageToken, filters }));
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setLoading(false);
    }
  }

  useEffect(() => {
    setResults(null);
    if (termCode) void run(EMPTY);
    // A new term starts a fresh search; `run` is a new closure each render.
  }, [termCode]);

  function submit(e: FormEvent) {
    e.preventDefault();
    onSelect(null);
    void run(form);
  }

  const toggleDay = (d: DayOfWeek) => setForm((f) => ({ ...f, days: f.days.includes(d) ? f.days.filter((x) => x !== d) : [...f.days, d].sort((a, b) => a - b) }));

  return (
    <div className="search-layout">
      <form role="search" aria-label="Search the catalog" className="card search-form" onSubmit={submit}>
        <h2>Search {term?.name ?? 'the catalog'}</h2>
        <div className="field">
          <label htmlFor={`${id}-q`}>Course code or title</label>
          <input id={`${id}-q`} type="search" name="q" data-testid="search-input" value={form.query} maxLength={100} placeholder="e.g. CS 101 or Algorithms" onChange={(e) => setForm({ ...form, query: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-dept`}>Department</label>
          <input id={`${id}-dept`} name="department" data-testid="department-input" value={form.department} maxLength={8} placeholder="e.g. CS" autoCapitalize="characters" onChange={(e) => setForm({ ...form, department: e.target.value.toUpperCase() })} />
        </div>
        <div className="field checkbox">
          <label>
            <input type="checkbox" checked={form.openSeatsOnly} onChange={(e) => setForm({ ...form, openSeatsOnly: e.target.checked })} data-testid="open-seats-only" /> Open seats only
          </label>
        </div>
        <fieldset className="days">
          <legend>Meets on</legend>
          {WEEK.slice(0, 6).map((d) => (
            <label key={d} title={dayLong(d)}>
              <input type="checkbox" checked={form.days.includes(d)} onChange={() => toggleDay(d)} aria-label={dayLong(d)} /> {dayShort(d)}
            </label>
          ))}
        </fieldset>
        <div className="field-row">
          <div className="field">
            <label htmlFor={`${id}-after`}>Starts at or after</label>
            <input id={`${id}-after`} type="time" value={form.startAfter} onChange={(e) => setForm({ ...form, startAfter: e.target.value })} />
          </div>
          <div className="field">
            <label htmlFor={`${id}-before`}>Ends by</label>
            <input id={`${id}-before`} type="time" value={form.endBefore} onChange={(e) => setForm({ ...form, endBefore: e.target.value })} />
          </div>
        </div>
        <div className="buttons">
          <button type="submit" className="primary" data-testid="search-submit" disabled={!termCode}>
            Search
          </button>
          <button
            type="button"
            onClick={() => {
              setForm(EMPTY);
              onSelect(null);
              void run(EMPTY);
            }}
          >
            Clear
          </button>
        </div>
      </form>

      <div className="results-area">
        {selected ? <SectionDetails key={selected.id} section={selected} onClose={() => onSelect(null)} /> : null}
        <section aria-labelledby={`${id}-results`} className="results" aria-busy={loading}>
          <h2 id={`${id}-results`}>Sections</h2>
          <ErrorNotice error={error} context="Search failed" onRetry={() => void run(results?.filters ?? form)} />
          {loading && !results ? <Loading>Searching…</Loading> : null}
          {results && results.sections.length === 0 ? <Empty>No sections match your search. Try fewer filters.</Empty> : null}
          {results && results.sections.length > 0 ? (
            <>
              <p className="muted" role="status" data-testid="result-count">
                {results.sections.length}
                {results.next ? '+' : ''} section{results.sections.length === 1 ? '' : 's'} found
              </p>
              <ul className="section-list" aria-label="Search results">
                {results.sections.map((s) => (
                  <SectionRow key={s.id} section={s} selected={selected?.id === s.id} onDetails={() => onSelect(selected?.id === s.id ? null : s)} />
                ))}
              </ul>
            </>
          ) : null}
          {results?.next ? (
            <button type="button" onClick={() => void run(results.filters, results.next)} disabled={loading}>
              {loading ? 'Loading…' : 'Show more sections'}
            </button>
          ) : null}
        </section>
      </div>
    </div>
  );
}
