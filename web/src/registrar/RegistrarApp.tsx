import { useRef, useState } from 'react';
import type { Session } from '../api/session';
import { ErrorNotice } from '../components/ErrorNotice';
import { TermSelect, useTermChoice } from '../components/TermSelect';
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
  const { terms, termCode, setTermCode } = useTermChoice();
  const [view, setView] = useState<View>('sections');
  const main = useRef<HTMLElement>(null);

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
        <TermSelect terms={terms.data?.terms} value={termCode} onChange={setTermCode} />
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
