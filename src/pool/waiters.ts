/**
 * Acquires waiting for a connection, oldest first. Each leaves the queue
 * exactly once: served, timed out (`acquireTimeout`), aborted (its signal)
 * or rejected (fail-fast, close). While any waits, a timer holds the event
 * loop open, as pending work should; an empty queue holds nothing.
 */
import { PoolAcquireTimeoutError } from "../errors.ts";
import { Fifo } from "../queues.ts";
import type { PooledConnection } from "./connection.ts";

/** One waiting acquire. */
interface Waiter {
  resolve(connection: PooledConnection): void;
  reject(error: unknown): void;
  /** Left the queue (served, rejected, timed out or aborted); skipped when reached. */
  done: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export class WaitQueue {
  private readonly queue = new Fifo<Waiter>();
  /** Waiters not done yet (the queue may still hold done ones, skipped lazily). */
  private live = 0;
  /** Holds the event loop open while anyone waits. */
  private hold: ReturnType<typeof setInterval> | undefined;

  get length(): number {
    return this.live;
  }

  /**
   * Wait for a connection: resolves with one given by `serve`, or rejects
   * with PoolAcquireTimeoutError after `timeoutMs` (0: never), or with the
   * signal's reason when it aborts.
   */
  wait(timeoutMs: number, signal: AbortSignal | undefined): Promise<PooledConnection> {
    return new Promise<PooledConnection>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, done: false, timer: undefined, signal, onAbort: undefined };
      if (timeoutMs > 0) {
        waiter.timer = setTimeout(() => {
          this.settle(waiter);
          reject(new PoolAcquireTimeoutError(timeoutMs));
        }, timeoutMs);
        waiter.timer.unref();
      }
      if (signal) {
        waiter.onAbort = () => {
          this.settle(waiter);
          reject(signal.reason);
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.queue.push(waiter);
      if (this.live++ === 0) this.hold = setInterval(() => {}, 1 << 30);
    });
  }

  /** Give `connection` to the oldest waiter; false when none waits. */
  serve(connection: PooledConnection): boolean {
    const waiter = this.next();
    if (!waiter) return false;
    this.settle(waiter);
    waiter.resolve(connection);
    return true;
  }

  /** Reject the oldest waiter with `error`; false when none waits. */
  rejectOldest(error: unknown): boolean {
    const waiter = this.next();
    if (!waiter) return false;
    this.settle(waiter);
    waiter.reject(error);
    return true;
  }

  /** Reject every waiter with `error`, oldest first. */
  rejectAll(error: unknown): void {
    while (this.rejectOldest(error));
  }

  /** The oldest waiter still waiting, taken off the queue; done ones are dropped on the way. */
  private next(): Waiter | undefined {
    for (let waiter = this.queue.peek(); waiter; waiter = this.queue.peek()) {
      this.queue.shift();
      if (!waiter.done) return waiter;
    }
    return undefined;
  }

  /** The one place a waiter leaves: it is counted out once and its timer and listener go. */
  private settle(waiter: Waiter): void {
    waiter.done = true;
    clearTimeout(waiter.timer);
    waiter.signal?.removeEventListener("abort", waiter.onAbort!);
    if (--this.live === 0) {
      clearInterval(this.hold);
      this.hold = undefined;
    }
  }
}
