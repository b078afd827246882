/**
 * Interleaved runs of a few ways of doing one thing (bench/outbound.ts's
 * measurements): each way once per rep, the order rotating each rep, so
 * drift spreads over all of them; a failed run is recorded, not fatal.
 */
import { rotate } from "./series.ts";

/** A run that failed: which way, which rep, and why. */
export interface RunFailure {
  what: string;
  rep: number;
  reason: string;
  stderrTail: string;
}

/** What a failed run returns instead of its result. */
export type Failed = Omit<RunFailure, "what" | "rep">;

/** A way to measure: its id and its label in tables and progress lines. */
export interface Way<M extends string> {
  mode: M;
  label: string;
}

/** Half the max-min spread of `values`, as % of their median `mid`. */
export const spreadPct = (values: number[], mid: number) => ((Math.max(...values) - Math.min(...values)) / 2 / mid) * 100;
export const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

function isFailed(outcome: unknown): outcome is Failed {
  return typeof outcome === "object" && outcome !== null && "reason" in outcome;
}

/** Run every way once per rep, interleaved, rotating who goes first; failed runs land in `failures`. */
export async function interleave<M extends string, R>(
  ways: readonly Way<M>[],
  reps: number,
  failures: RunFailure[],
  progress: (message: string) => void,
  runOne: (mode: M) => Promise<R | Failed>,
): Promise<Map<M, R[]>> {
  const results = new Map(ways.map(({ mode }) => [mode, [] as R[]]));
  for (let rep = 1; rep <= reps; rep++) {
    for (const { mode, label } of rotate(ways, rep - 1)) {
      progress(`outbound: rep ${rep}/${reps}, ${label.trim()}`);
      const outcome = await runOne(mode);
      if (isFailed(outcome)) failures.push({ what: label.trim(), rep, ...outcome });
      else results.get(mode)!.push(outcome);
    }
  }
  return results;
}
