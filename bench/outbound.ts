/**
 * Outbound benchmarks (issue 8): what a warm Pool buys a Bun server.
 *
 * - Fresh upstream per request: a Bun.serve server
 *   (bench/clients/fresh-upstream.ts) opens one fresh upstream connection
 *   per HTTP request (sends a line to the C echo server, reads it back,
 *   closes it), taken already open from a warm Pool or opened by
 *   Bun.connect; a separate process (bench/clients/http-load.ts) drives it
 *   with 64 keep-alive fetch loops. Requests/s, p50 and p99.
 * - Warm-up: the time until 1,000 connections to a redis-server started for
 *   the run are open (bench/clients/redis-warmup.ts): pool.ready() against
 *   1,000 ioredis clients, 1,000 net.connect and others, each run in a
 *   fresh process.
 *
 *   bun bench/outbound.ts [--quick] [--reps R] [--requests N] [--connections N] [--json]
 *
 * Runs alone, or as a section of bench/connect-rate.ts. Each measurement's
 * ways interleave, the order rotating each rep; figures are medians over reps.
 */
import os from "node:os";
import path from "node:path";
import { counterGrowth, readTcpCounters } from "../src/loadgen/kernel-counters.ts";
import { readLines } from "../src/loadgen/lines.ts";
import { serverMissing, startRedis, type RedisServer } from "../tools/servers.ts";
import type { ClientReport } from "./clients/common.mjs";
import { redisConnectedClients } from "./clients/redis-info.ts";
import { raiseBacklogLimits, RAISED_BACKLOG, restoreBacklogLimits } from "./lib/backlog.ts";
import { describeEnvironment } from "./lib/environment.ts";
import { UsageError } from "./lib/errors.ts";
import type { Goal } from "./lib/goals.ts";
import { inPrivateNetns, runInPrivateNetns } from "./lib/netns.ts";
import { positiveInt } from "./lib/options.ts";
import { fmtErrors, fmtMs, fmtRate, fmtRatio, fmtSpread, makePrinter, makeProgress, plural, renderTable, type Printer } from "./lib/output.ts";
import { BENCH, BUN } from "./lib/paths.ts";
import { failureReason, killAll, lastJsonLine, run, spawn, tail } from "./lib/process.ts";
import { printGoals } from "./lib/report.ts";
import { rotate } from "./lib/series.ts";
import { BenchServer, HOST } from "./lib/server.ts";
import { median } from "./lib/stats.ts";

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

const FRONT = path.join(BENCH, "clients/fresh-upstream.ts");
const HTTP_LOAD = path.join(BENCH, "clients/http-load.ts");
const WARMUP = path.join(BENCH, "clients/redis-warmup.ts");
/** Connections the pool keeps open at least, per HTTP client: twice their number, so a burst never waits for a connect. */
const POOL_MIN_PER_CLIENT = 2;
/** The pool's max, per HTTP client: room for its refills while connections wait to close. */
const POOL_MAX_PER_CLIENT = 8;
/** Only a hang should reach these. */
const FRONT_START_GUARD_MS = 30_000;
const REDIS_IDLE_GUARD_MS = 10_000;

const FRESH_GOAL = 1.15;
const WARMUP_GOAL = 3;
const WARMUP_GOAL_CONNECTIONS = 1000;

const FRESH_MODES = [
  { mode: "pool", label: "warm Pool (acquire, destroy)" },
  { mode: "bun", label: "Bun.connect per request" },
] as const;
type FreshMode = (typeof FRESH_MODES)[number]["mode"];

const WARMUP_MODES = [
  { mode: "pool", label: "pool.ready() (min = N)" },
  { mode: "ioredis", label: "N ioredis clients, 'ready'" },
  { mode: "ioredis-fast", label: "  same, enableReadyCheck: false" },
  { mode: "net", label: "N net.connect, 'connect'" },
  { mode: "bun", label: "N Bun.connect" },
  { mode: "connectfd", label: "N connectFd (Connector alone)" },
] as const;
type WarmupMode = (typeof WARMUP_MODES)[number]["mode"];

/** A run that failed: which, and why. */
export interface OutboundFailure {
  what: string;
  rep: number;
  reason: string;
  stderrTail: string;
}
type Failed = Omit<OutboundFailure, "what" | "rep">;

