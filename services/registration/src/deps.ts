import type { Kysely } from 'kysely';
import type { Logger } from '../../shared/src/logger';
import type { Redis } from '../../shared/src/redis';
import type { RegistrationConfig } from './config';
import type { RegistrationDatabase } from './db';
import type { Decider } from './decisions/decider';
import type { Door } from './door/door';
import type { SeatStore } from './seats/seats.store';
import type { EventHub } from './streams/event-hub';
import type { Eligibility } from './students/eligibility.client';

/** What the registration service's handlers are built from. */
export interface RegistrationDeps {
  db: Kysely<RegistrationDatabase>;
  redis: Redis;
  log: Logger;
  config: Pick<RegistrationConfig, 'CART_TTL_SECONDS' | 'CART_MAX_ITEMS'>;
  door: Door;
  decider: Decider;
  seats: SeatStore;
  eligibility: Eligibility;
  hub: EventHub;
}
