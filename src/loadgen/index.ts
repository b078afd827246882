/**
 * Scripting API: the CLI's engines from code. `rate` and `hold` take the
 * CLI's options as an object, checked by the same validator the CLI uses,
 * and resolve with the same report `--json` prints.
 */
import { runJob } from "./job.ts";
import { checkJob, type HoldOptions, type RateOptions } from "./options.ts";
import type { Report } from "./stats.ts";

export type { Report, LatencySummary } from "./stats.ts";
export type { Progress } from "./engine.ts";
export type { RateOptions, HoldOptions } from "./options.ts";
export { mergeReports } from "./stats.ts";

function run(mode: "rate" | "hold", options: RateOptions | HoldOptions): Promise<Report> {
  try {
    const job = checkJob(mode, options);
    return runJob(job, { signal: options.signal, onProgress: options.onProgress });
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Open connections as fast as allowed (or at `rate`), closing each once
 * established (after the exchange, with `send`/`expectBytes`).
 * Returns the report. Rejects with a TypeError/RangeError naming the option
 * for bad input (unknown keys included), before anything is opened.
 */
export function rate(options: RateOptions): Promise<Report> {
  return run("rate", options);
}

/**
 * Open `concurrency` connections, hold them for `duration`, report drops.
 * Rejects like `rate` for bad input.
 */
export function hold(options: HoldOptions): Promise<Report> {
  return run("hold", options);
}
