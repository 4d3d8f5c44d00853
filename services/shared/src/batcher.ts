/**
 * Coalesces single calls that arrive close together into one batched call:
 * the first item starts a `windowMs` timer, and the batch runs when the timer
 * fires or `maxSize` items are waiting. `run` returns one result per item, in
 * order; if it throws, every caller in the batch gets that error.
 *
 * @example
 *   const insert = createBatcher({ maxSize: 500, windowMs: 2, run: (rows) => insertMany(db, rows) });
 *   const id = await insert(row);
 */
export function createBatcher<In, Out>(opts: { maxSize: number; windowMs: number; run: (items: In[]) => Promise<Out[]> }): (item: In) => Promise<Out> {
  let queue: { item: In; resolve: (r: Out) => void; reject: (e: unknown) => void }[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const batch = queue;
    queue = [];
    opts.run(batch.map((b) => b.item)).then(
      (results) => batch.forEach((b, i) => b.resolve(results[i])),
      (err: unknown) => batch.forEach((b) => b.reject(err)),
    );
  };
  return (item) =>
    new Promise<Out>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (queue.length >= opts.maxSize) flush();
      else if (!timer) timer = setTimeout(flush, opts.windowMs);
    });
}
