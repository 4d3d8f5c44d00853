import { RegistrationServiceService, type RegistrationServiceServer } from '../../../gen/coursereg/registration/v1/registration_service';
import type { HostedService } from '../../shared/src/server';
import { auditHandlers } from './audit/audit.handlers';
import { cartHandlers } from './cart/cart.handlers';
import type { RegistrationDeps } from './deps';
import { registrationHandlers } from './registrations/registrations.handlers';
import { streamHandlers } from './streams/streams.handlers';

/** The registration service as a hostable gRPC service, built from its dependencies. */
export function createRegistrationService(deps: RegistrationDeps): HostedService {
  const implementation: RegistrationServiceServer = {
    ...registrationHandlers(deps),
    ...streamHandlers(deps),
    ...cartHandlers(deps),
    ...auditHandlers(deps),
  };
  return {
    name: 'coursereg.registration.v1.RegistrationService',
    protoFile: 'coursereg/registration/v1/registration_service.proto',
    definition: RegistrationServiceService,
    implementation,
  };
}
