import { useEffect, useId, useMemo, useState, type FormEvent } from 'react';
import { DevAuthError, type DevAuthApi, type DevIdentities } from './api/devAuth';
import { sessionFromToken, type Session } from './api/session';
import { Loading } from './components/Status';

const MAX_OPTIONS = 500;

/**
 * Sign-in: pick a demo student or registrar when the gateway's development sign-in
 * is on, or paste an access token (what the university's single sign-on would give).
 */
export function SignIn({ auth, onSignedIn, notice }: { auth: DevAuthApi; onSignedIn: (s: Session) => void; notice?: string | null }) {
  const [identities, setIdentities] = useState<DevIdentities | null | undefined>(undefined);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);
  const [role, setRole] = useState<'student' | 'registrar'>('student');
  const [filter, setFilter] = useState('');
  const [studentId, setStudentId] = useState('');
  const [registrar, setRegistrar] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [pasted, setPasted] = useState('');
  const [pasteError, setPasteError] = useState<string | null>(null);
  const id = useId();

  useEffect(() => {
    let live = true;
    setIdentities(undefined);
    setLoadError(null);
    auth.identities().then(
      (ids) => {
        if (!live) return;
        setIdentities(ids);
        if (ids) {
          setStudentId(ids.students[0]?.studentId ?? '');
          setRegistrar(ids.registrars[0]?.subject ?? '');
        }
      },
      (e: unknown) => {
        if (live) setLoadError(e instanceof Error ? e.message : String(e));
      },
    );
    return () => {
      live = false;
    };
  }, [auth, attempt]);

  const shown = useMemo(() => {
    const all = identities?.students ?? [];
    const f = filter.trim().toLowerCase();
    const matching = f ? all.filter((s) => s.studentId.toLowerCase().includes(f) || s.name.toLowerCase().includes(f)) : all;
    // The gateway offers a sample of students; any other id can be typed in full.
    const typed = filter.trim().toUpperCase();
    if (/^S\d{4,9}$/.test(typed) && !all.some((s) => s.studentId === typed)) matching.unshift({ studentId: typed, name: 'student id as typed' });
    return { list: matching.slice(0, MAX_OPTIONS), total: matching.length };
  }, [identities, filter]);

  useEffect(() => {
    if (shown.list.length > 0 && !shown.list.some((s) => s.studentId === studentId)) setStudentId(shown.list[0].studentId);
  }, [shown, studentId]);

  async function signInDemo(e: FormEvent) {
    e.preventDefault();
    if (!identities) return;
    setBusy(true);
    setError(null);
    try {
      if (role === 'student') {
        const who = shown.list.find((s) => s.studentId === studentId);
        if (!who) throw new Error('Choose a student first.');
        const { token } = await auth.token({ role: 'student', studentId: who.studentId });
        const known = identities.students.some((s) => s.studentId === who.studentId);
        onSignedIn(sessionFromToken(token, known ? `${who.name} (${who.studentId})` : who.studentId));
      } else {
        const who = identities.registrars.find((r) => r.subject === registrar);
        if (!who) throw new Error('Choose a registrar first.');
        const { token } = await auth.token({ role: 'registrar', subject: who.subject });
        onSignedIn(sessionFromToken(token, who.name || who.subject));
      }
    } catch (err) {
      setError(err instanceof DevAuthError || err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  function signInWithToken(e: FormEvent) {
    e.preventDefault();
    setPasteError(null);
    try {
      const s = sessionFromToken(pasted);
      if (s.expiresAt <= Date.now()) throw new Error('This token has expired.');
      if (s.role === 'service') throw new Error('Service tokens cannot be used in the browser; use a student or registrar token.');
      onSignedIn(s);
    } catch (err) {
      setPasteError((err as Error).message);
    }
  }

  const devOff = identities === null;
  return (
    <main id="main" className="signin" tabIndex={-1}>
      <h1>Sign in to coursereg</h1>
      {notice ? (
        <p className="notice" role="status" data-testid="signin-notice">
          {notice}
        </p>
      ) : null}

      {identities === undefined && !loadError ? <Loading>Loading demo identities…</Loading> : null}
      {loadError ? (
        <div className="notice notice-error" role="alert">
          <p>{loadError}</p>
          <button type="button" onClick={() => setAttempt((a) => a + 1)}>
            Try again
          </button>
        </div>
      ) : null}
      {devOff ? (
        <div className="notice" role="note" data-testid="dev-signin-off">
          <p>
            <strong>Development sign-in is turned off on this server.</strong>
          </p>
          <p>Sign in through the university's single sign-on, or paste an access token below.</p>
        </div>
      ) : null}

      {identities ? (
        <form className="card" aria-labelledby={`${id}-demo`} onSubmit={signInDemo} data-testid="demo-signin">
          <h2 id={`${id}-demo`}>Demo sign-in</h2>
          <fieldset className="inline">
            <legend>Sign in as</legend>
            <label>
              <input type="radio" name="role" value="student" checked={role === 'student'} onChange={() => setRole('student')} /> Student
            </label>
            <label>
              <input type="radio" name="role" value="registrar" checked={role === 'registrar'} onChange={() => setRole('registrar')} disabled={identities.registrars.length === 0} /> Registrar
            </label>
          </fieldset>
          {role === 'student' ? (
            <>
              <div className="field">
                <label htmlFor={`${id}-filter`}>Find a student</label>
                <input id={`${id}-filter`} type="search" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="Id or name, e.g. S0001" autoComplete="off" aria-describedby={`${id}-filter-hint`} />
                <p id={`${id}-filter-hint`} className="hint">
                  Type a full student id (such as S0420) to sign in as a student not listed.
                </p>
              </div>
              <div className="field">
                <label htmlFor={`${id}-student`}>Demo student</label>
                <select id={`${id}-student`} data-testid="student-select" value={studentId} onChange={(e) => setStudentId(e.target.value)} aria-describedby={`${id}-count`}>
                  {shown.list.map((s) => (
                    <option key={s.studentId} value={s.studentId}>
                      {s.studentId} — {s.name}
                    </option>
                  ))}
                </select>
                <p id={`${id}-count`} className="hint">
                  {shown.total === 0 ? 'No student matches.' : shown.total > shown.list.length ? `Showing ${shown.list.length} of ${shown.total}; type to narrow.` : `${shown.total} student${shown.total === 1 ? '' : 's'}.`}
                </p>
              </div>
            </>
          ) : (
            <div className="field">
              <label htmlFor={`${id}-registrar`}>Demo registrar</label>
              <select id={`${id}-registrar`} data-testid="registrar-select" value={registrar} onChange={(e) => setRegistrar(e.target.value)}>
                {identities.registrars.map((r) => (
                  <option key={r.subject} value={r.subject}>
                    {r.name || r.subject}
                  </option>
                ))}
              </select>
            </div>
          )}
          {error ? (
            <p className="notice notice-error" role="alert">
              {error}
            </p>
          ) : null}
          <button type="submit" className="primary" data-testid="sign-in" disabled={busy || (role === 'student' ? shown.list.length === 0 : !registrar)}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
      ) : null}

      <details className="card" open={devOff || undefined}>
        <summary>Sign in with an access token</summary>
        <form onSubmit={signInWithToken}>
          <div className="field">
            <label htmlFor={`${id}-token`}>Access token</label>
            <textarea id={`${id}-token`} rows={3} value={pasted} onChange={(e) => setPasted(e.target.value)} spellCheck={false} autoComplete="off" />
          </div>
          {pasteError ? (
            <p className="notice notice-error" role="alert">
              {pasteError}
            </p>
          ) : null}
          <button type="submit" disabled={pasted.trim() === ''}>
            Use token
          </button>
        </form>
      </details>
    </main>
  );
}
