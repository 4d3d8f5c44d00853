import { connectAmqp } from '../src/amqp';
import { address, integer, loadConfig, port } from '../src/config';
import { checkDependencies, DependencyError } from '../src/dependencies';
import { createTestVhost } from '../testing/harness';

describe('start-up checks', () => {
  test('checkDependencies_whenAllUnreachable_namesEachWithAddressAndHowToStart', async () => {
    const err = await checkDependencies({
      database: 'postgres://postgres@127.0.0.1:1/coursereg',
      redis: 'redis://127.0.0.1:2/0',
      amqp: 'amqp://guest:guest@127.0.0.1:3/',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyError);
    const message = (err as Error).message;
    expect(message).toMatch(/PostgreSQL is not reachable at 127\.0\.0\.1:1 .*start it with/);
    expect(message).toMatch(/Redis is not reachable at 127\.0\.0\.1:2 .*start it with/);
    expect(message).toMatch(/RabbitMQ is not reachable at 127\.0\.0\.1:3 .*start it with/);
  });

  test('checkDependencies_whenAllRunning_passes', async () => {
    await expect(
      checkDependencies({ database: 'postgres://postgres@127.0.0.1:5432/postgres', redis: 'redis://127.0.0.1:6379/0', amqp: 'amqp://guest:guest@127.0.0.1:5672/' }),
    ).resolves.toBeUndefined();
  });

  test('loadConfig_numberSetButEmpty_isRefusedNotReadAsZero', () => {
    for (const empty of ['', '  ']) {
      expect(() => loadConfig({ X_PORT: port(8080) }, { X_PORT: empty })).toThrow(/X_PORT: expected a whole number/);
      expect(() => loadConfig({}, { SHUTDOWN_GRACE_MS: empty })).toThrow(/SHUTDOWN_GRACE_MS: expected a whole number/);
    }
    expect(() => loadConfig({ X_COUNT: integer(1, 10, 5) }, { X_COUNT: '2.5' })).toThrow(/X_COUNT: expected a whole number, got "2.5"/);
    expect(() => loadConfig({ X_COUNT: integer(1, 10, 5) }, { X_COUNT: '11' })).toThrow(/X_COUNT: expected 1 to 10, got 11/);
    expect(loadConfig({ X_PORT: port(8080), X_COUNT: integer(1, 10, 5) }, { X_PORT: ' 0 ' })).toMatchObject({ X_PORT: 0, X_COUNT: 5, SHUTDOWN_GRACE_MS: 10000 });
    expect(() => loadConfig({ X_ADDR: address('a:1') }, { X_ADDR: '127.0.0.1:99999' })).toThrow(/X_ADDR: the port is over 65535/);
  });

  test('loadConfig_withBadValues_namesEveryOffendingVariable', () => {
    expect(() => loadConfig({ X_PORT: port(1) }, { X_PORT: '70000', DATABASE_URL: 'not a url' })).toThrow(/X_PORT[\s\S]*DATABASE_URL|DATABASE_URL[\s\S]*X_PORT/);
    const cfg = loadConfig({ X_PORT: port(1) }, {});
    expect(cfg.X_PORT).toBe(1);
    expect(Object.isFrozen(cfg)).toBe(true);
  });
});

describe('RabbitMQ connection', () => {
  test('connectAmqp_inOwnVhost_publishesWithConfirmAndConsumes', async () => {
    const vhost = createTestVhost('amqp');
    const conn = await connectAmqp(vhost.amqpUrl);
    try {
      const ch = await conn.createConfirmChannel();
      await ch.assertQueue('probe', { durable: true });
      ch.sendToQueue('probe', Buffer.from('hello'), { persistent: true });
      await ch.waitForConfirms();
      const msg = await ch.get('probe', { noAck: false });
      expect(msg && msg.content.toString()).toBe('hello');
      if (msg) ch.ack(msg);
      await ch.close();
    } finally {
      await conn.close();
      vhost.remove();
    }
  });
});
