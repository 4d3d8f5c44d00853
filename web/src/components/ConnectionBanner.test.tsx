import { act, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiProvider } from '../api/context';
import { SessionStore } from '../api/session';
import { ConnectionMonitor } from '../api/streams';
import { fakeApi, memoryStorage } from '../test/fakes';
import { ConnectionBanner } from './ConnectionBanner';

afterEach(() => vi.useRealTimers());

function renderBanner(monitor: ConnectionMonitor) {
  render(
    <ApiProvider api={fakeApi()} sessions={new SessionStore(memoryStorage())} monitor={monitor}>
      <ConnectionBanner />
    </ApiProvider>,
  );
  return screen.getByTestId('connection-banner');
}

describe('ConnectionBanner', () => {
  it('is silent while connected, then counts down to the next reconnect attempt', () => {
    vi.useFakeTimers();
    const monitor = new ConnectionMonitor();
    const banner = renderBanner(monitor);
    expect(banner.getAttribute('data-state')).toBe('ok');
    expect(banner.textContent).toBe('');
    const id = monitor.register();
    act(() => monitor.reconnecting(id, 'seat counts', Date.now() + 4000));
    expect(banner.getAttribute('data-state')).toBe('lost');
    expect(banner.textContent).toBe('Connection lost: live seat counts paused. Reconnecting in 4 s…');
    act(() => vi.advanceTimersByTime(1000));
    expect(banner.textContent).toContain('Reconnecting in 3 s');
    act(() => monitor.live(id));
    expect(banner.getAttribute('data-state')).toBe('ok');
  });

  it('says when the browser is offline', () => {
    const monitor = new ConnectionMonitor();
    const banner = renderBanner(monitor);
    act(() => {
      window.dispatchEvent(new Event('offline'));
    });
    expect(banner.textContent).toMatch(/^You are offline/);
    act(() => {
      window.dispatchEvent(new Event('online'));
    });
    expect(banner.getAttribute('data-state')).toBe('ok');
  });
});
