/** The demo identities the gateway offers when development sign-in is enabled. */
export interface DevIdentities {
  students: { studentId: string; name: string }[];
  registrars: { subject: string; name: string }[];
}

export type DevTokenRequest = { role: 'student'; studentId: string } | { role: 'registrar'; subject: string };

export interface DevToken {
  token: string;
  expiresAt: string;
}

/** Development sign-in (`/dev/identities`, `/dev/token` on the gateway). */
export interface DevAuthApi {
  /** The identities, or null when development sign-in is turned off (404). */
  identities(): Promise<DevIdentities | null>;
  token(req: DevTokenRequest): Promise<DevToken>;
}

export class DevAuthError extends Error {
  override readonly name = 'DevAuthError';
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

async function describe(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: string; message?: string };
    return body.message ?? body.error ?? `HTTP ${res.status}`;
  } catch {
    return text.trim().slice(0, 200) || `HTTP ${res.status}`;
  }
}

/** Development sign-in over fetch at `origin` (the page's own origin in the browser). */
export function createDevAuthApi(origin: string, fetchImpl: FetchLike = (i, init) => fetch(i, init)): DevAuthApi {
  return {
    async identities() {
      let res: Response;
      try {
        res = await fetchImpl(`${origin}/dev/identities`, { headers: { accept: 'application/json' } });
      } catch {
        throw new DevAuthError('Could not reach the server. Check your connection and try again.', 0);
      }
      if (res.status === 404) return null;
      if (!res.ok) throw new DevAuthError(`The server could not list demo identities: ${await describe(res)}`, res.status);
      const body = (await res.json()) as Partial<DevIdentities>;
      return { students: body.students ?? [], registrars: body.registrars ?? [] };
    },
    async token(req) {
      let res: Response;
      try {
        res = await fetchImpl(`${origin}/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(req) });
      } catch {
        throw new DevAuthError('Could not reach the server. Check your connection and try again.', 0);
      }
      if (res.status === 404) throw new DevAuthError('Development sign-in is turned off on this server.', 404);
      if (!res.ok) throw new DevAuthError(`Sign-in failed: ${await describe(res)}`, res.status);
      return (await res.json()) as DevToken;
    },
  };
}
