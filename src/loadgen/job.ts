/**
 * One load-generation job from checked options to report: raise and respect
 * the fd limit, pick the dialer, split the work over worker processes, run
 * the engine, and explain one-second latencies from the kernel's counters.
 * Shared by the CLI and the scripting API.
 */
import { createDialer, hasExchange, type DialPlan } from "./dialer.ts";
import { runHold, runRate, type Progress } from "./engine.ts";
import { acceptQueueNote, counterGrowth, readTcpCounters } from "./kernel-counters.ts";
import { FD_RESERVE, isLoopback, raiseFdLimit } from "./limits.ts";
import type { Job } from "./options.ts";
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
 * Run a job (in `job.workers` processes when more than one) and resolve with
 * its report, plus a note when its p99 reached 1 s while the kernel dropped
 * SYNs meanwhile.
 */
export async function runJob(job: Job, hooks: JobHooks = {}): Promise<Report> {
  const before = readTcpCounters();
  const report = job.workers > 1 ? await runWorkers(job, job.workers, hooks) : await runShare(job, 0, 1, hooks);
  const after = before && readTcpCounters();
  const note = after && acceptQueueNote(report.latencyUs.p99, counterGrowth(before, after));
  if (note) {
    report.notes.push(note);
    hooks.onNote?.(note);
  }
  return report;
}

/** Run worker `index`'s share (of `count`) of a job in this process. */
export async function runShare(job: Job, index: number, count: number, hooks: JobHooks = {}): Promise<Report> {
  const notes: string[] = [];
  const concurrency = capToFdLimit(share(job.concurrency, index, count), job.mode === "hold" ? 1 : 2, notes);
  const plan: DialPlan = {
    target: job.target,
    timeoutMs: job.timeoutMs,
    exchangeTimeoutMs: job.exchangeTimeoutMs,
    closeWith: job.closeWith,
    payload: job.payload,
    expectBytes: job.expectBytes,
    keepAlive: job.mode === "hold",
    maxOpen: concurrency,
  };
  const target = job.target;
  const loopbackV4 = "host" in target && isLoopback(target.host) && target.host !== "::1";
  const sources = job.sources && count > 1 ? job.sources.filter((_, i) => i % count === index) : job.sources;
  const exchange = hasExchange(plan);
  const common = {
    label: job.label,
    concurrency,
    sources: sources?.length ? sources : job.sources,
    // Only uring-connect can bind source addresses (Bun.connect cannot).
    autoSpread: loopbackV4 && !job.sources && job.engine === "uring",
    signal: hooks.signal,
    onProgress: hooks.onProgress,
    onNote: hooks.onNote,
    notes,
    exchange,
  };
  for (const note of notes) hooks.onNote?.(note);

  const dialer = createDialer(job.engine, plan);
  if (dialer.notice) {
    notes.push(dialer.notice);
    hooks.onNote?.(dialer.notice);
  }
  // After the end, in-flight work may take its timeouts to finish (5 s each where there is none), then 1 s more.
  const orDefault = (ms: number) => (ms > 0 ? ms : 5000);
  const graceMs = orDefault(job.timeoutMs) + (exchange ? orDefault(job.exchangeTimeoutMs) : 0) + 1000;
  try {
    if (job.mode === "hold") {
      return await runHold({ ...common, count: concurrency, rampPerSec: job.rampPerSec && job.rampPerSec / count, durationMs: job.durationMs ?? 10_000 }, dialer);
    }
    return await runRate(
      {
        ...common,
        connections: job.connections === undefined ? undefined : share(job.connections, index, count),
        durationMs: job.durationMs,
        rate: job.rate === undefined ? undefined : job.rate / count,
        graceMs,
      },
      dialer,
    );
  } finally {
    dialer.close();
  }
}
