#!/usr/bin/env bun
/**
 * The `uring-connect` command: argument handling, output and signals only;
 * the work is in src/loadgen/.
 */
import { writeFileSync } from "node:fs";
import { constants } from "node:os";
import { resolve } from "node:path";
import { UsageError } from "./errors.ts";
import { parseCli, USAGE, type Invocation } from "./loadgen/args.ts";
import type { Progress } from "./loadgen/engine.ts";
import { renderHtml } from "./loadgen/html.ts";
import { runJob, type JobHooks } from "./loadgen/job.ts";
import { startLocalServer } from "./loadgen/local-server.ts";
import { jobToJson, type Job, type JobSettings } from "./loadgen/options.ts";
import type { Report } from "./loadgen/stats.ts";
import { formatComparison, formatProgress, formatReport } from "./loadgen/table.ts";
import { runWorkers } from "./loadgen/workers.ts";

const EXIT_USAGE = 2;
/** Signals that stop a run the way Ctrl-C does: `timeout`, service managers and closed terminals send the others. */
const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
type StopSignal = (typeof STOP_SIGNALS)[number];

/** The shell's convention: 128 + the signal's number (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP). */
const exitCodeFor = (signal: StopSignal) => 128 + constants.signals[signal];

/** Where progress and notes go: a terminal gets a live line; elsewhere only notes, on stderr. */
function hooksFor(signal: AbortSignal): JobHooks & { done(): void } {
  const stderr = process.stderr;
  const live = stderr.isTTY === true;
  let shown = false;
  return {
    signal,
    onProgress: live
      ? (p: Progress) => {
          stderr.write(`\r\x1b[K${formatProgress(p)}`);
          shown = true;
        }
      : undefined,
    onNote: (note) => stderr.write(`${shown ? "\r\x1b[K" : ""}note: ${note}\n`),
    done() {
      if (shown) stderr.write("\r\x1b[K");
    },
  };
}

/** No target: a local server, then the same rate job through each engine in its own process. */
async function compare(settings: JobSettings, hooks: JobHooks): Promise<{ job: Job; ours: Report; theirs: Report }> {
  await using server = await startLocalServer();
  hooks.onNote?.(`server: ${server.kind} on 127.0.0.1:${server.port}`);
  const target = { host: "127.0.0.1", port: server.port };
  const job: Job = { ...settings, target, label: `127.0.0.1:${server.port}`, workers: 1 };
  const ours = await runWorkers({ ...job, engine: "uring" }, 1, hooks);
  if (hooks.signal?.aborted) return { job, ours, theirs: ours };
  const theirs = await runWorkers({ ...job, engine: "bun" }, 1, hooks);
  return { job, ours, theirs };
}

/** Write the HTML page and say where, so the user can open it. */
function writeHtml(path: string, report: Report, job: Job, argv: string[], comparison?: Report): void {
  const file = resolve(path);
  writeFileSync(file, renderHtml(report, { comparison, command: ["uring-connect", ...argv], options: JSON.parse(jobToJson(job)) }));
  process.stderr.write(`uring-connect: wrote the HTML report to ${file}\n`);
}

async function main(argv: string[]): Promise<number> {
  let invocation: Invocation;
  try {
    invocation = parseCli(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`uring-connect: ${error.message}\n\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  if (invocation.command === "help") {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  const controller = new AbortController();
  let stoppedBy: StopSignal = "SIGINT";
  // First signal: stop and report what was done. Second: leave at once.
  for (const signal of STOP_SIGNALS) {
    process.on(signal, () => {
      if (controller.signal.aborted) process.exit(exitCodeFor(stoppedBy));
      stoppedBy = signal;
      controller.abort();
    });
  }
  const hooks = hooksFor(controller.signal);
  const exitCode = (interrupted: boolean) => (interrupted ? exitCodeFor(stoppedBy) : 0);
  try {
    if (invocation.command === "compare") {
      const { job, ours, theirs } = await compare(invocation.settings, hooks);
      hooks.done();
      const ratio = theirs.rate > 0 ? ours.rate / theirs.rate : 0;
      process.stdout.write(invocation.json ? `${JSON.stringify({ uring: ours, bun: theirs, ratio })}\n` : `${formatComparison(ours, theirs)}\n`);
      if (invocation.html) writeHtml(invocation.html, ours, job, argv, theirs);
      return exitCode(ours.interrupted || theirs.interrupted);
    }
    const report = await runJob(invocation.job, hooks);
    hooks.done();
    process.stdout.write(invocation.json ? `${JSON.stringify(report)}\n` : `${formatReport(report)}\n`);
    if (invocation.html) writeHtml(invocation.html, report, invocation.job, argv);
    return exitCode(report.interrupted);
  } catch (error) {
    hooks.done();
    process.stderr.write(`uring-connect: ${(error as Error).message}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
