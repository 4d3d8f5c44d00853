import { parseArgs } from 'node:util';
import { TokenSigner, type Role } from '../services/shared/src/auth';
import { ensureDevKeys } from '../services/shared/src/devkeys';
import { rules } from '../services/shared/src/validation';
import { launcherConfig as config } from './config';

/**
 * `npm run token -- --role student --student S0001` prints a development token.
 * Options: --role student|registrar|service, --student ID (students), --subject
 * NAME (others), --ttl SECONDS.
 */
async function main() {
  const { values } = parseArgs({
    options: { role: { type: 'string', default: 'student' }, student: { type: 'string' }, subject: { type: 'string' }, ttl: { type: 'string', default: '28800' } },
  });
  const role = values.role as Role;
  if (!['student', 'registrar', 'service'].includes(role)) throw new Error('--role must be student, registrar or service');
  const subject = role === 'student' ? values.student : (values.subject ?? `${role}-dev`);
  if (!subject || (role === 'student' && !rules.studentId().safeParse(subject).success)) throw new Error('students need --student with an id such as S0001');
  const ttl = Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl <= 0) throw new Error('--ttl must be a positive number of seconds');
  await ensureDevKeys(config.JWT_JWKS_FILE, config.JWT_PRIVATE_KEY_FILE);
  const signer = await TokenSigner.fromFile(config.JWT_PRIVATE_KEY_FILE, config.JWT_ISSUER, config.JWT_AUDIENCE);
  console.log(await signer.sign(subject, role, ttl));
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exit(1);
});
