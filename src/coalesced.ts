/**
 * A task run once for however many times it is asked for before it runs:
 * at the end of this tick ("tick": a microtask, after the current
 * callback's synchronous work and the promises it settles), at the end of
 * this event-loop turn ("turn": setImmediate, after the turn's other I/O
 * callbacks, so the work of many of them goes together), or after the
 * timers that are due ("timers": setTimeout 0; in Bun an immediate queued
 * from an immediate's microtasks can run before due timers do). The
 * scheduler's flushes and a Pool's plans are queued this way.
 */
export class Coalesced {
  #queued = false;
  readonly #run = () => {
    this.#queued = false;
    this.task();
  };

  constructor(
    private readonly when: "tick" | "turn" | "timers",
    private readonly task: () => void,
  ) {}

  /** Run the task at the end of this tick or turn, unless that is already queued. */
  queue(): void {
    if (this.#queued) return;
    this.#queued = true;
    if (this.when === "tick") queueMicrotask(this.#run);
    else if (this.when === "turn") setImmediate(this.#run);
    else setTimeout(this.#run, 0);
  }
}
