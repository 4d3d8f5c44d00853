import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { DevAuthError, type DevAuthApi, type DevIdentities } from './api/devAuth';
import type { Session } from './api/session';
import { SignIn } from './SignIn';
import { fakeToken } from './test/fakes';

const identities: DevIdentities = {
  students: [
    { studentId: 'S0001', name: 'Ava Anders' },
    { studentId: 'S0002', name: 'Ben Brown' },
    { studentId: 'S0003', name: 'Chloe Chen' },
  ],
  registrars: [{ subject: 'registrar-dev', name: 'Registrar' }],
};

function fakeAuth(overrides: Partial<DevAuthApi> = {}): DevAuthApi {
  return {
    identities: vi.fn(async () => identities),
    token: vi.fn(async (req) => ({ token: fakeToken(req.role === 'student' ? { sub: req.studentId, role: 'student' } : { sub: req.subject, role: 'registrar' }), expiresAt: new Date(Date.now() + 3600_000).toISOString() })),
    ...overrides,
  };
}

describe('SignIn', () => {
  it('signs in as the chosen demo student', async () => {
    const auth = fakeAuth();
    const onSignedIn = vi.fn<(s: Session) => void>();
    render(<SignIn auth={auth} onSignedIn={onSignedIn} />);
    const select = await screen.findByLabelText('Demo student');
    await userEvent.selectOptions(select, 'S0002');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await waitFor(() => expect(onSignedIn).toHaveBeenCalledOnce());
    expect(auth.token).toHaveBeenCalledWith({ role: 'student', studentId: 'S0002' });
    const s = onSignedIn.mock.calls[0][0];
    expect([s.role, s.studentId, s.displayName]).toEqual(['student', 'S0002', 'Ben Brown (S0002)']);
  });

  it('narrows the student list by id or name', async () => {
    render(<SignIn auth={fakeAuth()} onSignedIn={() => undefined} />);
    await screen.findByLabelText('Demo student');
    await userEvent.type(screen.getByLabelText('Find a student'), 'chen');
    const options = screen.getAllByRole('option');
    expect(options.map((o) => o.textContent)).toEqual(['S0003 — Chloe Chen']);
    expect((screen.getByLabelText('Demo student') as HTMLSelectElement).value).toBe('S0003');
  });

  it('signs in as a student not in the offered sample by typing the full id', async () => {
    const auth = fakeAuth();
    const onSignedIn = vi.fn<(s: Session) => void>();
    render(<SignIn auth={auth} onSignedIn={onSignedIn} />);
    await userEvent.type(await screen.findByLabelText('Find a student'), 's4321');
    expect((screen.getByLabelText('Demo student') as HTMLSelectElement).value).toBe('S4321');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await waitFor(() => expect(onSignedIn).toHaveBeenCalledOnce());
    expect(auth.token).toHaveBeenCalledWith({ role: 'student', studentId: 'S4321' });
    expect(onSignedIn.mock.calls[0][0].displayName).toBe('S4321');
  });

  it('signs in as a registrar', async () => {
    const auth = fakeAuth();
    const onSignedIn = vi.fn<(s: Session) => void>();
    render(<SignIn auth={auth} onSignedIn={onSignedIn} />);
    await userEvent.click(await screen.findByRole('radio', { name: 'Registrar' }));
    expect((screen.getByLabelText('Demo registrar') as HTMLSelectElement).value).toBe('registrar-dev');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await waitFor(() => expect(onSignedIn).toHaveBeenCalledOnce());
    expect(auth.token).toHaveBeenCalledWith({ role: 'registrar', subject: 'registrar-dev' });
    expect(onSignedIn.mock.calls[0][0].role).toBe('registrar');
  });

  it('says clearly when development sign-in is off, and offers the token form', async () => {
    render(<SignIn auth={fakeAuth({ identities: async () => null })} onSignedIn={() => undefined} />);
    expect((await screen.findByTestId('dev-signin-off')).textContent).toContain('Development sign-in is turned off on this server.');
    expect(screen.queryByRole('button', { name: 'Sign in' })).toBeNull();
    expect(screen.getByLabelText('Access token')).toBeTruthy();
  });

  it('shows why a sign-in failed', async () => {
    const auth = fakeAuth({ token: async () => Promise.reject(new DevAuthError('Sign-in failed: unknown student', 400)) });
    const onSignedIn = vi.fn();
    render(<SignIn auth={auth} onSignedIn={onSignedIn} />);
    await userEvent.click(await screen.findByRole('button', { name: 'Sign in' }));
    expect((await screen.findByRole('alert')).textContent).toBe('Sign-in failed: unknown student');
    expect(onSignedIn).not.toHaveBeenCalled();
  });

  it('offers a retry when the identities cannot be loaded', async () => {
    const identitiesFn = vi.fn<DevAuthApi['identities']>().mockRejectedValueOnce(new DevAuthError('Could not reach the server.', 0)).mockResolvedValueOnce(identities);
    render(<SignIn auth={fakeAuth({ identities: identitiesFn })} onSignedIn={() => undefined} />);
    expect((await screen.findByRole('alert')).textContent).toContain('Could not reach the server.');
    await userEvent.click(screen.getByRole('button', { name: 'Try again' }));
    expect(await screen.findByLabelText('Demo student')).toBeTruthy();
  });

  it('accepts a pasted token and refuses one that cannot be read', async () => {
    const onSignedIn = vi.fn<(s: Session) => void>();
    render(<SignIn auth={fakeAuth({ identities: async () => null })} onSignedIn={onSignedIn} />);
    const box = await screen.findByLabelText('Access token');
    await userEvent.type(box, 'not-a-token');
    await userEvent.click(screen.getByRole('button', { name: 'Use token' }));
    expect(screen.getByRole('alert').textContent).toMatch(/not a token/);
    await userEvent.clear(box);
    await userEvent.type(box, fakeToken({ sub: 'S0042', role: 'student' }));
    await userEvent.click(screen.getByRole('button', { name: 'Use token' }));
    expect(onSignedIn.mock.calls[0][0].studentId).toBe('S0042');
  });

  it('shows why the previous session ended', async () => {
    render(<SignIn auth={fakeAuth()} onSignedIn={() => undefined} notice="Your session has expired. Please sign in again." />);
    expect(screen.getByTestId('signin-notice').textContent).toBe('Your session has expired. Please sign in again.');
  });
});
