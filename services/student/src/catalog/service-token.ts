import * as grpc from '@grpc/grpc-js';
import type { TokenSigner } from '../../../shared/src/auth';

const TOKEN_TTL_SECONDS = 900;
const RENEW_AFTER_MS = 600_000;

/**
 * Bearer metadata for calls to other services, signed as a service identity and
 * renewed well before it expires. Per-call metadata rather than call credentials,
 * because grpc-js refuses call credentials on insecure channels.
 *
 * @example
 *   const auth = serviceAuth(signer, 'student-service');
 *   client.getTerm({ code }, await auth(), cb);
 */
export function serviceAuth(signer: TokenSigner, subject: string, now: () => number = Date.now): () => Promise<grpc.Metadata> {
  let current: Promise<string> | undefined;
  let renewAt = 0;
  return async () => {
    if (!current || now() >= renewAt) {
      renewAt = now() + RENEW_AFTER_MS;
      const signing = signer.sign(subject, 'service', TOKEN_TTL_SECONDS);
      current = signing;
      signing.catch(() => {
        if (current === signing) current = undefined;
      });
    }
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${await current}`);
    return md;
  };
}
