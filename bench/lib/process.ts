/** Child processes: started in the repo root, tracked so none outlives the run, run to completion under a timeout. */
import type { Subprocess } from "bun";
import { runProcess, type Finished } from "../../tools/process.ts";
import { ROOT } from "./paths.ts";

export type { Finished };

/** Generous: node:net at 10k concurrency is the slowest run and takes seconds, not minutes. */
const CLIENT_TIMEOUT_MS = 180_000;

/** Every child still running, so an error or Ctrl-C never leaves one behind. */
const live = new Set<Subprocess>();

export type Child = Subprocess<"ignore", "pipe", "pipe">;

function track(proc: Subprocess): void {
  live.add(proc);
  void proc.exited.finally(() => live.delete(proc));
}

/** Start a long-lived child (e.g. the server) in the repo root, tracked by killAll. */
export function spawn(cmd: string[]): Child {
  const proc = Bun.spawn(cmd, { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  track(proc);
  return proc;
}

export function killAll(): void {
  for (const proc of live) proc.kill("SIGKILL");
  live.clear();
}

/** Run a command to completion in the repo root, tracked by killAll, killed after `timeoutMs`; `env` adds variables. */
export function run(cmd: string[], timeoutMs = CLIENT_TIMEOUT_MS, env?: Record<string, string>): Promise<Finished> {
  return runProcess(cmd, { cwd: ROOT, timeoutMs, onSpawn: track, env });
}

export function tail(text: string, lines = 5): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Why a finished process counts as failed, or undefined if it succeeded. */
export function failureReason(f: Finished): string | undefined {
  if (f.timedOut) return "timed out";
  if (f.code === null) return `killed by ${f.signal}`;
  if (f.code !== 0) return `exit code ${f.code}`;
  return undefined;
}

export function lastJsonLine(stdout: string): unknown {
  const line = stdout.trimEnd().split("\n").pop() ?? "";
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}
