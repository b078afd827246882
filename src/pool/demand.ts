/**
 * A Pool's recent demand: the most connections wanted at once (busy plus
 * waiting acquires) during the current window of WINDOW_MS or the one
 * before it, so a burst is remembered for one to two windows, then
 * forgotten. Windows turn over lazily, when observed: no timer.
 */

/** How long one window of demand lasts. */
export const DEMAND_WINDOW_MS = 1000;

export class RecentDemand {
  #current = 0;
  #previous = 0;
  #windowStart = -Infinity;

  /** Record that `wanted` connections are wanted at `now` (performance.now() ms). */
  observe(wanted: number, now: number): void {
    this.#turn(now);
    if (wanted > this.#current) this.#current = wanted;
  }

  /** The most connections wanted at once in this window and the last, as of `now`. */
  peak(now: number): number {
    this.#turn(now);
    return Math.max(this.#current, this.#previous);
  }

  #turn(now: number): void {
    const elapsed = now - this.#windowStart;
    if (elapsed < DEMAND_WINDOW_MS) return;
    this.#previous = elapsed < 2 * DEMAND_WINDOW_MS ? this.#current : 0;
    this.#current = 0;
    this.#windowStart = now;
  }
}
