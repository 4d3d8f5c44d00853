import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';

/**
 * Creates an ES256 development key pair if none exists: the private JWK signs
 * tokens (`npm run token`), the public key set is what services trust. Never
 * committed; production supplies its own key set through JWT_JWKS_FILE.
 */
export async function ensureDevKeys(jwksFile: string, privateKeyFile: string): Promise<boolean> {
  if (existsSync(jwksFile) && existsSync(privateKeyFile)) return false;
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = `dev-${Date.now().toString(36)}`;
  const pub = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const priv = { ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' };
  mkdirSync(dirname(jwksFile), { recursive: true });
  mkdirSync(dirname(privateKeyFile), { recursive: true });
  writeFileSync(jwksFile, JSON.stringify({ keys: [pub] }, null, 2));
  writeFileSync(privateKeyFile, JSON.stringify(priv, null, 2), { mode: 0o600 });
  return true;
}
