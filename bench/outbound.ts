/**
 * Outbound benchmarks (issue 8): what a warm Pool buys a Bun server.
 *
 * - Fresh upstream per request (bench/lib/fresh-upstream.ts): a Bun.serve
 *   server opens one fresh upstream connection per HTTP request, from a
 *   warm Pool or from Bun.connect, under 64 keep-alive HTTP clients.
 *   Requests/s, p50 and p99.
 * - Warm-up (bench/lib/warmup.ts): the time until 1,000 connections to a
 *   redis-server started for the run are open: pool.ready() against 1,000
 *   ioredis clients, 1,000 net.connect and others, each in a fresh process.
 *
 *   bun bench/outbound.ts [--quick] [--reps R] [--requests N] [--connections N] [--json]
 *
 * Runs alone, or as a section of bench/connect-rate.ts. Each measurement's
 * ways interleave, the order rotating each rep; figures are medians over reps.
 */
import os from "node:os";
import { raiseBacklogLimits, restoreBacklogLimits } from "./lib/backlog.ts";
import { describeEnvironment } from "./lib/environment.ts";
import { FatalError, UsageError } from "./lib/errors.ts";
import { measureFreshUpstream, printFreshUpstream, type FreshUpstream } from "./lib/fresh-upstream.ts";
import type { Goal } from "./lib/goals.ts";
import type { RunFailure } from "./lib/interleave.ts";
import { inPrivateNetns, runInPrivateNetns } from "./lib/netns.ts";
import { positiveInt } from "./lib/options.ts";
import { fmtRatio, makePrinter, makeProgress, type Printer } from "./lib/output.ts";
import { killAll } from "./lib/process.ts";
import { printGoals } from "./lib/report.ts";
import { measureWarmup, printWarmup, type Warmup, type WarmupMode } from "./lib/warmup.ts";

export interface OutboundOptions {
  quick: boolean;
  reps: number;
  /** HTTP requests per run of the fresh-upstream measurement (after an unrecorded warm-up). */
  requests: number;
  /** Concurrent keep-alive HTTP clients. */
  httpClients: number;
  /** Connections to redis per warm-up run. */
  connections: number;
}

/** Full size, or a tiny version for CI (--quick) that only keeps the code from rotting. */
export function outboundDefaults(quick: boolean): OutboundOptions {
  return { quick, reps: quick ? 1 : 5, requests: quick ? 500 : 20_000, httpClients: 64, connections: quick ? 100 : 1000 };
}

const USAGE = "usage: bun bench/outbound.ts [--quick] [--reps R] [--requests N] [--connections N] [--json]";
const FRESH_GOAL = 1.15;
const WARMUP_GOAL = 3;
const WARMUP_GOAL_CONNECTIONS = 1000;

export interface Outbound {
  options: OutboundOptions;
  fresh: FreshUpstream;
  warmup: Warmup;
  failures: RunFailure[];
}

/** Both measurements; failed runs are listed in `failures`, a missing redis-server makes the warm-up say so. */
export async function measureOutbound(opts: OutboundOptions, progress: (message: string) => void): Promise<Outbound> {
  const failures: RunFailure[] = [];
  const fresh = await measureFreshUpstream(opts, failures, progress);
  const warmup = await measureWarmup(opts, failures, progress);
  progress("");
  return { options: opts, fresh, warmup, failures };
}

export function printOutbound(o: Outbound, p: Printer): void {
  printFreshUpstream(o.fresh, p);
  printWarmup(o.warmup, p);
  for (const f of o.failures) {
    p.line(p.warn(`  ! ${f.what} failed (rep ${f.rep}): ${f.reason}`));
    for (const line of f.stderrTail.split("\n").filter(Boolean)) p.line(p.warn(`      ${line}`));
  }
}

