/**
 * When a Pool may connect again after its target failed: exponential
 * backoff with jitter over rounds of connects.
 *
 * A round is the connects started since the last failure that counted. Only
 * the first failure of a round counts (a batch of 50 refused connects is one
 * failure, not 50), doubles the delay before the next probe and starts a new
 * round. Until the delay has passed the Pool fails fast with `error`; then
 * it probes with one connect at a time until one succeeds.
 *
 *   delay(n) = min(MAX_DELAY_MS, BASE_DELAY_MS * 2^n) * (1 ± JITTER)
 *
 * The streak of failures is forgotten after QUIET_MS without one, or when a
 * connection proves usable (it is handed out), so a new outage starts again
 * from BASE_DELAY_MS; a connect that merely succeeds does not end the streak,
 * because a server that accepts and at once closes must keep backing off.
 */

/** The first delay after a failure. */
export const BASE_DELAY_MS = 100;
/** The longest delay: a target back up is found again within ~this long. */
export const MAX_DELAY_MS = 5000;
/** Each delay is scaled by a random factor in 1 ± JITTER, so many pools do not probe in step. */
export const JITTER = 0.2;
/** A failure this long after the previous one starts a new streak. */
const QUIET_MS = 2 * MAX_DELAY_MS;

/** The backoff state of one Pool's target. */
export class Backoff {
  /** The failure that started the current delay; undefined while the target is reachable. */
  error: Error | undefined = undefined;
  /** Until when (performance.now() ms) the Pool fails fast instead of connecting. */
  until = 0;
  #round = 0;
  #streak = 0;
  #lastFailureAt = -Infinity;

  /** The round a connect started now belongs to. */
  get round(): number {
    return this.#round;
  }

  /** Whether the target's last connect failed (and none has succeeded since). */
  get failing(): boolean {
    return this.error !== undefined;
  }

  /** Whether acquires must fail fast with `error` at `now`. */
  failingFast(now: number): boolean {
    return this.error !== undefined && now < this.until;
  }

  /**
   * A connect started in `round` failed (or its connection died at once) at
   * `now`. Returns the delay before the next probe, or undefined when a
   * failure of the same round already set one.
   */
  fail(round: number, error: Error, now: number): number | undefined {
    this.error = error;
    if (round < this.#round) return undefined;
    if (now - this.#lastFailureAt > QUIET_MS) this.#streak = 0;
    this.#lastFailureAt = now;
    this.#round++;
    const delay = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.#streak) * (1 + JITTER * (2 * Math.random() - 1));
    this.#streak++;
    this.until = now + delay;
    return delay;
  }

  /** A connect succeeded: the target is reachable, so stop failing fast. */
  connected(): void {
    this.error = undefined;
    this.until = 0;
  }

  /** A connection was handed out: the target works; the next outage starts from the first delay. */
  proven(): void {
    this.#streak = 0;
  }
}
