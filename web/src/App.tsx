import { lazy, Suspense, useEffect } from 'react';
import { useApi, useSession, useSessions } from './api/context';
import { ConnectionBanner } from './components/ConnectionBanner';
import { Loading } from './components/Status';
import { SignIn } from './SignIn';

// Each side loads only after sign-in, so students never download the registrar's screens.
const StudentApp = lazy(() => import('./student/StudentApp').then((m) => ({ default: m.StudentApp })));
const RegistrarApp = lazy(() => import('./registrar/RegistrarApp').then((m) => ({ default: m.RegistrarApp })));

/** The whole client: sign-in, then the student's or the registrar's side. */
export function App() {
  const api = useApi();
  const sessions = useSessions();
  const session = useSession();

  // End the session when the token expires, saying why.
  useEffect(() => {
    const s = sessions.peek();
    if (!s) return;
    const left = s.expiresAt - Date.now();
    const end = () => sessions.end('Your session has expired. Please sign in again.');
    if (left <= 0) {
      end();
      return;
    }
    const t = setTimeout(end, Math.min(left, 2 ** 31 - 1));
    return () => clearTimeout(t);
  }, [session, sessions]);

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to main content
      </a>
      <header className="app-header">
        <p className="brand">
          <span aria-hidden="true">▦</span> coursereg
        </p>
        {session ? (
          <div className="who">
            <span data-testid="signed-in-as">
              {session.role === 'registrar' ? 'Registrar: ' : ''}
              {session.displayName}
            </span>
            <button type="button" onClick={() => sessions.end()} data-testid="sign-out">
              Sign out
            </button>
          </div>
        ) : null}
      </header>
      <ConnectionBanner />
      {!session ? (
        <SignIn auth={api.dev} onSignedIn={(s) => sessions.set(s)} notice={sessions.endedReason} />
      ) : (
        <Suspense fallback={<Loading>Loading coursereg…</Loading>}>
          {session.role === 'student' ? <StudentApp key={session.token} session={session} /> : <RegistrarApp key={session.token} session={session} />}
        </Suspense>
      )}
      <footer className="app-footer">
        <p>coursereg · registration that survives the rush</p>
      </footer>
    </>
  );
}
