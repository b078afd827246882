/**
 * The scheduler's two queues, both first in, first out and allocation-free
 * in steady state: `Fifo` for requests waiting for a slot, `IntQueue` for
 * the int32 batches (slot ids, fds) handed to a backend as one typed-array
 * view per call.
 */

/**
 * A first-in-first-out queue of objects over one array and a head index:
 * `shift` is O(1), and the consumed front is cut off in bulk once it is
 * most of the array.
 */
export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  /** How many items wait. */
  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** The oldest item, left in place; undefined when empty. */
  peek(): T | undefined {
    return this.items[this.head];
  }

  /** Remove the oldest item. */
  shift(): void {
    if (this.head === this.items.length) return;
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Empty the queue; returns what it held, oldest first. */
  drain(): T[] {
    const drained = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
    return drained;
  }
}

/**
 * A first-in-first-out queue of int32 values in one growable buffer, so a
 * batch goes to a backend as a view (`head`) with no copy.
 *
 *   buffer  | v0 | v1 | ... | v(length-1) | free ... |
 *           └── head(n): the first n, as an Int32Array view
 */
export class IntQueue {
  private buffer: Int32Array;
  /**
   * head(n)'s views, by n: made once per length (and again when the buffer
   * grows), so a steady stream of batches allocates no views.
   */
  private views: Int32Array[] = [];
  /** How many values are queued. */
  length = 0;

  /** A queue with room for `capacity` values before it first grows. */
  constructor(capacity: number) {
    this.buffer = new Int32Array(Math.max(capacity, 16));
  }

  push(value: number): void {
    if (this.length === this.buffer.length) {
      const grown = new Int32Array(this.buffer.length * 2);
      grown.set(this.buffer);
      this.buffer = grown;
      this.views = [];
    }
    this.buffer[this.length++] = value;
  }

  /** The first `n` values as a view, valid until the queue changes. */
  head(n = this.length): Int32Array {
    return (this.views[n] ??= this.buffer.subarray(0, n));
  }

  /** Remove the first `n` values; the rest keep their order. */
  drop(n: number): void {
    this.buffer.copyWithin(0, n, this.length);
    this.length -= n;
  }

  clear(): void {
    this.length = 0;
  }

  /** Keep only the values `keep` accepts, in order. */
  retain(keep: (value: number) => boolean): void {
    let kept = 0;
    for (let i = 0; i < this.length; i++) {
      const value = this.buffer[i]!;
      if (keep(value)) this.buffer[kept++] = value;
    }
    this.length = kept;
  }

  /**
   * Offer the queue, at most `max` values, to `take` (a backend's prepare
   * call, which takes a prefix) and drop what it took; returns how many
   * that was.
   */
  feed(take: (values: Int32Array) => number, max = this.length): number {
    if (this.length === 0) return 0;
    const taken = take(this.head(Math.min(max, this.length)));
    this.drop(taken);
    return taken;
  }
}
