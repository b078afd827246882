/**
 * Side-by-side connect-rate benchmark: uring-connect against Bun.connect,
 * node:net and C liburing clients, all hitting one epoll server; then the
 * event loop during a storm, memory per connect, startup and idle cost, the
 * outbound section (bench/outbound.ts: a warm Pool behind a Bun.serve
 * server, and warming up 1,000 redis connections), and issue 9's and issue
 * 8's goals judged from the figures.
 *
 *   bun bench/connect-rate.ts [--connections N] [--reps R] [--concurrency 100,1000,10000]
 *     [--clients uring,uring-socket,bun,node,c,c-async,c-best,loadgen,loadgen-bun]
 *     [--storm-connections N] [--storm-concurrency C] [--storm-reps R] [--alloc-connections N]
 *     [--retain-connections N] [--c-variants] [--quick] [--json]
 *
 * Every client runs as its own process so no runtime shares a heap, event
 * loop or fd table with another; runs are interleaved and the client order
 * rotates each rep so drift (thermal, page cache, noisy neighbours) spreads
 * over all clients instead of always hitting the same one.
 *
 * This file is the argument handling and the run order; the pieces are in bench/lib/.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { measureAllocation } from "./lib/allocation.ts";
import { raiseBacklogLimits, restoreBacklogLimits } from "./lib/backlog.ts";
import { ensureBuilt, REF } from "./lib/build.ts";
import { cVariantSpecs } from "./lib/c-variants.ts";
import { prepareClients } from "./lib/clients.ts";
import { describeEnvironment } from "./lib/environment.ts";
import { FatalError, UsageError } from "./lib/errors.ts";
import { measureIdle, measureStartup, writeScripts } from "./lib/extras.ts";
import { evaluateGoals } from "./lib/goals.ts";
import { parseOptions, USAGE, type Options } from "./lib/options.ts";
import { measureOutbound, outboundDefaults, outboundGoals, printOutbound } from "./outbound.ts";
import { inPrivateNetns, runInPrivateNetns } from "./lib/netns.ts";
import { makePrinter, makeProgress, plural, type Printer } from "./lib/output.ts";
import { killAll } from "./lib/process.ts";
import {
  printAllocation,
  printCounterLegend,
  printCVariants,
  printFailures,
  printGoals,
  printHeader,
  printIdle,
  printLatency,
  printRateTable,
  printServerShed,
  printStartup,
  printStorm,
  summaryLine,
} from "./lib/report.ts";
import { measureScenarios, type Failure, type Measured, type Runner } from "./lib/series.ts";
import { BenchServer } from "./lib/server.ts";
import { measureStorm } from "./lib/storm.ts";

let tmpDir: string | undefined;

function cleanup(): void {
  killAll();
  restoreBacklogLimits();
  if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
  tmpDir = undefined;
}

/** What --quick leaves out or shrinks, said in the output so no one reads its figures as a full run's. */
function printQuickNote(opts: Options, p: Printer): void {
  if (!opts.quick) return;
  p.line(
    p.warn(
      `  quick     reduced for CI: ${plural(opts.reps, "rep")}, ${plural(opts.stormReps, "storm")}, memory over ${plural(opts.allocConnections, "connect")} / ` +
        `${plural(opts.retainConnections, "connect")} (full run: 3 reps, 5 storms, 100,000 / 1,000,000); the figures are a smoke test, not a measurement`,
    ),
  );
}

/** Every C reference variant at every concurrency, to see which techniques pay here (--c-variants). */
async function measureCVariants(runner: Runner, opts: Options, notes: string[]): Promise<Measured[] | undefined> {
  const problem = await ensureBuilt(REF, Bun.which("gcc"));
  if (problem) {
    notes.push(`C variants skipped: ${problem}`);
    return undefined;
  }
  const scenarios = opts.concurrency.map((concurrency) => ({ concurrency, connections: opts.connections }));
  return measureScenarios({ ...runner, clients: cVariantSpecs() }, "C variants", scenarios, opts.reps);
}

