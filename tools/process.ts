/**
 * Run a child process to its end and collect what it said: the one
 * spawn-and-collect used by the tests (test/) and the benchmark (bench/).
 * It lives here, beside both, because neither should import the other;
 * it is development tooling, so the published package (package.json
 * "files") leaves it out.
 */
import type { Subprocess } from "bun";

/** Long enough for any child the tests or the benchmark start; only a hang should reach it. */
const DEFAULT_HANG_GUARD_MS = 120_000;

export interface RunOptions {
  /** Commands to run it under, e.g. `["prlimit", "--nofile=160:160"]` or an `unshare` line. */
  prefix?: string[];
  /** Working directory (default: this process's). */
  cwd?: string;
  /** Variables added to this process's environment (undefined removes one). */
  env?: Record<string, string | undefined>;
  /** Written to the child's stdin, which then closes; without it stdin is /dev/null. */
  stdin?: string | Uint8Array;
  /** Hang guard: SIGKILL after this many ms (default 120 s); `timedOut` then says so. */
  timeoutMs?: number;
  /** Sees the child as soon as it started, e.g. to track it or to signal it mid-run. */
  onSpawn?: (child: Subprocess) => void;
}

/** How a child ended and everything it wrote. */
export interface Finished {
  /** Exit code, or null when a signal ended it. */
  code: number | null;
  /** The signal that ended it (e.g. "SIGKILL" from the hang guard), or null. */
  signal: NodeJS.Signals | number | null;
  stdout: string;
  stderr: string;
  /** The hang guard killed it. */
  timedOut: boolean;
  wallMs: number;
}

/**
 * Run `cmd` (behind `options.prefix`) to its end, collecting stdout, stderr
 * and how it ended. Never rejects for the child's sake: a failed child is a
 * result. Throws only if the command cannot be started at all.
 */
export async function runProcess(cmd: string[], options: RunOptions = {}): Promise<Finished> {
  const started = performance.now();
  const env = options.env === undefined ? undefined : withoutUndefined({ ...process.env, ...options.env });
  const child = Bun.spawn([...(options.prefix ?? []), ...cmd], {
    cwd: options.cwd,
    env,
    stdin: options.stdin === undefined ? "ignore" : typeof options.stdin === "string" ? Buffer.from(options.stdin) : options.stdin,
    stdout: "pipe",
    stderr: "pipe",
  });
  options.onSpawn?.(child);
  let timedOut = false;
  const guard = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, options.timeoutMs ?? DEFAULT_HANG_GUARD_MS);
  try {
    const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    return { code: child.exitCode, signal: child.signalCode, stdout, stderr, timedOut, wallMs: performance.now() - started };
  } finally {
    clearTimeout(guard);
  }
}

function withoutUndefined(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}
