import { EventEmitter } from 'node:events';
import type { Channel } from 'amqplib';
import { RegistrationChanged, SectionSeatsChanged } from '../../../../gen/coursereg/events/v1/events';
import type { AmqpConnection } from '../../../shared/src/amqp';
import type { Logger } from '../../../shared/src/logger';
import { EVENTS_EXCHANGE } from '../messaging/topology';

/**
 * Fans the events exchange out to this process's open streams. Each service
 * replica has its own exclusive, auto-deleted queue bound to the exchange, so
 * every replica sees every event and only forwards what its callers watch.
 */
export class EventHub {
  private readonly emitter = new EventEmitter();
  private channel?: Channel;

  constructor(private readonly log: Logger) {
    this.emitter.setMaxListeners(0);
  }

  async start(conn: AmqpConnection): Promise<void> {
    const ch = await conn.createChannel();
    ch.on('error', (err: Error) => this.log.error({ err: err.message }, 'event hub channel error'));
    await ch.assertExchange(EVENTS_EXCHANGE, 'topic', { durable: true });
    const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
    await ch.bindQueue(queue, EVENTS_EXCHANGE, 'registration.#');
    await ch.bindQueue(queue, EVENTS_EXCHANGE, 'section.#');
    await ch.consume(
      queue,
      (msg) => {
        if (!msg) return;
        try {
          if (msg.fields.routingKey.startsWith('registration.')) {
            const ev = RegistrationChanged.decode(msg.content);
            const r = ev.registration;
            if (r) {
              this.emitter.emit(`student:${r.studentId}`, ev);
              this.emitter.emit(`registration:${r.id}`, ev);
            }
          } else {
            const ev = SectionSeatsChanged.decode(msg.content);
            if (ev.seats) this.emitter.emit(`section:${ev.seats.sectionId}`, ev);
          }
        } catch (err) {
          this.log.warn({ err: (err as Error).message }, 'undecodable event ignored');
        }
      },
      { noAck: true },
    );
    this.channel = ch;
  }

  /** Calls `fn` for each event on a topic until the returned function is called. */
  subscribe<T>(topic: `student:${string}` | `registration:${string}` | `section:${string}`, fn: (ev: T) => void): () => void {
    this.emitter.on(topic, fn);
    return () => this.emitter.off(topic, fn);
  }

  async stop(): Promise<void> {
    await this.channel?.close().catch(() => undefined);
  }
}
