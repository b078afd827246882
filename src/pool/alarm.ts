/**
 * One unref'd timer that fires at the earliest time it was asked for: a
 * Pool's sweep (idle and lifetime limits) and its next probe after a
 * failure each use one, so a pool with thousands of connections holds two
 * timers, and none keeps the process alive.
 */
export class Alarm {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #at = Infinity;

  constructor(private readonly ring: () => void) {}

  /** Fire at `at` (performance.now() ms), unless already set to fire earlier. */
  setBy(at: number): void {
    if (at >= this.#at) return;
    this.cancel();
    this.#at = at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#at = Infinity;
      this.ring();
    }, Math.max(0, at - performance.now()));
    this.#timer.unref();
  }

  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#at = Infinity;
  }
}
