/**
 * Happy Eyeballs (RFC 8305) for a host name that resolves to both IPv6 and
 * IPv4 addresses: attempts start IPv6 first, alternating families; the next
 * starts when the connection attempt delay has passed or at once when an
 * attempt fails; the first to connect wins and every other attempt is
 * cancelled through the scheduler's ordinary cancel path (its slot is
 * orphaned and a socket that connects anyway is closed when its completion
 * arrives). Only dual-family names come here: literals and single-family
 * names go straight to the scheduler and never allocate a race.
 *
 *   attempt 0 (IPv6) ──────────────x fails ─┐
 *   attempt 1 (IPv4) ── after the delay ────┼─ or at once on a failure
 *   attempt 2 (IPv6) ───────────────────────┘── first to connect wins; the rest are cancelled
 *
 * A `timeout` is one budget for the whole race, counted from its start:
 * each attempt's linked timeout is what is left of it when the attempt
 * starts, and once it is spent no attempt starts.
 */
import { interleaveFamilies, type Endpoint } from "./address.ts";
import { ConnectError } from "./errors.ts";
import type { CheckedOptions } from "./options.ts";
import type { ConnectRequest, Scheduler } from "./scheduler.ts";

/**
 * Connect to the first of `endpoints` (both families) that accepts, racing
 * them as RFC 8305 says. Resolves with the winner's fd. Rejects with the
 * ConnectError of the attempt that failed last when every attempt fails
 * (or the budget ran out), the signal's reason on abort, or the first error
 * that is not a ConnectError (ConnectorClosedError).
 */
export function raceConnect(scheduler: Scheduler, endpoints: readonly Endpoint[], options: CheckedOptions): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    new Race(scheduler, interleaveFamilies(endpoints), options, resolve, reject).start();
  });
}

/** One race: its attempts, the attempt-delay timer and the outcome, settled once. */
class Race {
  /** Index of the next endpoint to try. */
  private next = 0;
  /** Attempts started and not yet failed. */
  private running = 0;
  /** Every attempt started; those already settled ignore a cancel. */
  private readonly attempts: ConnectRequest[] = [];
  private lastError: ConnectError | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private done = false;
  /** performance.now() at which the timeout budget is spent; 0 without a timeout. */
  private readonly deadline: number;
  /** Attempts carry no signal of their own: the race listens once and cancels them all. */
  private readonly attemptOptions: CheckedOptions;
  private readonly onAbort: (() => void) | undefined;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly endpoints: readonly Endpoint[],
    private readonly options: CheckedOptions,
    private readonly resolve: (fd: number) => void,
    private readonly reject: (error: unknown) => void,
  ) {
    this.deadline = options.timeoutMs > 0 ? performance.now() + options.timeoutMs : 0;
    this.attemptOptions = { ...options, signal: undefined };
    const signal = options.signal;
    if (signal) {
      this.onAbort = () => this.fail(signal.reason);
      signal.addEventListener("abort", this.onAbort, { once: true });
    }
  }

  /** Start the next attempt, and arm the delay before the one after it. */
  readonly start = (): void => {
    this.timer = undefined;
    let timeoutMs = 0;
    if (this.deadline > 0) {
      const left = this.deadline - performance.now();
      // Less than a millisecond left: the attempts in flight time out now; start none.
      if (left < 1) return;
      timeoutMs = Math.ceil(left);
    }
    const endpoint = this.endpoints[this.next++]!;
    const options = timeoutMs === this.attemptOptions.timeoutMs ? this.attemptOptions : { ...this.attemptOptions, timeoutMs };
    this.running++;
    this.attempts.push(this.scheduler.start([endpoint], options, this.win, this.attemptFailed));
    if (this.next < this.endpoints.length) this.timer = setTimeout(this.start, this.options.attemptDelayMs);
  };

  /** An attempt connected: it wins; every other attempt is cancelled. */
  private readonly win = (fd: number): void => {
    // Settling cancels every other attempt at once, so no second attempt ever connects here.
    this.settle();
    this.resolve(fd);
  };

  private readonly attemptFailed = (error: unknown): void => {
    this.running--;
    if (this.done) return; // a cancelled loser
    // Not a connect failure (the Connector closed): trying other addresses cannot help.
    if (!(error instanceof ConnectError)) return this.fail(error);
    this.lastError = error;
    // A failure starts the next attempt at once rather than after the delay.
    if (this.next < this.endpoints.length) {
      clearTimeout(this.timer);
      this.start();
    }
    // The last attempt to fail names the outcome: with every address tried
    // that is the last one's error, and when the budget ran out, ETIMEDOUT.
    if (this.running === 0) this.fail(this.lastError);
  };

  private fail(error: unknown): void {
    this.settle();
    this.reject(error);
  }

  /** Settle once: stop the timer, stop listening, cancel every attempt still running. */
  private settle(): void {
    this.done = true;
    clearTimeout(this.timer);
    if (this.onAbort) this.options.signal!.removeEventListener("abort", this.onAbort);
    // The cancelled attempts' rejections come back to attemptFailed, which ignores them.
    for (const attempt of this.attempts) this.scheduler.cancel(attempt, undefined);
  }
}
