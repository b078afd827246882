/**
 * One load-generation job from checked options to report: raise and respect
 * the fd limit, pick the dialer, split the work over worker processes, run
 * the engine. Shared by the CLI and the scripting API.
 */
import type { CliOptions } from "./args.ts";
import { createDialer, type DialPlan } from "./dialer.ts";
import { runHold, runRate, type Progress } from "./engine.ts";
import { FD_RESERVE, isLoopback, raiseFdLimit } from "./limits.ts";
import type { Report } from "./stats.ts";
import { runWorkers } from "./workers.ts";

export interface JobHooks {
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
  onNote?: (note: string) => void;
}

/** This worker's share of `total` when split `count` ways. */
export function share(total: number, index: number, count: number): number {
  return Math.floor(total / count) + (index < total % count ? 1 : 0);
}

/**
 * Cap what will be open at once below the fd limit, and say so when capping.
 * `fdsEach`: a rate run's connection may still be closing in a kernel worker
 * while its successor opens, so it may need two fds; a held one needs one.
 */
function capToFdLimit(wanted: number, fdsEach: number, notes: string[]): number {
  const { soft } = raiseFdLimit();
  const room = Math.max(1, Math.floor((soft - FD_RESERVE) / fdsEach));
  if (wanted <= room) return wanted;
  notes.push(`capped at ${room} connections at once: RLIMIT_NOFILE is ${soft} (${FD_RESERVE} kept for the runtime${fdsEach > 1 ? ", and each may still be closing while the next opens" : ""})`);
  return room;
}

/**
 * Run a rate or hold job and resolve with its report.
 * `argv` is the job's own command line, handed to worker processes.
 */
export async function runJob(options: CliOptions, argv: string[], hooks: JobHooks = {}): Promise<Report> {
  if (options.command === "compare" || !options.target) throw new Error("runJob needs a rate or hold job with a target");
  if (options.workers > 1 && options.workerIndex === undefined) return runWorkers(argv, options.workers, hooks);

  const index = options.workerIndex ?? 0;
  const count = options.workerIndex === undefined ? 1 : options.workers;
  const notes: string[] = [];
  const concurrency = capToFdLimit(share(options.concurrency, index, count), options.command === "hold" ? 1 : 2, notes);
  const plan: DialPlan = {
    target: options.target,
    timeoutMs: options.timeoutMs,
    closeWith: options.closeWith,
    payload: options.payload,
    expectBytes: options.expectBytes,
    keepAlive: options.command === "hold",
    maxOpen: concurrency,
  };
  const target = options.target;
  const loopbackV4 = "host" in target && isLoopback(target.host) && target.host !== "::1";
  const sources = options.sources && count > 1 ? options.sources.filter((_, i) => i % count === index) : options.sources;
  const common = {
    label: options.label,
    concurrency,
    sources: sources?.length ? sources : options.sources,
    // Only uring-connect can bind source addresses (Bun.connect cannot).
    autoSpread: loopbackV4 && !options.sources && options.engine === "uring",
    signal: hooks.signal,
    onProgress: hooks.onProgress,
    onNote: hooks.onNote,
    notes,
  };
  for (const note of notes) hooks.onNote?.(note);

  const dialer = createDialer(options.engine, plan);
  if (dialer.notice) {
    notes.push(dialer.notice);
    hooks.onNote?.(dialer.notice);
  }
  try {
    if (options.command === "hold") {
      return await runHold({ ...common, count: concurrency, rampPerSec: options.rampPerSec && options.rampPerSec / count, durationMs: options.durationMs ?? 10_000 }, dialer);
    }
    return await runRate(
      {
        ...common,
        connections: options.connections === undefined ? undefined : share(options.connections, index, count),
        durationMs: options.durationMs,
        rate: options.rate === undefined ? undefined : options.rate / count,
        graceMs: options.timeoutMs > 0 ? options.timeoutMs + 1000 : 5000,
      },
      dialer,
    );
  } finally {
    dialer.close();
  }
}
