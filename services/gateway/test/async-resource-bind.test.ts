import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { nodeAsyncResourceBind, useLeanAsyncResourceBind } from '../src/proxy/async-resource-bind';

/**
 * The gateway's replacement for Node 20's AsyncResource.prototype.bind must behave as
 * Node's does for every caller, node:http2's request() first among them.
 */

let restore: (() => void) | undefined;
// Another test file in this process may have started a gateway, which put the replacement in place.
const nodeBind = nodeAsyncResourceBind();

beforeAll(() => {
  AsyncResource.prototype.bind = nodeBind;
  restore = useLeanAsyncResourceBind();
});

afterAll(() => restore?.());

test('onNode20_replacesBind_once_andRestoresIt', () => {
  // Node 20 defines the deprecated accessors, so the replacement is in place.
  expect(restore).toBeDefined();
  expect(AsyncResource.prototype.bind).not.toBe(nodeBind);
  expect(useLeanAsyncResourceBind()).toBeUndefined();
  expect(nodeAsyncResourceBind()).toBe(nodeBind);
  const lean = AsyncResource.prototype.bind;
  restore!();
  expect(AsyncResource.prototype.bind).toBe(nodeBind);
  AsyncResource.prototype.bind = lean;
});

test('bound_runsInTheAsyncContextWhereItWasBound', () => {
  const als = new AsyncLocalStorage<string>();
  const bound = als.run('where it was bound', () => new AsyncResource('test').bind(() => als.getStore()));
  expect(als.run('where it is called', () => bound())).toBe('where it was bound');
  const statics = als.run('static', () => AsyncResource.bind(() => als.getStore()));
  expect(als.run('elsewhere', () => statics())).toBe('static');
});

test('bound_keepsThis_arguments_length_andNamesItsResource', () => {
  const resource = new AsyncResource('test');
  function handler(this: unknown, a: number, b: number, c: number, d: number) {
    return { self: this, sum: a + b + c + d };
  }
  const bound = resource.bind(handler);
  const caller = { name: 'caller' };
  expect(bound.call(caller, 1, 2, 3, 4)).toEqual({ self: caller, sum: 10 });
  // Some frameworks tell handlers apart by arity (an error handler takes four).
  expect(bound.length).toBe(4);
  const fixed = { name: 'fixed' };
  // bind(fn, thisArg): Node's documented second argument, missing from @types/node 20.
  const bindWithThis = resource.bind as unknown as (fn: typeof handler, thisArg: unknown) => typeof handler;
  expect(bindWithThis.call(resource, handler, fixed).call(caller, 1, 1, 1, 1)).toEqual({ self: fixed, sum: 4 });
  expect((bound as unknown as { asyncResource: AsyncResource }).asyncResource).toBe(resource);
  expect(() => resource.bind('not a function' as unknown as () => void)).toThrow(/"fn" argument must be of type function/);
});

test('reading asyncResource emits no deprecation warning', async () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  const bound = new AsyncResource('test').bind(() => 1);
  void (bound as unknown as { asyncResource: AsyncResource }).asyncResource;
  await new Promise((r) => setImmediate(r));
  process.off('warning', onWarning);
  expect(warnings.filter((w) => w.name === 'DeprecationWarning')).toEqual([]);
});

test('http2ClientRequests_stillWork_withTheReplacement', async () => {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200 });
    stream.end(String(headers[':path']));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  try {
    // The first requests are made while the session is still connecting (queued onConnect callbacks).
    const bodies = await Promise.all(
      ['/a', '/b', '/c'].map(
        (path) =>
          new Promise<string>((resolve, reject) => {
            const req = session.request({ ':path': path });
            let body = '';
            req.setEncoding('utf8');
            req.on('data', (c: string) => (body += c));
            req.on('end', () => resolve(body));
            req.on('error', reject);
            req.end();
          }),
      ),
    );
    expect(bodies).toEqual(['/a', '/b', '/c']);
  } finally {
    session.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
