import { useEffect, useMemo, useRef, useState } from 'react';
import type { Section } from '../../../gen/web/coursereg/course/v1/course';
import { useApi, useLoad, useMonitor } from '../api/context';
import { SeatFeed } from '../api/seatFeed';
import type { Session } from '../api/session';
import { watchStream } from '../api/streams';
import { ErrorNotice } from '../components/ErrorNotice';
import { TermSelect, useTermChoice } from '../components/TermSelect';
import { Loading } from '../components/Status';
import { CartPage } from './CartPage';
import { OutcomesPanel } from './OutcomesPanel';
import { SchedulePage } from './SchedulePage';
import { SearchPage } from './SearchPage';
import { SeatAlerts, type SeatAlert } from './seatAlerts';
import { SeatAlertsPanel } from './SeatAlertsPanel';
import { StudentContext, type StudentContextValue } from './StudentContext';
import { OutcomeTracker } from './tracker';

type View = 'search' | 'cart' | 'schedule';

function browserNotify(alert: SeatAlert) {
  try {
    if (typeof Notification !== 'undefined' && Notification.permission === 'granted') {
      new Notification('A seat opened', { body: `${alert.label} has a free seat. Register soon.`, tag: `seat-${alert.sectionId}` });
    }
  } catch {
    // Notifications are a nicety; the page itself announces the alert.
  }
}

const safeLocalStorage = () => {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
};

/** The student's side: search, cart and schedule for one term, with live outcomes and alerts. */
export function StudentApp({ session }: { session: Session }) {
  const api = useApi();
  const monitor = useMonitor();
  const studentId = session.studentId ?? session.subject;
  const { terms, termCode, setTermCode } = useTermChoice();
  const [view, setView] = useState<View>('search');
  const [selected, setSelected] = useState<Section | null>(null);
  const main = useRef<HTMLElement>(null);

  const tracker = useMemo(() => new OutcomeTracker(api), [api]);
  const seatFeed = useMemo(() => new SeatFeed(api, { monitor }), [api, monitor]);
  const alerts = useMemo(() => new SeatAlerts(seatFeed, safeLocalStorage(), `coursereg.seatAlerts.${studentId}`, browserNotify), [seatFeed, studentId]);
  useEffect(() => () => tracker.dispose(), [tracker]);
  useEffect(() => () => seatFeed.close(), [seatFeed]);
  useEffect(() => {
    alerts.start();
    return () => alerts.dispose();
  }, [alerts]);

  const schedule = useLoad(() => (termCode ? api.registration.GetSchedule({ termCode }) : undefined), [api, termCode]);
  const cart = useLoad(() => api.registration.GetCart({}), [api]);

  // Registration changes as they happen (decisions, promotions, registrar actions).
  const reloadSchedule = useRef(schedule.reload);
  reloadSchedule.current = schedule.reload;
  useEffect(
    () =>
      watchStream(() => api.registration.WatchStudent({}), {
        monitor,
        label: 'registration updates',
        next: (m) => {
          if (m.registration) tracker.registration(m.registration);
        },
        onReconnected: () => {
          tracker.refreshPending();
          reloadSchedule.current();
        },
      }),
    [api, monitor, tracker],
  );

  // A decided request changes the schedule; refresh it (once per burst of changes).
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = tracker.onChange((now, before) => {
      if (now.state === 'pending' || now.state === 'refused' || now.state === before?.state) return;
      void seatFeed.refresh([now.sectionId]);
      clearTimeout(timer);
      timer = setTimeout(() => reloadSchedule.current(), 300);
    });
    return () => {
      off();
      clearTimeout(timer);
    };
  }, [tracker, seatFeed]);

  // What the schedule already says, so that a promotion later is recognised as one.
  useEffect(() => {
    for (const e of schedule.data?.entries ?? []) {
      if (!e.registration) continue;
      tracker.setLabel(e.registration.sectionId, `${e.registration.courseCode} section ${e.sectionCode}`, e.meetingTimes);
      tracker.registration(e.registration, true);
    }
  }, [schedule.data, tracker]);

  const term = terms.data?.terms.find((t) => t.code === termCode);
  const ctx: StudentContextValue = {
    studentId,
    term,
    termCode,
    tracker,
    seatFeed,
    alerts,
    schedule,
    cart,
    openSection: (s) => {
      setSelected(s);
      setView('search');
    },
  };

  const go = (v: View) => {
    setView(v);
    requestAnimationFrame(() => main.current?.focus());
  };
  const cartCount = cart.data?.cart?.items.length ?? 0;

  return (
    <StudentContext.Provider value={ctx}>
      <div className="toolbar">
        <nav aria-label="Student" className="tabs">
          <button type="button" aria-current={view === 'search' ? 'page' : undefined} onClick={() => go('search')} data-testid="nav-search">
            Catalog
          </button>
          <button type="button" aria-current={view === 'cart' ? 'page' : undefined} onClick={() => go('cart')} data-testid="nav-cart">
            Cart{cartCount > 0 ? ` (${cartCount})` : ''}
          </button>
          <button type="button" aria-current={view === 'schedule' ? 'page' : undefined} onClick={() => go('schedule')} data-testid="nav-schedule">
            My schedule
          </button>
        </nav>
        <TermSelect terms={terms.data?.terms} value={termCode} onChange={setTermCode} />
      </div>
      <main id="main" ref={main} tabIndex={-1} className="student-main">
        {terms.loading && !terms.data ? <Loading>Loading terms…</Loading> : null}
        <ErrorNotice error={terms.error} context="Could not load terms" onRetry={terms.reload} />
        {terms.data && terms.data.terms.length === 0 ? <p className="empty">No terms are published yet.</p> : null}
        {termCode ? (
          <div className="student-grid">
            <div className="student-view">
              {view === 'search' ? <SearchPage selected={selected} onSelect={setSelected} /> : null}
              {view === 'cart' ? <CartPage /> : null}
              {view === 'schedule' ? <SchedulePage /> : null}
            </div>
            <aside className="student-side" aria-label="Results and alerts">
              <OutcomesPanel />
              <SeatAlertsPanel />
            </aside>
          </div>
        ) : null}
      </main>
    </StudentContext.Provider>
  );
}
