import { useEffect, useId, useRef, useState } from 'react';
import { TermStatus } from '../../../gen/web/coursereg/course/v1/course';
import { useApi, useLoad } from '../api/context';
import type { Session } from '../api/session';
import { ErrorNotice } from '../components/ErrorNotice';
import { Loading } from '../components/Status';
import { CoursesPage } from './CoursesPage';
import { SectionsPage } from './SectionsPage';
import { StudentsPage } from './StudentsPage';
import { TermsPage } from './TermsPage';

type View = 'sections' | 'courses' | 'students' | 'terms';
const VIEWS: [View, string][] = [
  ['sections', 'Sections'],
  ['courses', 'Courses'],
  ['students', 'Students'],
  ['terms', 'Terms'],
];

/** The registrar's side: sections, courses, students and terms. */
export function RegistrarApp({ session }: { session: Session }) {
  const api = useApi();
  const id = useId();
  const terms = useLoad(() => api.course.ListTerms({ pageSize: 50 }), [api]);
  const [termCode, setTermCode] = useState('');
  const [view, setView] = useState<View>('sections');
  const main = useRef<HTMLElement>(null);

  useEffect(() => {
    const list = terms.data?.terms ?? [];
    if (!termCode && list.length > 0) setTermCode((list.find((t) => t.status === TermStatus.TERM_STATUS_OPEN) ?? list[0]).code);
  }, [terms.data, termCode]);

  const list = terms.data?.terms ?? [];
  return (
    <>
      <div className="toolbar">
        <nav aria-label="Registrar" className="tabs">
          {VIEWS.map(([v, label]) => (
            <button
              key={v}
              type="button"
              aria-current={view === v ? 'page' : undefined}
              onClick={() => {
                setView(v);
                requestAnimationFrame(() => main.current?.focus());
              }}
              data-testid={`nav-${v}`}
            >
              {label}
            </button>
          ))}
        </nav>
        <div className="field term-field">
          <label htmlFor={`${id}-term`}>Term</label>
          <select id={`${id}-term`} value={termCode} onChange={(e) => setTermCode(e.target.value)} disabled={!terms.data} data-testid="term-select">
            {list.map((t) => (
              <option key={t.code} value={t.code}>
                {t.name} ({t.code})
              </option>
            ))}
          </select>
        </div>
      </div>
      <main id="main" ref={main} tabIndex={-1} className="registrar-main" aria-label={`Registrar ${session.displayName}`}>
        {terms.loading && !terms.data ? <Loading>Loading terms…</Loading> : null}
        <ErrorNotice error={terms.error} context="Could not load terms" onRetry={terms.reload} />
        {view === 'courses' ? <CoursesPage /> : null}
        {view === 'sections' && termCode ? <SectionsPage key={termCode} termCode={termCode} /> : null}
        {view === 'students' && termCode ? <StudentsPage terms={list} termCode={termCode} /> : null}
        {view === 'terms' ? <TermsPage terms={list} onChanged={terms.reload} /> : null}
      </main>
    </>
  );
}
