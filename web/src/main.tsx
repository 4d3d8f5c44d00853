import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { createGrpcApi } from './api/client';
import { ApiProvider } from './api/context';
import { SessionStore } from './api/session';
import { ConnectionMonitor } from './api/streams';
import './styles.css';

function storage() {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

const sessions = new SessionStore(storage());
const monitor = new ConnectionMonitor();
// The gateway serves this page and the API on the same origin.
const api = createGrpcApi({
  origin: window.location.origin,
  token: sessions.token,
  onUnauthenticated: () => sessions.end('Your session has expired or was not accepted. Please sign in again.'),
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ApiProvider api={api} sessions={sessions} monitor={monitor}>
      <App />
    </ApiProvider>
  </StrictMode>,
);
