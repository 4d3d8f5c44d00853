import * as grpc from '@grpc/grpc-js';
import { RegistrationServiceService } from '../../gen/coursereg/registration/v1/registration_service';
import { StudentServiceClient } from '../../gen/coursereg/student/v1/student_service';
import { readJwks, serviceAuth, TokenSigner, TokenVerifier } from '../../services/shared/src/auth';
import { address, loadConfig } from '../../services/shared/src/config';
import { createDb } from '../../services/shared/src/db';
import { onShutdownSignal } from '../../services/shared/src/lifecycle';
import { createLogger } from '../../services/shared/src/logger';
import { Metrics } from '../../services/shared/src/metrics';
import { startGrpcServer } from '../../services/shared/src/server';
import { naiveHandlers } from './register';

/**
 * The naive baseline server for the rush benchmark: RegistrationService.Register
 * only (other methods answer UNIMPLEMENTED), with the same token check, server
 * library and database pool size as the real services. Not part of the product.
 */
export async function startNaiveServer(env?: Record<string, string | undefined>) {
  const config = loadConfig({ NAIVE_GRPC_ADDR: address('127.0.0.1:50063'), STUDENT_SERVICE_ADDR: address('127.0.0.1:50052') }, env);
  const log = createLogger('naive-registration', config.LOG_LEVEL);
  const { db } = createDb<any>(config.DATABASE_URL, config.DATABASE_POOL_SIZE);
  const verifier = new TokenVerifier({ jwks: readJwks(config.JWT_JWKS_FILE), issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE });
  const signer = await TokenSigner.fromFile(config.JWT_PRIVATE_KEY_FILE, config.JWT_ISSUER, config.JWT_AUDIENCE);
  const students = new StudentServiceClient(config.STUDENT_SERVICE_ADDR, grpc.credentials.createInsecure());
  const [host, port] = config.NAIVE_GRPC_ADDR.split(':');
  const server = await startGrpcServer({
    host,
    port: Number(port),
    services: [
      {
        name: 'coursereg.registration.v1.RegistrationService',
        protoFile: 'coursereg/registration/v1/registration_service.proto',
        definition: RegistrationServiceService,
        implementation: naiveHandlers({ db, students, serviceAuth: serviceAuth(signer, 'naive-registration'), log }),
      },
    ],
    verifier,
    metrics: new Metrics('naive-registration'),
    log,
  });
  log.info({ port: server.port }, 'naive registration listening');
  return {
    log,
    async stop() {
      await server.shutdown(config.SHUTDOWN_GRACE_MS);
      students.close();
      await db.destroy();
    },
  };
}

if (require.main === module) {
  startNaiveServer().then(
    (svc) => onShutdownSignal(svc.log, svc.stop),
    (err: unknown) => {
      console.error(`naive registration server failed to start: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
