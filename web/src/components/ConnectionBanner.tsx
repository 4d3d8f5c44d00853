import { useEffect } from 'react';
import { useConnection, useMonitor } from '../api/context';
import { useCountdown } from './useCountdown';

/** Says when live updates are lost (a stream is reconnecting, or the browser is offline). */
export function ConnectionBanner() {
  const monitor = useMonitor();
  const conn = useConnection();
  const left = useCountdown(conn.retryAt);
  useEffect(() => {
    const on = () => monitor.setOnline(true);
    const off = () => monitor.setOnline(false);
    window.addEventListener('online', on);
    window.addEventListener('offline', off);
    if (typeof navigator !== 'undefined' && navigator.onLine === false) off();
    return () => {
      window.removeEventListener('online', on);
      window.removeEventListener('offline', off);
    };
  }, [monitor]);
  const lost = !conn.online || conn.reconnecting;
  return (
    <div className={lost ? 'banner banner-lost' : 'visually-hidden'} role="status" data-testid="connection-banner" data-state={lost ? 'lost' : 'ok'}>
      {!conn.online
        ? 'You are offline. Changes will not be sent and live updates are paused until the connection returns.'
        : conn.reconnecting
          ? `Connection lost: live ${conn.labels.join(' and ') || 'updates'} paused. ${left !== undefined && left > 0 ? `Reconnecting in ${left} s…` : 'Reconnecting…'}`
          : ''}
    </div>
  );
}
