import { exportJWK, generateKeyPair } from 'jose';
import { TokenSigner, TokenVerifier, type AuthSettings } from '../src/auth';

describe('TokenVerifier cache', () => {
  let signer: TokenSigner;
  let verifierAt: (clock: { ms: number }, extra?: Partial<AuthSettings>) => TokenVerifier;

  beforeAll(async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const priv = { ...(await exportJWK(privateKey)), kid: 'k1', alg: 'ES256' };
    const pub = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
    signer = await TokenSigner.fromJwk(priv, 'coursereg-test', 'coursereg');
    verifierAt = (clock, extra = {}) => new TokenVerifier({ jwks: { keys: [pub] }, issuer: 'coursereg-test', audience: 'coursereg', ...extra }, () => clock.ms);
  });

  test('clockTolerance_acceptsATokenJustPastItsExpiry_fromTheCacheToo_andNotLater', async () => {
    // The gateway passes Envoy's clock_skew_seconds here.
    const token = await signer.sign('S0004', 'student', 60);
    const fresh = { ms: Date.now() + 70_000 };
    await expect(verifierAt(fresh).verify(token)).rejects.toMatchObject({ reason: 'TOKEN_EXPIRED' });
    await expect(verifierAt(fresh, { clockToleranceSeconds: 30 }).verify(token)).resolves.toMatchObject({ subject: 'S0004' });

    const clock = { ms: Date.now() };
    const verifier = verifierAt(clock, { clockToleranceSeconds: 30 });
    await verifier.verify(token);
    clock.ms += 80_000;
    expect(verifier.cached(token)?.subject).toBe('S0004');
    clock.ms += 20_000;
    expect(verifier.cached(token)).toBeUndefined();
    await expect(verifier.verify(token)).rejects.toMatchObject({ reason: 'TOKEN_EXPIRED' });
  });

  test('severalAudiences_acceptAny', async () => {
    const token = await signer.sign('S0005', 'student', 60);
    const clock = { ms: Date.now() };
    await expect(verifierAt(clock, { audience: ['other', 'coursereg'] }).verify(token)).resolves.toMatchObject({ subject: 'S0005' });
    await expect(verifierAt(clock, { audience: ['other'] }).verify(token)).rejects.toMatchObject({ reason: 'TOKEN_INVALID' });
  });

  test('cached_beforeVerify_isUndefined_afterVerify_isThePrincipal', async () => {
    const clock = { ms: Date.now() };
    const verifier = verifierAt(clock);
    const token = await signer.sign('S0001', 'student', 60);
    expect(verifier.cached(token)).toBeUndefined();
    const principal = await verifier.verify(token);
    expect(principal).toMatchObject({ subject: 'S0001', role: 'student', studentId: 'S0001' });
    expect(verifier.cached(token)).toBe(principal);
  });

  test('cached_afterTheTokenExpires_isUndefined_andVerifySaysExpired', async () => {
    const clock = { ms: Date.now() };
    const verifier = verifierAt(clock);
    const token = await signer.sign('S0002', 'student', 60);
    await verifier.verify(token);
    clock.ms += 61_000;
    expect(verifier.cached(token)).toBeUndefined();
    await expect(verifier.verify(token)).rejects.toMatchObject({ reason: 'TOKEN_EXPIRED' });
  });

  test('cached_forgedToken_isNeverCached', async () => {
    const clock = { ms: Date.now() };
    const verifier = verifierAt(clock);
    const { privateKey } = await generateKeyPair('ES256');
    const other = await TokenSigner.fromJwk({ ...(await exportJWK(privateKey)), kid: 'k1', alg: 'ES256' }, 'coursereg-test', 'coursereg');
    const forged = await other.sign('S0003', 'student', 60);
    await expect(verifier.verify(forged)).rejects.toMatchObject({ reason: 'TOKEN_INVALID' });
    expect(verifier.cached(forged)).toBeUndefined();
  });
});
