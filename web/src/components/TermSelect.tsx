import { useEffect, useId, useState } from 'react';
import { TermStatus, type Term } from '../../../gen/web/coursereg/course/v1/course';
import { useApi, useLoad } from '../api/context';

/** The terms, and the one chosen: the open term (else the first) until the user picks another. */
export function useTermChoice() {
  const api = useApi();
  const terms = useLoad(() => api.course.ListTerms({ pageSize: 50 }), [api]);
  const [termCode, setTermCode] = useState('');
  useEffect(() => {
    const list = terms.data?.terms ?? [];
    if (!termCode && list.length > 0) setTermCode((list.find((t) => t.status === TermStatus.TERM_STATUS_OPEN) ?? list[0]).code);
  }, [terms.data, termCode]);
  return { terms, termCode, setTermCode };
}

/** The term picker in the toolbar of both the student's and the registrar's side. */
export function TermSelect({ terms, value, onChange }: { terms: Term[] | undefined; value: string; onChange: (code: string) => void }) {
  const id = useId();
  return (
    <div className="field term-field">
      <label htmlFor={`${id}-term`}>Term</label>
      <select id={`${id}-term`} value={value} onChange={(e) => onChange(e.target.value)} disabled={!terms} data-testid="term-select">
        {(terms ?? []).map((t) => (
          <option key={t.code} value={t.code}>
            {t.name} ({t.code})
          </option>
        ))}
      </select>
    </div>
  );
}
