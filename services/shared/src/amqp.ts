import amqp from 'amqplib';

export type AmqpConnection = amqp.ChannelModel;

/** Connects to RabbitMQ; the vhost is part of the URL, so each run can have its own. */
export async function connectAmqp(url: string): Promise<AmqpConnection> {
  return amqp.connect(url, { clientProperties: { connection_name: 'coursereg' } });
}
