/**
 * --workers N: the same job in N processes (one ring each), merged into one
 * report by adding histograms. Each worker prints its report as JSON on
 * stdout and a progress line on stderr every second.
 */
import { fileURLToPath } from "node:url";
import type { Progress } from "./engine.ts";
import { readLines } from "./lines.ts";
import { mergeReports, type Report } from "./stats.ts";

const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));
export const PROGRESS_PREFIX = "PROGRESS ";

interface Hooks {
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
  onNote?: (note: string) => void;
}

/** Strip the flags a worker gets from its parent. */
function baseArgs(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--json") continue;
    if (arg === "--html" || arg === "--worker-index") {
      i++;
      continue;
    }
    if (arg.startsWith("--html=") || arg.startsWith("--worker-index=")) continue;
    out.push(arg);
  }
  return out;
}

/** Run `argv` in `count` worker processes and merge their reports. */
export async function runWorkers(argv: string[], count: number, hooks: Hooks): Promise<Report> {
  const args = baseArgs(argv);
  const latest: Progress[] = [];
  const notes = new Set<string>();
  const workers = Array.from({ length: count }, (_, index) =>
    Bun.spawn({
      cmd: [process.execPath, CLI, ...args, "--json", "--worker-index", String(index)],
      stdout: "pipe",
      stderr: "pipe",
    }),
  );
  const onAbort = () => workers.forEach((w) => w.kill("SIGINT"));
  hooks.signal?.addEventListener("abort", onAbort, { once: true });

  const ticker = setInterval(() => {
    if (latest.length === 0) return;
    const sum = (field: "connects" | "rateNow" | "inFlight" | "errors") => latest.reduce((t, p) => t + (p?.[field] ?? 0), 0);
    hooks.onProgress?.({
      elapsedMs: Math.max(...latest.map((p) => p?.elapsedMs ?? 0)),
      connects: sum("connects"),
      rateNow: sum("rateNow"),
      inFlight: sum("inFlight"),
      errors: sum("errors"),
    });
  }, 1000);

  const watchStderr = async (index: number, stream: ReadableStream<Uint8Array>, tail: string[]) => {
    for await (const line of readLines(stream)) {
      if (line.startsWith(PROGRESS_PREFIX)) latest[index] = JSON.parse(line.slice(PROGRESS_PREFIX.length));
      else if (line.startsWith("note: ")) {
        if (!notes.has(line)) hooks.onNote?.(line.slice(6));
        notes.add(line);
      } else tail.push(line);
    }
  };

  try {
    const reports = await Promise.all(
      workers.map(async (worker, index) => {
        const tail: string[] = [];
        const [stdout] = await Promise.all([new Response(worker.stdout).text(), watchStderr(index, worker.stderr, tail), worker.exited]);
        try {
          return JSON.parse(stdout) as Report;
        } catch {
          throw new Error(`worker ${index} failed (exit ${worker.exitCode}): ${tail.slice(-5).join(" | ") || stdout.slice(0, 200)}`);
        }
      }),
    );
    return mergeReports(reports);
  } finally {
    clearInterval(ticker);
    hooks.signal?.removeEventListener("abort", onAbort);
  }
}