interface FreshRun extends ClientReport {
  /** Connections the upstream accepted during the run (the warm-up's and the pool's prewarm included). */
  upstreamAccepted: number;
  /** What the front server said at the end. */
  served: number;
  cpuUs: number;
  acquiresWithoutIdle: number;
  failures: Record<string, number>;
}

export interface FreshRow {
  mode: FreshMode;
  label: string;
  ok: number;
  runs: number;
  rate: number | undefined;
  spreadPct: number | undefined;
  vsBunConnect: number | undefined;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  /** Upstream connections accepted per request answered: ~1 when every request had a fresh one. */
  upstreamPerRequest: number | undefined;
  /** The front server's CPU (all its threads, kernel included) per request. */
  cpuUsPerRequest: number | undefined;
  /** Acquires that found no idle connection, over all runs (pool only). */
  acquiresWithoutIdle: number;
  errors: Record<string, number>;
}

export interface FreshUpstream {
  requests: number;
  httpClients: number;
  reps: number;
  upstream: string;
  rows: FreshRow[];
}

interface WarmupRun {
  ms: number;
  connectorMs?: number;
  /** What redis counted while they were all open. */
  serverClients: number;
  overflows: number | undefined;
}

export interface WarmupRow {
  mode: WarmupMode;
  label: string;
  ok: number;
  runs: number;
  ms: number | undefined;
  spreadPct: number | undefined;
  /** This way's time over pool.ready()'s: how many times faster the pool is. */
  poolFaster: number | undefined;
  connectorMs: number | undefined;
  /** The fewest clients redis counted in any run (N when every run really had them all open). */
  serverClients: number | undefined;
  overflows: number | undefined;
}

export type Warmup = { connections: number; reps: number; rows: WarmupRow[] } | { skipped: string };

export interface Outbound {
  options: OutboundOptions;
  fresh: FreshUpstream;
  warmup: Warmup;
  failures: OutboundFailure[];
}

const spreadPct = (values: number[], mid: number) => ((Math.max(...values) - Math.min(...values)) / 2 / mid) * 100;
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** Run every mode once per rep, interleaved, rotating who goes first; failed runs land in `failures`. */
async function interleave<M extends string, R>(
  modes: readonly { mode: M; label: string }[],
  reps: number,
  failures: OutboundFailure[],
  progress: (message: string) => void,
  runOne: (mode: M) => Promise<R | Failed>,
): Promise<Map<M, R[]>> {
  const results = new Map(modes.map(({ mode }) => [mode, [] as R[]]));
  for (let rep = 1; rep <= reps; rep++) {
    for (const { mode, label } of rotate(modes, rep - 1)) {
      progress(`outbound: rep ${rep}/${reps}, ${label.trim()}`);
      const outcome = await runOne(mode);
      if (outcome && typeof outcome === "object" && "reason" in outcome) failures.push({ what: label.trim(), rep, ...(outcome as Failed) });
      else results.get(mode)!.push(outcome as R);
    }
  }
  return results;
}

/** Resolves with `promise`, or undefined after `ms` (a hang guard). */
function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: Timer | undefined;
  const guard = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

