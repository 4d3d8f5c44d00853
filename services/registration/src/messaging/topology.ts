import { createHash } from 'node:crypto';
import type { Channel } from 'amqplib';

/** Where registration requests and events travel in RabbitMQ. */
export const REQUESTS_EXCHANGE = 'registration.requests';
export const DEAD_LETTER_QUEUE = 'registration.requests.dead';
export const EVENTS_EXCHANGE = 'registration.events';

export const shardQueue = (shard: number) => `registration.requests.${shard}`;

/**
 * The shard a section's requests go to. Every request for one section lands in
 * one queue, and each queue has a single active consumer, so one worker decides
 * a section at a time and batches never fight over its seat row.
 */
export function shardOf(sectionId: string, shards: number): number {
  return createHash('sha1').update(sectionId).digest().readUInt32BE(0) % shards;
}

/** Declares exchanges and queues; idempotent, run by every publisher and worker at start. */
export async function declareTopology(ch: Channel, shards: number): Promise<void> {
  await ch.assertExchange(REQUESTS_EXCHANGE, 'direct', { durable: true });
  await ch.assertExchange(EVENTS_EXCHANGE, 'topic', { durable: true });
  await ch.assertQueue(DEAD_LETTER_QUEUE, { durable: true });
  for (let s = 0; s < shards; s++) {
    await ch.assertQueue(shardQueue(s), { durable: true, arguments: { 'x-single-active-consumer': true } });
    await ch.bindQueue(shardQueue(s), REQUESTS_EXCHANGE, String(s));
  }
}

/** Routing keys of events: registration.<state>.<student> and section.seats.<section>. */
export const registrationEventKey = (state: string, studentId: string) => `registration.${state.toLowerCase()}.${studentId}`;
export const seatsEventKey = (sectionId: string) => `section.seats.${sectionId}`;
