import type { ConfirmChannel } from 'amqplib';
import { connectAmqp, type AmqpConnection } from '../../../shared/src/amqp';
import type { Logger } from '../../../shared/src/logger';
import { declareTopology } from './topology';

/**
 * Publishes persistent messages and resolves each publish when RabbitMQ
 * confirms it. Many publishes are in flight at once on one confirm channel
 * (pipelined confirms). A broken connection is replaced on the next publish.
 */
export class Publisher {
  private conn?: AmqpConnection;
  private channel?: Promise<ConfirmChannel>;
  private closed = false;

  constructor(private readonly url: string, private readonly shards: number, private readonly log: Logger) {}

  private open(): Promise<ConfirmChannel> {
    if (!this.channel) {
      this.channel = (async () => {
        const conn = await connectAmqp(this.url);
        const ch = await conn.createConfirmChannel();
        await declareTopology(ch, this.shards);
        const reset = (why: string) => () => {
          if (this.conn === conn) {
            this.channel = undefined;
            this.conn = undefined;
            if (!this.closed) this.log.warn(`amqp publisher ${why}; reconnecting on next publish`);
          }
        };
        conn.on('error', () => undefined);
        conn.on('close', reset('connection closed'));
        ch.on('error', () => undefined);
        ch.on('close', reset('channel closed'));
        this.conn = conn;
        return ch;
      })();
      this.channel.catch(() => {
        this.channel = undefined;
      });
    }
    return this.channel;
  }

  /** Connects now (start-up), so a missing broker is found before serving. */
  async ready(): Promise<void> {
    await this.open();
  }

  async publish(exchange: string, routingKey: string, body: Buffer, headers: Record<string, unknown> = {}, type?: string): Promise<void> {
    const ch = await this.open();
    await new Promise<void>((resolve, reject) => {
      try {
        ch.publish(exchange, routingKey, body, { persistent: true, contentType: 'application/x-protobuf', type, headers, timestamp: Math.floor(Date.now() / 1000) }, (err) =>
          err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(),
        );
      } catch (err) {
        reject(err);
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const conn = this.conn;
    this.conn = undefined;
    this.channel = undefined;
    await conn?.close().catch(() => undefined);
  }
}
