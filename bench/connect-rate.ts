/**
 * Side-by-side connect-rate benchmark: uring-connect against Bun.connect,
 * node:net and a C liburing client, all hitting one epoll server.
 *
 *   bun bench/connect-rate.ts [--connections N] [--reps R]
 *     [--concurrency 100,1000,10000] [--clients uring,bun,node,c,c-async,loadgen,loadgen-bun] [--quick] [--json]
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
import { prepareClients } from "./lib/clients.ts";
import { describeEnvironment } from "./lib/environment.ts";
import { FatalError, UsageError } from "./lib/errors.ts";
import { measureIdle, measureStartup, writeScripts } from "./lib/extras.ts";
import { parseOptions, USAGE } from "./lib/options.ts";
import { makePrinter, makeProgress } from "./lib/output.ts";
import { killAll } from "./lib/process.ts";
import { printFailures, printHeader, printIdle, printLatency, printRateTable, printStartup, summaryLine } from "./lib/report.ts";
import { measureScenarios, type Failure, type Runner } from "./lib/series.ts";
import { BenchServer } from "./lib/server.ts";

let tmpDir: string | undefined;

function cleanup(): void {
  killAll();
  if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
  tmpDir = undefined;
}

async function main(): Promise<void> {
  const opts = parseOptions(Bun.argv.slice(2));
  const p = makePrinter(opts);
  const progress = makeProgress();
  const notes: string[] = [];
  const env = await describeEnvironment();
  const clients = await prepareClients(opts, notes);
  const server = await BenchServer.start();
  const failures: Failure[] = [];
  const runner: Runner = { server, clients, failures, notes: [], progress };
  try {
    printHeader(env, opts, server.port, clients, notes, p);

    const scenarios = opts.concurrency.map((concurrency) => ({ concurrency, connections: opts.connections }));
    const rates = await measureScenarios(runner, "rates", scenarios, opts.reps);
    progress("");
    for (const t of rates) {
      printRateTable(t, opts.reps, p);
      printFailures(failures.filter((f) => f.concurrency === t.concurrency && f.connections === t.connections), p);
    }

    const failedBefore = failures.length;
    const latencyScenario = { concurrency: 1, connections: opts.latencyConnections };
    const latency = (await measureScenarios(runner, "latency", [latencyScenario], opts.reps))[0]!;
    progress("");
    printLatency(latency, opts.reps, p);
    printFailures(failures.slice(failedBefore), p);

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

    const serverStats = await server.stop();
    if (serverStats?.shed) runner.notes.push(`the server shed ${serverStats.shed} connections (out of fds); rates may be skewed`);
    if (runner.notes.length) {
      p.line();
      for (const note of runner.notes) p.line(p.warn(`note: ${note.replaceAll("\n", "\n      ")}`));
    }
    const summary = summaryLine(rates);
    p.line();
    p.line(p.bold(summary.text));

    if (opts.json) {
      console.log(JSON.stringify({ environment: env, options: opts, notes: [...notes, ...runner.notes], rates, latency, startup, idle, failures, server: serverStats, summary }));
    }
  } finally {
    await server.stop().catch(() => undefined);
    cleanup();
  }
}

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  process.on(signal, () => {
    cleanup();
    process.stderr.write(`\n${signal}: stopped, bench processes killed\n`);
    process.exit(code);
  });
}

main().catch((error: unknown) => {
  cleanup();
  if (error instanceof UsageError) console.error(`${error.message}\n${USAGE}`);
  else console.error(error instanceof FatalError ? error.message : error);
  process.exit(error instanceof UsageError ? 2 : 1);
});
