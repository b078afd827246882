/** Child processes: started in the repo root, tracked so none outlives the run, run to completion under a timeout. */
import type { Subprocess } from "bun";
import { ROOT } from "./paths.ts";

/** Generous: node:net at 10k concurrency is the slowest run and takes seconds, not minutes. */
const CLIENT_TIMEOUT_MS = 180_000;

/** Every child still running, so an error or Ctrl-C never leaves one behind. */
const live = new Set<Subprocess>();

export type Child = Subprocess<"ignore", "pipe", "pipe">;

export function spawn(cmd: string[]): Child {
  const proc = Bun.spawn(cmd, { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  live.add(proc);
  void proc.exited.finally(() => live.delete(proc));
  return proc;
}

export function killAll(): void {
  for (const proc of live) proc.kill("SIGKILL");
  live.clear();
}

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
  wallMs: number;
  timedOut: boolean;
}

/** Run a command to completion, killing it after `timeoutMs`. */
export async function run(cmd: string[], timeoutMs = CLIENT_TIMEOUT_MS): Promise<Finished> {
  const t0 = performance.now();
  const proc = spawn(cmd);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, timeoutMs);
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  return { code: timedOut ? null : code, stdout, stderr, wallMs: performance.now() - t0, timedOut };
}

export function tail(text: string, lines = 5): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Why a finished process counts as failed, or undefined if it succeeded. */
export function failureReason(f: Finished): string | undefined {
  if (f.timedOut) return "timed out";
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