/** Issue 8's two benchmark goals, judged from a full-size run (a --quick run's figures are not judged). */
export function outboundGoals(o: Outbound): Goal[] {
  const judged = !o.options.quick;
  const pool = o.fresh.rows.find((r) => r.mode === "pool")?.vsBunConnect;
  const goals: Goal[] = [
    {
      goal: `fresh upstream connection per request, ${o.fresh.httpClients} HTTP clients: warm Pool ≥ ${FRESH_GOAL}× Bun.connect's requests/s`,
      figure: pool === undefined ? "not measured" : `${fmtRatio(pool)}${judged ? "" : " (quick run)"}`,
      met: pool === undefined || !judged ? undefined : pool >= FRESH_GOAL,
    },
  ];
  const name = `warm-up of ${WARMUP_GOAL_CONNECTIONS.toLocaleString("en-US")} redis connections: pool.ready() ≥ ${WARMUP_GOAL}× faster than ioredis clients and than net.connect`;
  const warmup = o.warmup;
  if ("skipped" in warmup) {
    goals.push({ goal: name, figure: `not measured (${warmup.skipped})`, met: undefined });
    return goals;
  }
  const faster = (mode: WarmupMode) => warmup.rows.find((r) => r.mode === mode)?.poolFaster;
  const [ioredis, net] = [faster("ioredis"), faster("net")];
  const measured = ioredis !== undefined && net !== undefined;
  const fullSize = judged && warmup.connections >= WARMUP_GOAL_CONNECTIONS;
  goals.push({
    goal: name,
    figure: measured ? `${fmtRatio(ioredis)} ioredis, ${fmtRatio(net)} net.connect${fullSize ? "" : ` (${warmup.connections} connections, quick run)`}` : "not measured",
    met: measured && fullSize ? ioredis >= WARMUP_GOAL && net >= WARMUP_GOAL : undefined,
  });
  return goals;
}

function parseArgs(argv: string[]): { options: OutboundOptions; json: boolean } {
  const options = outboundDefaults(argv.includes("--quick"));
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === "--quick") continue;
    else if (flag === "--json") json = true;
    else if (flag === "--reps") options.reps = positiveInt(flag, argv[++i]);
    else if (flag === "--requests") options.requests = positiveInt(flag, argv[++i]);
    else if (flag === "--connections") options.connections = positiveInt(flag, argv[++i]);
    else if (flag === "--help" || flag === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else throw new UsageError(`unknown argument ${flag}`);
  }
  return { options, json };
}

function printHeader(p: Printer, backlogNote: string | undefined, quick: boolean, env: Awaited<ReturnType<typeof describeEnvironment>>): void {
  const [one, five, fifteen] = os.loadavg().map((n) => n.toFixed(2));
  p.line(p.bold("uring-connect outbound benchmark"));
  p.line(`  kernel ${env.kernel}, bun ${env.bun}, liburing ${env.liburing}, ${env.cpus} × ${env.cpuModel}`);
  p.line(`  network: ${inPrivateNetns() ? "a network namespace of the bench's own (loopback only)" : "the machine's network namespace"}`);
  p.line(`  load average ${one}, ${five}, ${fifteen} at start`);
  if (backlogNote) p.line(p.warn(`  note: ${backlogNote}`));
  if (quick) p.line(p.warn("  quick: reduced for CI; the figures are a smoke test, not a measurement"));
}

/** Run alone: in the bench's own network namespace when root, with the accept-queue limits raised, as connect-rate.ts does. */
async function main(): Promise<void> {
  const { options, json } = parseArgs(Bun.argv.slice(2));
  const namespacedExit = await runInPrivateNetns([process.execPath, ...process.argv.slice(1)]);
  if (namespacedExit !== undefined) process.exit(namespacedExit);
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    process.on(signal, () => {
      killAll();
      restoreBacklogLimits();
      process.exit(code);
    });
  }
  const p = makePrinter({ json });
  // Before any server starts: listen() reads somaxconn then.
  const backlog = raiseBacklogLimits();
  try {
    const env = await describeEnvironment();
    printHeader(p, backlog.limitNote, options.quick, env);
    const outbound = await measureOutbound(options, makeProgress());
    printOutbound(outbound, p);
    const goals = outboundGoals(outbound);
    printGoals(goals, p, "goals (issue 8)");
    if (json) console.log(JSON.stringify({ environment: env, ...outbound, goals }));
  } finally {
    killAll();
    restoreBacklogLimits();
  }
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    killAll();
    restoreBacklogLimits();
    console.error(error instanceof UsageError ? `${error.message}\n${USAGE}` : error instanceof FatalError ? error.message : error);
    process.exit(error instanceof UsageError ? 2 : 1);
  });
}
