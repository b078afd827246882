/**
 * --workers N: the same job in N processes (one ring each), merged into one
 * report by adding histograms. Each worker (./worker.ts) reads its job as
 * JSON on stdin (a binary payload as base64: no temp files), prints a
 * progress line on stderr every second and its report as JSON on stdout.
 */
import { fileURLToPath } from "node:url";
import { workerFailed } from "../errors.ts";
import type { Progress } from "./engine.ts";
import { readLines } from "./lines.ts";
import { jobToJson, type Job } from "./options.ts";
import { mergeReports, type Report } from "./stats.ts";

const WORKER = fileURLToPath(new URL("./worker.ts", import.meta.url));
/** A worker's stderr line carrying a Progress as JSON. */
export const PROGRESS_PREFIX = "PROGRESS ";
/** A worker's stderr line carrying a note for the user. */
export const NOTE_PREFIX = "note: ";

/** What a worker reads on stdin. */
export interface WorkerInput {
  /** jobToJson's output. */
  job: string;
  index: number;
  count: number;
}

interface Hooks {
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
  onNote?: (note: string) => void;
}

/** Run `job` in `count` worker processes and merge their reports. */
export async function runWorkers(job: Job, count: number, hooks: Hooks): Promise<Report> {
  const encoded = jobToJson(job);
  const latest: Progress[] = [];
  const notes = new Set<string>();
  const workers = Array.from({ length: count }, (_, index) => {
    const worker = Bun.spawn({ cmd: [process.execPath, WORKER], stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    worker.stdin.write(JSON.stringify({ job: encoded, index, count } satisfies WorkerInput));
    void worker.stdin.end();
    return worker;
  });
  // A worker stops on any of these signals and still reports what it did.
  const onAbort = () => workers.forEach((w) => w.kill("SIGINT"));
  if (hooks.signal?.aborted) onAbort();
  else hooks.signal?.addEventListener("abort", onAbort, { once: true });

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
      else if (line.startsWith(NOTE_PREFIX)) {
        if (!notes.has(line)) hooks.onNote?.(line.slice(NOTE_PREFIX.length));
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
          throw workerFailed(index, worker.exitCode, tail.slice(-5).join(" | ") || stdout.slice(0, 200));
        }
      }),
    );
    return mergeReports(reports);
  } finally {
    clearInterval(ticker);
    hooks.signal?.removeEventListener("abort", onAbort);
  }
}
