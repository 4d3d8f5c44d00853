import type { RegistrationDb } from '../db';

export interface OutboxMessage {
  routingKey: string;
  messageType: string;
  payload: Buffer;
}

/** Adds messages to the outbox inside the caller's transaction. */
export async function appendOutbox(trx: RegistrationDb, messages: readonly OutboxMessage[]): Promise<void> {
  if (messages.length === 0) return;
  await trx
    .insertInto('registration.outbox')
    .values(messages.map((m) => ({ routing_key: m.routingKey, message_type: m.messageType, payload: m.payload })))
    .execute();
}

export async function oldestOutbox(db: RegistrationDb, limit: number) {
  return db.selectFrom('registration.outbox').selectAll().orderBy('id').limit(limit).execute();
}

export async function deleteOutbox(db: RegistrationDb, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.deleteFrom('registration.outbox').where('id', 'in', ids as never).execute();
}
