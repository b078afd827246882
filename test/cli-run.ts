/** The `uring-connect` command run as a user would run it: spawned, its output collected. */
import { join } from "node:path";
import { runProcess, type Finished, type RunOptions } from "../tools/process.ts";

export const CLI = join(import.meta.dir, "..", "src", "cli.ts");

/** Run `uring-connect ARGS` to its end (see runProcess for prefix, onSpawn and the hang guard). */
export function runCli(args: string[], options: RunOptions = {}): Promise<Finished> {
  return runProcess([process.execPath, CLI, ...args], options);
}