async function main(): Promise<void> {
  const opts = parseOptions(Bun.argv.slice(2));
  const p = makePrinter(opts);
  const progress = makeProgress();
  const notes: string[] = [];
  const env = await describeEnvironment();
  // Before the server starts: its listen() backlog is capped by somaxconn at that moment.
  const backlog = raiseBacklogLimits();
  const clients = await prepareClients(opts, notes);
  const server = await BenchServer.start();
  const failures: Failure[] = [];
  const runner: Runner = { server, clients, failures, notes: [], progress };
  try {
    printHeader(env, opts, server.port, clients, backlog, notes, p);
    printQuickNote(opts, p);

    const scenarios = opts.concurrency.map((concurrency) => ({ concurrency, connections: opts.connections }));
    const rates = await measureScenarios(runner, "rates", scenarios, opts.reps);
    progress("");
    for (const t of rates) {
      printRateTable(t, opts.reps, p);
      printServerShed(t.rows, p);
      printFailures(failures.filter((f) => f.concurrency === t.concurrency && f.connections === t.connections), p);
    }
    printCounterLegend(p);

    let failedBefore = failures.length;
    const latencyScenario = { concurrency: 1, connections: opts.latencyConnections };
    const latency = (await measureScenarios(runner, "latency", [latencyScenario], opts.reps))[0]!;
    progress("");
    printLatency(latency, opts.reps, p);
    printServerShed(latency.rows, p);
    printFailures(failures.slice(failedBefore), p);

    failedBefore = failures.length;
    const storm = await measureStorm(runner, { concurrency: opts.stormConcurrency, connections: opts.stormConnections }, opts.stormReps);
    progress("");
    printStorm(storm, opts.stormReps, p);
    printServerShed(storm.rows, p);
    printFailures(failures.slice(failedBefore), p);

    progress("memory per connect");
    await server.waitIdle();
    const allocation = await measureAllocation(server.port, opts.allocConnections, opts.retainConnections);
    progress("");
    printAllocation(allocation, p);

    tmpDir = mkdtempSync(path.join(os.tmpdir(), "uring-connect-bench-"));
    const scripts = writeScripts(tmpDir);
    progress("import + compile time");
    const startup = await measureStartup(scripts);
    progress("");
    printStartup(startup, p);
    progress("idle CPU");
    await server.waitIdle();
    const idle = await measureIdle(scripts, server.port);
    progress("");
    printIdle(idle, p);

    // Tiny under --quick, so CI keeps it from rotting.
    const outbound = await measureOutbound(outboundDefaults(opts.quick), progress);
    printOutbound(outbound, p);

    let cVariants: Measured[] | undefined;
    if (opts.cVariants) {
      failedBefore = failures.length;
      cVariants = await measureCVariants(runner, opts, runner.notes);
      progress("");
      if (cVariants) printCVariants(cVariants, opts.reps, p);
      printFailures(failures.slice(failedBefore), p);
    }

    const serverStats = await server.stop();
    if (serverStats?.shed) runner.notes.push(`the server shed ${serverStats.shed} connections (out of fds); rates may be skewed`);
    if (runner.notes.length) {
      p.line();
      for (const note of runner.notes) p.line(p.warn(`note: ${note.replaceAll("\n", "\n      ")}`));
    }
    const goals = evaluateGoals({ rates, latency, storm, allocation });
    printGoals(goals, p);
    const goalsOutbound = outboundGoals(outbound);
    printGoals(goalsOutbound, p, "goals (issue 8)");
    const summary = summaryLine(rates);
    p.line();
    p.line(p.bold(summary.text));

    if (opts.json) {
      console.log(
        JSON.stringify({
          environment: env,
          options: opts,
          backlog,
          notes: [...notes, ...runner.notes],
          rates,
          latency,
          storm,
          allocation,
          startup,
          idle,
          cVariants,
          outbound,
          goalsOutbound,
          failures,
          server: serverStats,
          goals,
          summary,
        }),
      );
    }
  } finally {
    await server.stop().catch(() => undefined);
    cleanup();
  }
}

function runHere(): void {
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    process.on(signal, () => {
      cleanup();
      process.stderr.write(`\n${signal}: stopped, bench processes killed\n`);
      process.exit(code);
    });
  }
  // Last resort for the sysctls: an exit path that skipped cleanup() still puts them back.
  process.on("exit", restoreBacklogLimits);

  main().catch((error: unknown) => {
    cleanup();
    if (error instanceof UsageError) console.error(`${error.message}\n${USAGE}`);
    else console.error(error instanceof FatalError ? error.message : error);
    process.exit(error instanceof UsageError ? 2 : 1);
  });
}

// Usage errors and --help are answered here, before any namespace is made.
try {
  parseOptions(Bun.argv.slice(2));
} catch (error) {
  console.error(error instanceof UsageError ? `${error.message}\n${USAGE}` : error);
  process.exit(2);
}
const namespacedExit = await runInPrivateNetns([process.execPath, ...process.argv.slice(1)]);
if (namespacedExit === undefined) runHere();
else process.exit(namespacedExit);