/** One run: start the front server, load it over HTTP, stop it and collect what it and the upstream counted. */
async function freshRun(mode: FreshMode, upstream: BenchServer, opts: OutboundOptions): Promise<FreshRun | Failed> {
  const idle = await upstream.waitIdle();
  if (idle !== 0) return { reason: `the upstream still had ${idle} connections open before the run`, stderrTail: "" };
  const before = await upstream.stats();
  const sizes = ["--min", String(POOL_MIN_PER_CLIENT * opts.httpClients), "--max", String(POOL_MAX_PER_CLIENT * opts.httpClients)];
  const front = spawn([BUN, FRONT, "--mode", mode, "--upstream-port", String(upstream.port), ...sizes]);
  const stderr = new Response(front.stderr).text();
  const lines = readLines(front.stdout);
  const failed = async (reason: string): Promise<Failed> => {
    front.kill("SIGKILL");
    await front.exited;
    return { reason, stderrTail: tail(await stderr) };
  };
  const first = await within(lines.next(), FRONT_START_GUARD_MS);
  const port = /^LISTENING (\d+)$/.exec(first?.value ?? "")?.[1];
  if (!port) return failed(first ? "the front server did not start" : "the front server did not start within the hang guard");

  const load = await run([BUN, HTTP_LOAD, "--host", HOST, "--port", port, "--concurrency", String(opts.httpClients), "--connections", String(opts.requests)]);
  front.kill("SIGTERM");
  let stats: { requests: number; cpuUs: number; acquiresWithoutIdle: number; failures: Record<string, number> } | undefined;
  for await (const line of lines) if (line.startsWith("STATS ")) stats = JSON.parse(line.slice("STATS ".length));
  await front.exited;
  const after = await upstream.stats();
  const report = lastJsonLine(load.stdout) as ClientReport | undefined;
  const reason = failureReason(load) ?? (report ? undefined : "the HTTP load printed no result");
  if (reason) return { reason: `HTTP load: ${reason}`, stderrTail: tail(load.stderr) };
  if (!stats) return { reason: "the front server printed no STATS", stderrTail: tail(await stderr) };
  return {
    ...report!,
    upstreamAccepted: before && after ? after.accepted - before.accepted : NaN,
    served: stats.requests,
    cpuUs: stats.cpuUs,
    acquiresWithoutIdle: stats.acquiresWithoutIdle,
    failures: stats.failures,
  };
}

async function measureFresh(opts: OutboundOptions, failures: OutboundFailure[], progress: (message: string) => void): Promise<FreshUpstream> {
  const upstream = await BenchServer.start({ echo: true });
  try {
    const results = await interleave(FRESH_MODES, opts.reps, failures, progress, (mode) => freshRun(mode, upstream, opts));
    const rows = FRESH_MODES.map(({ mode, label }): FreshRow => {
      const runs = results.get(mode)!;
      const rates = runs.map((r) => r.rate);
      const rate = runs.length ? median(rates) : undefined;
      const errors: Record<string, number> = {};
      for (const r of runs) for (const [code, n] of [...Object.entries(r.errors), ...Object.entries(r.failures)]) errors[code] = (errors[code] ?? 0) + n;
      const served = sum(runs.map((r) => r.served));
      return {
        mode,
        label,
        ok: runs.length,
        runs: opts.reps,
        rate,
        spreadPct: rate ? spreadPct(rates, rate) : undefined,
        vsBunConnect: undefined,
        p50Ms: runs.length ? median(runs.map((r) => r.p50Us)) / 1000 : undefined,
        p99Ms: runs.length ? median(runs.map((r) => r.p99Us)) / 1000 : undefined,
        upstreamPerRequest: served ? sum(runs.map((r) => r.upstreamAccepted)) / served : undefined,
        cpuUsPerRequest: served ? sum(runs.map((r) => r.cpuUs)) / served : undefined,
        acquiresWithoutIdle: sum(runs.map((r) => r.acquiresWithoutIdle)),
        errors,
      };
    });
    const bunRate = rows.find((r) => r.mode === "bun")?.rate;
    for (const row of rows) row.vsBunConnect = row.rate && bunRate ? row.rate / bunRate : undefined;
    return { requests: opts.requests, httpClients: opts.httpClients, reps: opts.reps, upstream: upstream.kind, rows };
  } finally {
    await upstream.stop();
  }
}

/** Wait until redis counts no client but the query's own; returns the others it still counts. */
async function redisIdle(port: number): Promise<number> {
  const deadline = performance.now() + REDIS_IDLE_GUARD_MS;
  for (;;) {
    const others = (await redisConnectedClients(port)) - 1;
    if (others === 0 || performance.now() >= deadline) return others;
    await Bun.sleep(20);
  }
}

async function warmupRun(mode: WarmupMode, port: number, connections: number): Promise<WarmupRun | Failed> {
  const others = await redisIdle(port);
  if (others !== 0) return { reason: `redis still had ${others} clients before the run`, stderrTail: "" };
  const before = readTcpCounters();
  const f = await run([BUN, WARMUP, "--mode", mode, "--port", String(port), "--connections", String(connections)]);
  const after = readTcpCounters();
  const report = lastJsonLine(f.stdout) as Omit<WarmupRun, "overflows"> | undefined;
  const reason = failureReason(f) ?? (typeof report?.ms === "number" ? undefined : "no JSON result on stdout");
  if (reason) return { reason, stderrTail: tail(f.stderr) };
  return { ...report!, overflows: before && after ? counterGrowth(before, after).listenOverflows : undefined };
}

