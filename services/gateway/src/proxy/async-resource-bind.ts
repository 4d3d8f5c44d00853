import { AsyncResource } from 'node:async_hooks';

/**
 * Node 20's `AsyncResource.prototype.bind` gives every function it returns an
 * `asyncResource` getter and setter, each wrapped in `deprecate()` (DEP0172), and
 * `deprecate()` builds closures and sets a function's prototype on every call. The
 * HTTP/2 client's `request()` binds once per request, so the gateway paid for this
 * on every upstream call: `deprecate` alone was 3.8% of its CPU profile. In one
 * `npm run bench:gateway` run beside this replacement, the gateway without it spent
 * 1.10–1.16 times the CPU per call. Node itself has since made the wrappers cheaper
 * and moved to remove the property (nodejs/node#59195, #58618).
 *
 * This puts a `bind` without the deprecation wrappers in its place, for the gateway's
 * process. It behaves the same for callers: the function runs in the resource's async
 * scope (AsyncLocalStorage sees the store from where it was bound), `this` is the
 * caller's or `thisArg`, `length` is the function's, and `asyncResource` names the
 * resource, as a plain property.
 *
 * It changes nothing on a Node whose bound functions have no `asyncResource` accessor.
 * Returns a function that puts Node's own `bind` back, or undefined when nothing was
 * changed (that Node, or already in place).
 */
export function useLeanAsyncResourceBind(): (() => void) | undefined {
  const original = AsyncResource.prototype.bind;
  // Already in place, perhaps by another copy of this module (test runners load one per file).
  if ((original as Marked)[NODE_BIND]) return undefined;
  const probe = new AsyncResource('coursereg.bind-probe').bind(noop);
  if (typeof Object.getOwnPropertyDescriptor(probe, 'asyncResource')?.get !== 'function') return undefined;
  const installed = leanBind as unknown as typeof original & Marked;
  installed[NODE_BIND] = original;
  AsyncResource.prototype.bind = installed;
  return () => {
    if (AsyncResource.prototype.bind === installed) AsyncResource.prototype.bind = original;
  };
}

/** Node's own AsyncResource.prototype.bind, whether or not the replacement is in place. */
export function nodeAsyncResourceBind(): AsyncResource['bind'] {
  return (AsyncResource.prototype.bind as Marked)[NODE_BIND] ?? AsyncResource.prototype.bind;
}

/** Marks the replacement (across copies of this module) and keeps Node's own bind. */
const NODE_BIND = Symbol.for('coursereg.gateway.nodeAsyncResourceBind');
type Marked = { [NODE_BIND]?: AsyncResource['bind'] };

function noop(): void {}

function leanBind(this: AsyncResource, fn: (...args: unknown[]) => unknown, thisArg?: unknown): (...args: unknown[]) => unknown {
  if (typeof fn !== 'function') throw new TypeError(`The "fn" argument must be of type function. Received ${typeof fn}`);
  const resource = this;
  const bound =
    thisArg === undefined
      ? function (this: unknown, ...args: unknown[]) {
          return resource.runInAsyncScope(fn, this, ...args);
        }
      : resource.runInAsyncScope.bind(resource, fn, thisArg);
  Object.defineProperty(bound, 'length', { configurable: true, enumerable: false, writable: false, value: fn.length });
  (bound as { asyncResource?: AsyncResource }).asyncResource = resource;
  return bound;
}
