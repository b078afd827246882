#!/usr/bin/env bun
/**
 * The `uring-connect` command: argument handling, output and signals only;
 * the work is in src/loadgen/.
 */
import { writeFileSync } from "node:fs";
import { parseCli, USAGE, UsageError, type CliOptions } from "./loadgen/args.ts";
import type { Progress } from "./loadgen/engine.ts";
import { renderHtml } from "./loadgen/html.ts";
import { runJob, type JobHooks } from "./loadgen/job.ts";
import { startLocalServer } from "./loadgen/local-server.ts";
import type { Report } from "./loadgen/stats.ts";
import { formatComparison, formatProgress, formatReport } from "./loadgen/table.ts";
import { PROGRESS_PREFIX, runWorkers } from "./loadgen/workers.ts";

const EXIT_USAGE = 2;
const EXIT_INTERRUPTED = 130;

/** Where progress and notes go: a worker reports to its parent, a terminal gets a live line. */
function hooksFor(options: CliOptions, signal: AbortSignal): JobHooks & { done(): void } {
  const stderr = process.stderr;
  if (options.workerIndex !== undefined) {
    return {
      signal,
      onProgress: (p: Progress) => stderr.write(`${PROGRESS_PREFIX}${JSON.stringify(p)}\n`),
      onNote: (note) => stderr.write(`note: ${note}\n`),
      done() {},
    };
  }
  const live = stderr.isTTY === true;
  let shown = false;
  return {
    signal,
    onProgress: live
      ? (p) => {
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
async function compare(options: CliOptions, argv: string[], hooks: JobHooks): Promise<[Report, Report]> {
  await using server = await startLocalServer();
  hooks.onNote?.(`server: ${server.kind} on 127.0.0.1:${server.port}`);
  // Both runs do the same job: the user's flags, the compare defaults spelled out.
  const length = options.connections === undefined ? ["--duration", `${options.durationMs}ms`] : [];
  const job = ["rate", `127.0.0.1:${server.port}`, ...argv.filter((a) => a !== "compare"), ...length, "--workers", "1"];
  const ours = await runWorkers([...job, "--engine", "uring"], 1, hooks);
  if (hooks.signal?.aborted) return [ours, ours];
  const theirs = await runWorkers([...job, "--engine", "bun"], 1, hooks);
  return [ours, theirs];
}

async function main(argv: string[]): Promise<number> {
  let options: CliOptions;
  try {
    options = parseCli(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`uring-connect: ${error.message}\n\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  const controller = new AbortController();
  // First Ctrl-C: stop and report what was done. Second: leave at once.
  process.on("SIGINT", () => (controller.signal.aborted ? process.exit(EXIT_INTERRUPTED) : controller.abort()));
  const hooks = hooksFor(options, controller.signal);
  try {
    if (options.command === "compare") {
      const [ours, theirs] = await compare(options, argv, hooks);
      hooks.done();
      const ratio = theirs.rate > 0 ? ours.rate / theirs.rate : 0;
      process.stdout.write(options.json ? `${JSON.stringify({ uring: ours, bun: theirs, ratio })}\n` : `${formatComparison(ours, theirs)}\n`);
      if (options.html) writeFileSync(options.html, renderHtml(ours, { comparison: theirs }));
      return ours.interrupted || theirs.interrupted ? EXIT_INTERRUPTED : 0;
    }
    const report = await runJob(options, argv, hooks);
    hooks.done();
    process.stdout.write(options.json ? `${JSON.stringify(report)}\n` : `${formatReport(report)}\n`);
    if (options.html) writeFileSync(options.html, renderHtml(report));
    return report.interrupted ? EXIT_INTERRUPTED : 0;
  } catch (error) {
    hooks.done();
    process.stderr.write(`uring-connect: ${(error as Error).message}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
