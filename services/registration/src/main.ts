import * as grpc from '@grpc/grpc-js';
import { StudentServiceClient } from '../../../gen/coursereg/student/v1/student_service';
import { connectAmqp } from '../../shared/src/amqp';
import { TokenSigner, serviceAuth } from '../../shared/src/auth';
import { startService } from '../../shared/src/bootstrap';
import { onShutdownSignal } from '../../shared/src/lifecycle';
import { readRegistrationConfig } from './config';
import type { RegistrationDatabase } from './db';
import { createDecider } from './decisions/decider';
import { createDoor } from './door/door';
import { Publisher } from './messaging/publisher';
import { registrationMigrations } from './migrations';
import { SeatStore } from './seats/seats.store';
import { createRegistrationService } from './service';
import { EventHub } from './streams/event-hub';
import { createEligibility } from './students/eligibility.client';

/** Starts the registration service (the door, queries, streams, cart) with the given environment. */
export async function startRegistrationService(env?: Record<string, string | undefined>) {
  const config = readRegistrationConfig(env);
  return startService<RegistrationDatabase>({
    name: 'registration',
    config,
    grpcAddr: config.REGISTRATION_GRPC_ADDR,
    metricsPort: config.REGISTRATION_METRICS_PORT,
    schema: 'registration',
    migrations: registrationMigrations,
    build: async ({ db, redis, log }) => {
      const signer = await TokenSigner.fromFile(config.JWT_PRIVATE_KEY_FILE, config.JWT_ISSUER, config.JWT_AUDIENCE);
      const studentClient = new StudentServiceClient(config.STUDENT_SERVICE_ADDR, grpc.credentials.createInsecure());
      const eligibility = createEligibility(studentClient, serviceAuth(signer, 'registration-service'));
      const seats = new SeatStore(redis, config.SEAT_HOLD_TTL_SECONDS * 1000);
      const publisher = new Publisher(config.AMQP_URL, config.REGISTRATION_SHARDS, log);
      await publisher.ready();
      const conn = await connectAmqp(config.AMQP_URL);
      conn.on('error', (err: Error) => log.error({ err: err.message }, 'amqp connection error'));
      const hub = new EventHub(log);
      await hub.start(conn);
      const decider = createDecider({ db, eligibility, seats, log });
      const door = createDoor({ db, redis, seats, eligibility, publisher, decider, log, shards: config.REGISTRATION_SHARDS, holdMs: config.SEAT_HOLD_TTL_SECONDS * 1000 });
      return {
        services: [createRegistrationService({ db, redis, log, config, door, decider, seats, eligibility, hub })],
        close: async () => {
          await hub.stop();
          await conn.close().catch(() => undefined);
          await publisher.close();
          studentClient.close();
        },
      };
    },
  });
}

if (require.main === module) {
  startRegistrationService().then(
    (svc) => onShutdownSignal(svc.log, svc.stop),
    (err: unknown) => {
      console.error(`registration service failed to start: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
