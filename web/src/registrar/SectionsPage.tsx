import { useId, useState, type FormEvent } from 'react';
import type { Section } from '../../../gen/web/coursereg/course/v1/course';
import { useApi } from '../api/context';
import { toApiError, type ApiError } from '../api/errors';
import { ErrorNotice } from '../components/ErrorNotice';
import { countsOf, kindLabel, MeetingTimes, Seats, statusLabel } from '../components/SectionBits';
import { Empty, Loading } from '../components/Status';
import { CatalogQueryFields } from './CatalogQueryFields';
import { SectionAdmin } from './SectionAdmin';
import { SectionForm } from './SectionForm';

/** Sections of a term: find, create, and open one to manage it. */
export function SectionsPage({ termCode }: { termCode: string }) {
  const api = useApi();
  const id = useId();
  const [query, setQuery] = useState('');
  const [department, setDepartment] = useState('');
  const [results, setResults] = useState<{ sections: Section[]; next: string } | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();
  const [creating, setCreating] = useState(false);
  const [open, setOpen] = useState<string | null>(null);

  async function search(pageToken = '') {
    setLoading(true);
    setError(undefined);
    try {
      const res = await api.course.ListSections({ termCode, query: query.trim(), department: department.trim().toUpperCase(), pageSize: 50, pageToken });
      setResults((prev) => ({ sections: pageToken && prev ? [...prev.sections, ...res.sections] : res.sections, next: res.nextPageToken }));
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setLoading(false);
    }
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    void search();
  }

  return (
    <div className="registrar-page">
      <div className="buttons">
        <button type="button" className="primary" onClick={() => { setCreating(true); setOpen(null); }} disabled={creating} data-testid="new-section">
          New section
        </button>
      </div>
      {creating ? (
        <SectionForm
          termCode={termCode}
          onCancel={() => setCreating(false)}
          onSaved={(s) => {
            setCreating(false);
            setOpen(s.id);
            void search();
          }}
        />
      ) : null}
      {open ? <SectionAdmin key={open} sectionId={open} termCode={termCode} onClose={() => setOpen(null)} /> : null}
      <form role="search" aria-label="Find sections" className="card inline-form" onSubmit={submit}>
        <CatalogQueryFields id={id} query={query} onQuery={setQuery} department={department} onDepartment={setDepartment} testId="registrar-section-search" />
        <button type="submit">Find sections</button>
      </form>
      <section aria-labelledby={`${id}-h`} aria-busy={loading}>
        <h2 id={`${id}-h`}>Sections in {termCode}</h2>
        <ErrorNotice error={error} onRetry={() => void search()} />
        {loading && !results ? <Loading>Searching…</Loading> : null}
        {!results && !loading ? <p className="muted">Find sections by course code, title or department.</p> : null}
        {results && results.sections.length === 0 ? <Empty>No sections match.</Empty> : null}
        {results && results.sections.length > 0 ? (
          <ul className="section-list" aria-label="Sections found">
            {results.sections.map((s) => (
              <li key={s.id} className="section-row" data-testid="admin-section-row" data-section-id={s.id}>
                <div className="row-main">
                  <h3 className="row-title">
                    <span className="code">
                      {s.courseCode} · {s.sectionCode}
                    </span>{' '}
                    {s.courseTitle}
                  </h3>
                  <p className="row-meta">
                    {kindLabel(s.kind)} · {s.instructor || 'Staff'} · {statusLabel(s.status)}
                  </p>
                  <MeetingTimes meetings={s.meetingTimes} />
                  <Seats counts={countsOf(s)} />
                </div>
                <div className="row-actions">
                  <button type="button" onClick={() => { setOpen(s.id); setCreating(false); }} aria-label={`Manage ${s.courseCode} section ${s.sectionCode}`}>
                    Manage
                  </button>
                </div>
              </li>
            ))}
          </ul>
        ) : null}
        {results?.next ? (
          <button type="button" onClick={() => void search(results.next)} disabled={loading}>
            Show more sections
          </button>
        ) : null}
      </section>
    </div>
  );
}