async function measureWarmup(opts: OutboundOptions, failures: OutboundFailure[], progress: (message: string) => void): Promise<Warmup> {
  const missing = serverMissing("redis");
  if (missing) return { skipped: missing };
  // A backlog above the burst: redis' default 511 would drop SYNs, and each costs a 1 s retransmit.
  let redis: RedisServer;
  try {
    redis = await startRedis({ backlog: RAISED_BACKLOG });
  } catch (error) {
    return { skipped: `redis-server did not start: ${(error as Error).message}` };
  }
  try {
    const { connections, reps } = opts;
    const results = await interleave(WARMUP_MODES, reps, failures, progress, (mode) => warmupRun(mode, redis.port, connections));
    const poolMs = results.get("pool")!.length ? median(results.get("pool")!.map((r) => r.ms)) : undefined;
    const rows = WARMUP_MODES.map(({ mode, label }): WarmupRow => {
      const runs = results.get(mode)!;
      const times = runs.map((r) => r.ms);
      const ms = runs.length ? median(times) : undefined;
      const connectorTimes = runs.flatMap((r) => (r.connectorMs === undefined ? [] : [r.connectorMs]));
      const overflows = runs.map((r) => r.overflows);
      return {
        mode,
        label: label.replaceAll("N", connections.toLocaleString("en-US")),
        ok: runs.length,
        runs: reps,
        ms,
        spreadPct: ms ? spreadPct(times, ms) : undefined,
        poolFaster: ms && poolMs ? ms / poolMs : undefined,
        connectorMs: connectorTimes.length ? median(connectorTimes) : undefined,
        serverClients: runs.length ? Math.min(...runs.map((r) => r.serverClients)) : undefined,
        overflows: overflows.some((n) => n === undefined) ? undefined : sum(overflows as number[]),
      };
    });
    return { connections, reps, rows };
  } finally {
    await redis[Symbol.asyncDispose]();
  }
}

/** Both measurements; failed runs are listed in `failures`, a missing redis-server makes the warm-up say so. */
export async function measureOutbound(opts: OutboundOptions, progress: (message: string) => void): Promise<Outbound> {
  const failures: OutboundFailure[] = [];
  const fresh = await measureFresh(opts, failures, progress);
  const warmup = await measureWarmup(opts, failures, progress);
  progress("");
  return { options: opts, fresh, warmup, failures };
}

const fmtCount = (n: number | undefined) => (n === undefined ? "?" : n.toLocaleString("en-US"));
const okLabel = (r: { label: string; ok: number; runs: number }) => (r.ok === r.runs ? r.label : `${r.label} (${r.ok}/${r.runs} ok)`);

