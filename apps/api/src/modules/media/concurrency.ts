/**
 * Maps `items` through `work` with at most `limit` calls in flight, keeping the input order.
 * Used to bound memory and threads when decoding many frames (sharp queues every call it is
 * given, each holding its decoded pixels).
 *
 * @throws the first error of `work` (calls already started are awaited by no one).
 */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await work(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, Math.floor(limit)), items.length) }, worker));
  return results;
}
