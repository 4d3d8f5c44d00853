import { RegistrationServiceService, type RegistrationServiceServer } from '../../gen/coursereg/registration/v1/registration_service';
import { readJwks, TokenVerifier } from '../../services/shared/src/auth';
import { address, loadConfig } from '../../services/shared/src/config';
import { failedPrecondition } from '../../services/shared/src/errors';
import { onShutdownSignal } from '../../services/shared/src/lifecycle';
import { createLogger } from '../../services/shared/src/logger';
import { Metrics } from '../../services/shared/src/metrics';
import { startGrpcServer, unary } from '../../services/shared/src/server';

/**
 * Calibration only (`--systems stub`): a Register that checks the token like the
 * real services and then answers SECTION_FULL at once, touching nothing. What
 * the clients reach against it is the ceiling of the load generator plus gRPC
 * on this machine, the most any system could show in this benchmark.
 */
export async function startStubServer(env?: Record<string, string | undefined>) {
  const config = loadConfig({ STUB_GRPC_ADDR: address('127.0.0.1:50064') }, env);
  const log = createLogger('stub-registration', config.LOG_LEVEL);
  const verifier = new TokenVerifier({ jwks: readJwks(config.JWT_JWKS_FILE), issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE });
  const implementation: Pick<RegistrationServiceServer, 'register'> = {
    register: unary(log, 'Register', async () => {
      throw failedPrecondition('SECTION_FULL', 'no seats or waitlist places are left in this section');
    }),
  };
  const [host, port] = config.STUB_GRPC_ADDR.split(':');
  const server = await startGrpcServer({
    host,
    port: Number(port),
    services: [{ name: 'coursereg.registration.v1.RegistrationService', protoFile: 'coursereg/registration/v1/registration_service.proto', definition: RegistrationServiceService, implementation }],
    verifier,
    metrics: new Metrics('stub-registration'),
    log,
  });
  return { log, stop: () => server.shutdown(config.SHUTDOWN_GRACE_MS) };
}

if (require.main === module) {
  startStubServer().then(
    (svc) => onShutdownSignal(svc.log, svc.stop),
    (err: unknown) => {
      console.error(`stub server failed to start: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
