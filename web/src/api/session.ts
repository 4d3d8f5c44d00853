/** Who is signed in, read from the token's claims (never trusted for anything but display and routing). */
export interface Session {
  token: string;
  role: 'student' | 'registrar' | 'service';
  /** Token subject: the student id for students. */
  subject: string;
  studentId?: string;
  displayName: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

function decodeBase64Url(part: string): string {
  let s = part.replace(/-/g, '+').replace(/_/g, '/');
  while (s.length % 4 !== 0) s += '=';
  const bin = atob(s);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}

/**
 * Reads a JWT's role, subject and expiry without verifying it (the gateway verifies).
 * Throws an Error with a readable message when it is not a coursereg token.
 */
export function sessionFromToken(token: string, displayName?: string): Session {
  const t = token.trim().replace(/^Bearer\s+/i, '');
  const parts = t.split('.');
  if (parts.length !== 3) throw new Error('That is not a token (expected three dot-separated parts).');
  let claims: Record<string, unknown>;
  try {
    claims = JSON.parse(decodeBase64Url(parts[1])) as Record<string, unknown>;
  } catch {
    throw new Error('The token cannot be read.');
  }
  const role = claims.role;
  const sub = claims.sub;
  const exp = claims.exp;
  if (role !== 'student' && role !== 'registrar' && role !== 'service') throw new Error('The token has no coursereg role.');
  if (typeof sub !== 'string' || sub === '') throw new Error('The token has no subject.');
  if (typeof exp !== 'number') throw new Error('The token has no expiry.');
  return {
    token: t,
    role,
    subject: sub,
    studentId: role === 'student' ? sub : undefined,
    displayName: displayName ?? sub,
    expiresAt: exp * 1000,
  };
}

export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

const KEY = 'coursereg.session';

/**
 * Holds the signed-in session (one per browser tab, in sessionStorage) and tells
 * subscribers when it changes. An expired session is never handed out.
 */
export class SessionStore {
  private session: Session | null = null;
  private readonly listeners = new Set<() => void>();
  /** Why the last session ended, shown on the sign-in screen. */
  endedReason: string | null = null;

  constructor(
    private readonly storage: StorageLike | null,
    private readonly now: () => number = Date.now,
  ) {
    const raw = storage?.getItem(KEY);
    if (raw) {
      try {
        const s = JSON.parse(raw) as Session;
        if (s && typeof s.token === 'string' && s.expiresAt > now()) this.session = s;
        else storage?.removeItem(KEY);
      } catch {
        storage?.removeItem(KEY);
      }
    }
  }

  /** The session, or null when signed out or expired (the app ends an expired one on a timer). */
  get = (): Session | null => (this.session && this.session.expiresAt > this.now() ? this.session : null);

  /** The stored session even if expired, so that the app can end it with a reason. */
  peek = (): Session | null => this.session;

  token = (): string | undefined => this.get()?.token;

  set(session: Session): void {
    this.session = session;
    this.endedReason = null;
    this.storage?.setItem(KEY, JSON.stringify(session));
    this.emit();
  }

  /** Signs out; `reason` (if any) is shown on the sign-in screen. */
  end(reason: string | null = null): void {
    if (!this.session && reason === this.endedReason) return;
    this.session = null;
    this.endedReason = reason;
    this.storage?.removeItem(KEY);
    this.emit();
  }

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  private emit() {
    for (const fn of [...this.listeners]) fn();
  }
}
