/**
 * How many completions one event-loop turn settles, so that timers and
 * other I/O keep their turn during a storm.
 *
 * Each settlement runs its caller's continuation in the same turn, and what
 * that costs varies (an fd handed back ~5 µs, a Bun socket adopted ~15 µs),
 * so the budget is learnt: after a turn it cut short, it moves halfway
 * towards the count that would have taken the target time, judged by the
 * turn's length (first settlement to the start of the next turn, the
 * continuations included). Turns it did not cut short say nothing about it.
 */

/** How long one turn's settling may take, its callers' continuations included. */
export const TURN_TARGET_MS = 2;
export const MIN_REAP_BUDGET = 16;
export const MAX_REAP_BUDGET = 2048;
/**
 * Small: a process's first turns run cold (JIT), and a storm's first turn
 * already holds the caller's own burst of connect calls. The budget grows
 * within a few turns where completions are cheap (in a 2,000-connect storm
 * the worst timer gap was 31-33 ms starting at 32, 39-50 ms at 256).
 */
const INITIAL_REAP_BUDGET = 32;
/** A floor on a turn's measured length, so a clock tick of 0 cannot blow the estimate up. */
const MIN_TURN_MS = 0.05;

export class ReapBudget {
  /** Completions a turn may settle. */
  value = INITIAL_REAP_BUDGET;
  /** Completions settled in this turn so far, and when the first was (ms). */
  private settled = 0;
  private startedAt = 0;

  /** How many more this turn may settle. */
  room(): number {
    return Math.max(0, this.value - this.settled);
  }

  /** `n` more were settled (or counted) in this turn, at `now` (ms). */
  add(n: number, now: number): void {
    if (this.settled === 0 && n > 0) this.startedAt = now;
    this.settled += n;
  }

  /** The turn ended at `now`; `cutShort`: completions were left for the next one. */
  endTurn(cutShort: boolean, now: number): void {
    if (cutShort && this.settled > 0) {
      const elapsed = Math.max(now - this.startedAt, MIN_TURN_MS);
      const estimate = (this.settled * TURN_TARGET_MS) / elapsed;
      this.value = Math.round(Math.min(MAX_REAP_BUDGET, Math.max(MIN_REAP_BUDGET, (this.value + estimate) / 2)));
    }
    this.settled = 0;
  }
}
