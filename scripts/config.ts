import { address, loadConfig, port } from '../services/shared/src/config';

/** Settings of the local launcher and tools, read once (same names the services use). */
export const launcherConfig = loadConfig({
  COURSE_GRPC_ADDR: address('127.0.0.1:50051'),
  COURSE_METRICS_PORT: port(9451),
  STUDENT_GRPC_ADDR: address('127.0.0.1:50052'),
  STUDENT_METRICS_PORT: port(9452),
  REGISTRATION_GRPC_ADDR: address('127.0.0.1:50053'),
  REGISTRATION_METRICS_PORT: port(9453),
  WORKER_METRICS_PORT: port(9454),
  GATEWAY_PORT: port(8080),
  GATEWAY_METRICS_PORT: port(9455),
  SEED_STUDENTS: port(5000),
});