export function printOutbound(o: Outbound, p: Printer): void {
  const { fresh, warmup } = o;
  p.line();
  p.line(
    p.bold(
      `fresh upstream connection per request — Bun.serve, ${fresh.httpClients} keep-alive HTTP clients, ` +
        `${plural(fresh.requests, "request")} × ${plural(fresh.reps, "rep")}`,
    ),
  );
  renderTable(
    ["upstream connection", "requests/s", "±", "× Bun.connect", "p50 ms", "p99 ms", "upstream conns/req", "server CPU µs/req", "acquires w/o idle", "errors"],
    fresh.rows.map((r) => [
      okLabel(r),
      fmtRate(r.rate),
      fmtSpread(r.spreadPct),
      fmtRatio(r.vsBunConnect),
      fmtMs(r.p50Ms),
      fmtMs(r.p99Ms),
      r.upstreamPerRequest === undefined ? "-" : r.upstreamPerRequest.toFixed(2),
      r.cpuUsPerRequest === undefined ? "-" : r.cpuUsPerRequest.toFixed(0),
      r.mode === "pool" ? fmtCount(r.acquiresWithoutIdle) : "-",
      fmtErrors(r.errors),
    ]),
    [9],
    p,
  );
  p.line(`  Each request: one upstream connection, "ping\\n" to the echo server (${fresh.upstream}), read back, closed (FIN).`);
  p.line(`  The pool (min ${POOL_MIN_PER_CLIENT * fresh.httpClients}, max ${POOL_MAX_PER_CLIENT * fresh.httpClients}, preconnect 1) hands out a connection it opened earlier and is told to close`);
  p.line("  it after use (destroy), refilling as it goes. Load: bench/clients/http-load.ts in its own process (fetch, keep-alive,");
  p.line("  an unrecorded warm-up first); latency per HTTP request. server CPU: the Bun.serve process's user + system time,");
  p.line("  its kernel threads included, per request answered; upstream conns/req: connections the echo server accepted per request.");

  p.line();
  if ("skipped" in warmup) {
    p.line(p.bold("warm-up: connections to redis-server open"));
    p.line(p.warn(`  skipped: ${warmup.skipped}`));
  } else {
    p.line(p.bold(`warm-up — time until ${plural(warmup.connections, "connection")} to redis-server are open, fresh process each, × ${plural(warmup.reps, "rep")}`));
    renderTable(
      ["way", "ms", "±", "× pool.ready()'s time", "connections/s", "redis saw", "overflows"],
      warmup.rows.map((r) => [
        okLabel(r),
        fmtMs(r.ms),
        fmtSpread(r.spreadPct),
        fmtRatio(r.poolFaster),
        r.ms ? fmtRate(warmup.connections / (r.ms / 1000)) : "-",
        fmtCount(r.serverClients),
        fmtCount(r.overflows),
      ]),
      [],
      p,
    );
    const connectorMs = warmup.rows.find((r) => r.mode === "pool")?.connectorMs;
    p.line("  The clock runs from the first connect asked for to the last one open. ioredis' 'ready' also waits for its INFO ready");
    p.line("  check; enableReadyCheck: false makes it the connect. redis saw: connected_clients (INFO) while they were all open,");
    p.line(`  fewest of any run. The Connector was started before the clock (${connectorMs === undefined ? "-" : fmtMs(connectorMs)} ms, once per process: its compile).`);
  }
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
  if ("skipped" in o.warmup) {
    goals.push({ goal: name, figure: `not measured (${o.warmup.skipped})`, met: undefined });
    return goals;
  }
  const faster = (mode: WarmupMode) => (o.warmup as Exclude<Warmup, { skipped: string }>).rows.find((r) => r.mode === mode)?.poolFaster;
  const [ioredis, net] = [faster("ioredis"), faster("net")];
  const measured = ioredis !== undefined && net !== undefined;
  const fullSize = o.warmup.connections >= WARMUP_GOAL_CONNECTIONS && judged;
  goals.push({
    goal: name,
    figure: measured ? `${fmtRatio(ioredis)} ioredis, ${fmtRatio(net)} net.connect${fullSize ? "" : ` (${o.warmup.connections} connections, quick run)`}` : "not measured",
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
    else throw new UsageError(`unknown argument ${flag}\nusage: bun bench/outbound.ts [--quick] [--reps R] [--requests N] [--connections N] [--json]`);
  }
  return { options, json };
}

/** Run alone: in the bench's own network namespace when root, with the accept-queue limits raised, as connect-rate.ts does. */
async function main(): Promise<void> {
  const argv = Bun.argv.slice(2);
  const { options, json } = parseArgs(argv);
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
  const backlog = raiseBacklogLimits();
  try {
    const env = await describeEnvironment();
    const [one, five, fifteen] = os.loadavg().map((n) => n.toFixed(2));
    p.line(p.bold("uring-connect outbound benchmark"));
    p.line(`  kernel ${env.kernel}, bun ${env.bun}, liburing ${env.liburing}, ${env.cpus} × ${env.cpuModel}`);
    p.line(`  network ${inPrivateNetns() ? "a network namespace of the bench's own (loopback only)" : "the machine's network namespace"}; load average ${one}, ${five}, ${fifteen} at start`);
    if (backlog.limitNote) p.line(p.warn(`  note: ${backlog.limitNote}`));
    if (options.quick) p.line(p.warn("  quick     reduced for CI: the figures are a smoke test, not a measurement"));
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
    console.error(error instanceof UsageError ? error.message : error);
    process.exit(error instanceof UsageError ? 2 : 1);
  });
}
