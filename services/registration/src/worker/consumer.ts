import type { Channel, ConsumeMessage } from 'amqplib';
import { RegistrationRequested } from '../../../../gen/coursereg/events/v1/events';
import type { AmqpConnection } from '../../../shared/src/amqp';
import type { Logger } from '../../../shared/src/logger';
import type { Redis } from '../../../shared/src/redis';
import type { Decider, Prepared } from '../decisions/decider';
import { DEAD_LETTER_QUEUE, declareTopology, shardQueue } from '../messaging/topology';

export interface ConsumerOptions {
  shards: number;
  prefetch: number;
  batchMax: number;
  batchWaitMs: number;
  maxAttempts: number;
}

/**
 * Consumes every request shard with manual acks. Messages of a shard gather
 * into a batch (up to batchMax, or batchWaitMs after the first), the batch is
 * decided in one transaction, and only after the commit are its messages
 * acknowledged. A batch that fails is retried message by message; a message
 * that keeps failing goes to the dead-letter queue and its request ends FAILED.
 */
export function createConsumer(deps: { conn: AmqpConnection; decider: Decider; redis: Redis; log: Logger; options: ConsumerOptions; onDecided?: (n: number) => void }) {
  const { conn, decider, redis, log, options } = deps;
  const shards: { ch: Channel; tag: string; drained: () => Promise<void> }[] = [];
  let stopping = false;

  async function attemptsOf(id: string): Promise<number> {
    const key = `attempts:${id}`;
    const [[, n]] = (await redis.multi().incr(key).expire(key, 86400).exec()) as [unknown, number][];
    return n;
  }

  async function deadLetter(ch: Channel, msg: ConsumeMessage, error: string, attempts: number) {
    ch.sendToQueue(DEAD_LETTER_QUEUE, msg.content, {
      persistent: true,
      contentType: msg.properties.contentType,
      headers: { ...(msg.properties.headers ?? {}), 'x-error': error.slice(0, 500), 'x-attempts': attempts, 'x-original-queue': msg.fields.routingKey },
    });
  }

  async function handleOne(ch: Channel, msg: ConsumeMessage, id: string | undefined) {
    if (!id) {
      await deadLetter(ch, msg, 'undecodable message', 1);
      ch.ack(msg);
      return;
    }
    try {
      const d = await decider.decide([id]);
      deps.onDecided?.(d.registrations.length);
      ch.ack(msg);
    } catch (err) {
      const error = (err as Error).message;
      const attempts = await attemptsOf(id).catch(() => options.maxAttempts);
      if (attempts >= options.maxAttempts) {
        log.error({ registrationId: id, attempts, err: error }, 'request dead-lettered');
        try {
          await decider.fail([id], 'PROCESSING_FAILED', `The request could not be processed after ${attempts} attempts; please try again.`);
        } catch (failErr) {
          log.error({ registrationId: id, err: (failErr as Error).message }, 'could not mark request FAILED; it stays PENDING for the reconciler');
        }
        await deadLetter(ch, msg, error, attempts);
        ch.ack(msg);
      } else {
        log.warn({ registrationId: id, attempts, err: error }, 'request failed; will retry');
        await new Promise((r) => setTimeout(r, 100 * attempts));
        ch.nack(msg, false, true);
      }
    }
  }

  function idsOf(batch: ConsumeMessage[]) {
    return batch.map((m) => {
      try {
        const id = RegistrationRequested.decode(m.content).registrationId;
        return /^[0-9a-f-]{36}$/i.test(id) ? id : undefined;
      } catch {
        return undefined;
      }
    });
  }

  /** Decides a batch whose lock-free part was started earlier (see decider.prepare). */
  async function handleBatch(ch: Channel, batch: ConsumeMessage[], ids: (string | undefined)[], prepared: Promise<Prepared>) {
    try {
      if (ids.some((id) => id === undefined)) throw new Error('batch holds undecodable messages');
      const d = await decider.commit(await prepared);
      deps.onDecided?.(d.registrations.length);
      for (const m of batch) ch.ack(m);
    } catch (err) {
      if (batch.length > 1) log.warn({ size: batch.length, err: (err as Error).message }, 'batch failed; deciding its messages one by one');
      for (let i = 0; i < batch.length; i++) await handleOne(ch, batch[i], ids[i]);
    }
  }

  async function consumeShard(shard: number) {
    const ch = await conn.createChannel();
    ch.on('error', (err: Error) => log.error({ shard, err: err.message }, 'consumer channel error'));
    await declareTopology(ch, options.shards);
    await ch.prefetch(options.prefetch);
    let buffer: ConsumeMessage[] = [];
    let timer: NodeJS.Timeout | undefined;
    let running: Promise<void> = Promise.resolve();
    const flush = () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (buffer.length === 0) return;
      const batch = buffer.splice(0, options.batchMax);
      const ids = idsOf(batch);
      const prepared = decider.prepare(ids.filter((x): x is string => x !== undefined));
      prepared.catch(() => undefined); // a failure surfaces in handleBatch
      running = running.then(() => handleBatch(ch, batch, ids, prepared)).catch((err: Error) => log.error({ err: err.message }, 'batch handling crashed'));
      if (buffer.length > 0) flush();
    };
    const { consumerTag } = await ch.consume(
      shardQueue(shard),
      (msg) => {
        if (!msg || stopping) return;
        buffer.push(msg);
        if (buffer.length >= options.batchMax) flush();
        else if (!timer) timer = setTimeout(flush, options.batchWaitMs);
      },
      { noAck: false },
    );
    shards.push({ ch, tag: consumerTag, drained: () => running });
  }

  return {
    async start() {
      for (let s = 0; s < options.shards; s++) await consumeShard(s);
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      // Stop taking messages, let batches in flight commit and ack, then close;
      // anything unacknowledged goes back to its queue.
      for (const s of shards) await s.ch.cancel(s.tag).catch(() => undefined);
      for (const s of shards) await s.drained();
      for (const s of shards) await s.ch.close().catch(() => undefined);
    },
  };
}
