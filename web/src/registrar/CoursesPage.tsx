import { useId, useState, type FormEvent } from 'react';
import type { Course } from '../../../gen/web/coursereg/course/v1/course';
import { useApi } from '../api/context';
import { Code, toApiError, type ApiError } from '../api/errors';
import { ErrorNotice, FormProblems } from '../components/ErrorNotice';
import { Empty, Loading } from '../components/Status';
import { describePrerequisite, formatPrerequisite, parsePrerequisite, PrerequisiteSyntaxError } from '../lib/prerequisites';
import { CatalogQueryFields } from './CatalogQueryFields';

const COURSE_CODE = /^[A-Z]{2,8} [0-9]{3,4}[A-Z]?$/;
const MUTABLE = ['title', 'description', 'credits', 'prerequisite', 'corequisite_codes'];

/** Create a course or edit its title, description, credits, prerequisites and corequisites. */
export function CourseForm({ course, onSaved, onCancel }: { course?: Course; onSaved: (c: Course) => void; onCancel: () => void }) {
  const api = useApi();
  const id = useId();
  const creating = !course;
  const [code, setCode] = useState(course?.code ?? '');
  const [title, setTitle] = useState(course?.title ?? '');
  const [description, setDescription] = useState(course?.description ?? '');
  const [credits, setCredits] = useState(String(course?.credits ?? 3));
  const [prereq, setPrereq] = useState(formatPrerequisite(course?.prerequisite));
  const [coreqs, setCoreqs] = useState((course?.corequisiteCodes ?? []).join(', '));
  const [problems, setProblems] = useState<string[]>([]);
  const [error, setError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const found: string[] = [];
    const normalized = code.trim().toUpperCase().replace(/\s+/g, ' ');
    if (creating && !COURSE_CODE.test(normalized)) found.push('Code must be a department and number such as "CS 101".');
    if (title.trim() === '') found.push('Title is required.');
    const n = Number(credits);
    if (!Number.isInteger(n) || n < 0 || n > 12) found.push('Credits must be a whole number from 0 to 12.');
    let prerequisite;
    try {
      prerequisite = parsePrerequisite(prereq);
    } catch (err) {
      if (err instanceof PrerequisiteSyntaxError) found.push(`Prerequisites: ${err.message}`);
      else throw err;
    }
    const corequisiteCodes = coreqs
      .split(',')
      .map((c) => c.trim().toUpperCase().replace(/\s+/g, ' '))
      .filter(Boolean);
    const badCoreq = corequisiteCodes.filter((c) => !COURSE_CODE.test(c));
    if (badCoreq.length > 0) found.push(`Corequisites: ${badCoreq.join(', ')} ${badCoreq.length === 1 ? 'is' : 'are'} not a course code.`);
    setProblems(found);
    if (found.length > 0) return;
    setBusy(true);
    setError(undefined);
    const body = { title: title.trim(), description: description.trim(), credits: n, prerequisite, corequisiteCodes };
    try {
      const res = creating
        ? await api.course.CreateCourse({ course: { ...body, code: normalized, department: normalized.split(' ')[0] } })
        : await api.course.UpdateCourse({ course: { ...body, code: course.code, etag: course.etag }, updateMask: MUTABLE });
      if (res.course) onSaved(res.course);
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card form" onSubmit={submit} aria-labelledby={`${id}-h`} data-testid="course-form" noValidate>
      <h3 id={`${id}-h`}>{creating ? 'New course' : `Edit ${course.code}`}</h3>
      {creating ? (
        <div className="field">
          <label htmlFor={`${id}-code`}>Course code</label>
          <input id={`${id}-code`} value={code} onChange={(e) => setCode(e.target.value.toUpperCase())} placeholder="CS 101" data-testid="course-code" />
        </div>
      ) : null}
      <div className="field">
        <label htmlFor={`${id}-title`}>Title</label>
        <input id={`${id}-title`} value={title} onChange={(e) => setTitle(e.target.value)} maxLength={200} data-testid="course-title" />
      </div>
      <div className="field">
        <label htmlFor={`${id}-desc`}>Description</label>
        <textarea id={`${id}-desc`} value={description} onChange={(e) => setDescription(e.target.value)} maxLength={4000} rows={3} />
      </div>
      <div className="field">
        <label htmlFor={`${id}-credits`}>Credits</label>
        <input id={`${id}-credits`} type="number" min={0} max={12} value={credits} onChange={(e) => setCredits(e.target.value)} data-testid="course-credits" />
      </div>
      <div className="field">
        <label htmlFor={`${id}-pre`}>Prerequisites</label>
        <input id={`${id}-pre`} value={prereq} onChange={(e) => setPrereq(e.target.value)} aria-describedby={`${id}-pre-hint`} placeholder="CS 101 >= C and (MATH 120 or MATH 121)" />
        <p id={`${id}-pre-hint`} className="hint">
          Course codes joined by "and" / "or", with parentheses to mix them; "&gt;= B-" sets a minimum grade. Leave empty for none.
        </p>
      </div>
      <div className="field">
        <label htmlFor={`${id}-co`}>Corequisites</label>
        <input id={`${id}-co`} value={coreqs} onChange={(e) => setCoreqs(e.target.value)} placeholder="PHYS 101L, MATH 120" aria-describedby={`${id}-co-hint`} />
        <p id={`${id}-co-hint`} className="hint">
          Comma-separated course codes to take in the same term.
        </p>
      </div>
      <FormProblems problems={problems} />
      <ErrorNotice error={error} context={creating ? 'Could not create the course' : 'Could not save the course'} />
      {error?.code === Code.ABORTED ? <p className="hint">Close this form and open the course again to see the latest version.</p> : null}
      <div className="buttons">
        <button type="submit" className="primary" disabled={busy} data-testid="save-course">
          {busy ? 'Saving…' : creating ? 'Create course' : 'Save course'}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** The catalog's courses: find, create, edit. */
export function CoursesPage() {
  const api = useApi();
  const id = useId();
  const [query, setQuery] = useState('');
  const [department, setDepartment] = useState('');
  const [results, setResults] = useState<{ courses: Course[]; next: string } | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();
  const [editing, setEditing] = useState<Course | 'new' | null>(null);
  const [message, setMessage] = useState('');

  async function search(pageToken = '') {
    setLoading(true);
    setError(undefined);
    try {
      const res = await api.course.ListCourses({ query: query.trim(), department: department.trim().toUpperCase(), pageSize: 50, pageToken });
      setResults((prev) => ({ courses: pageToken && prev ? [...prev.courses, ...res.courses] : res.courses, next: res.nextPageToken }));
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setLoading(false);
    }
  }

  return (
    <div className="registrar-page">
      <div className="buttons">
        <button type="button" className="primary" onClick={() => setEditing('new')} disabled={editing !== null} data-testid="new-course">
          New course
        </button>
      </div>
      <p role="status" className="muted">
        {message}
      </p>
      {editing ? (
        <CourseForm
          key={editing === 'new' ? 'new' : editing.code}
          course={editing === 'new' ? undefined : editing}
          onCancel={() => setEditing(null)}
          onSaved={(c) => {
            setEditing(null);
            setMessage(`Saved ${c.code}.`);
            setResults((r) => (r ? { ...r, courses: r.courses.some((x) => x.code === c.code) ? r.courses.map((x) => (x.code === c.code ? c : x)) : [c, ...r.courses] } : { courses: [c], next: '' }));
          }}
        />
      ) : null}
      <form
        role="search"
        aria-label="Find courses"
        className="card inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void search();
        }}
      >
        <CatalogQueryFields id={id} query={query} onQuery={setQuery} department={department} onDepartment={setDepartment} testId="registrar-course-search" />
        <button type="submit">Find courses</button>
      </form>
      <section aria-labelledby={`${id}-h`} aria-busy={loading}>
        <h2 id={`${id}-h`}>Courses</h2>
        <ErrorNotice error={error} onRetry={() => void search()} />
        {loading && !results ? <Loading>Searching…</Loading> : null}
        {!results && !loading ? <p className="muted">Find courses by code, title or department.</p> : null}
        {results && results.courses.length === 0 ? <Empty>No courses match.</Empty> : null}
        {results && results.courses.length > 0 ? (
          <ul className="section-list" aria-label="Courses found">
            {results.courses.map((c) => (
              <li key={c.code} className="section-row" data-testid="course-row" data-course-code={c.code}>
                <div className="row-main">
                  <h3 className="row-title">
                    <span className="code">{c.code}</span> {c.title}
                  </h3>
                  <p className="row-meta">
                    {c.credits} credits · prerequisites: {describePrerequisite(c.prerequisite)}
                    {c.corequisiteCodes.length > 0 ? ` · corequisites: ${c.corequisiteCodes.join(', ')}` : ''}
                  </p>
                </div>
                <div className="row-actions">
                  <button type="button" onClick={() => setEditing(c)} disabled={editing !== null} aria-label={`Edit ${c.code}`}>
                    Edit
                  </button>
                </div>
              </li>
            ))}
          </ul>
        ) : null}
        {results?.next ? (
          <button type="button" onClick={() => void search(results.next)} disabled={loading}>
            Show more courses
          </button>
        ) : null}
      </section>
    </div>
  );
}
