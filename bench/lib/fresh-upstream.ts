/**
 * A fresh upstream connection per request: a Bun.serve server
 * (bench/clients/fresh-upstream.ts) opens one upstream connection per HTTP
 * request, taken already open from a warm Pool or opened by Bun.connect,
 * sends a line to the C echo server, reads it back and closes it; a
 * separate process (bench/clients/http-load.ts) drives it with keep-alive
 * fetch loops. Each run gets a fresh front server; the echo server is shared.
 */
import path from "node:path";
import { readLines } from "../../src/loadgen/lines.ts";
import type { ClientReport } from "../clients/common.mjs";
import { interleave, spreadPct, sum, type Failed, type RunFailure } from "./interleave.ts";
import { fmtErrors, fmtMs, fmtRate, fmtRatio, fmtSpread, plural, renderTable, type Printer } from "./output.ts";
import { BENCH, BUN } from "./paths.ts";
import { failureReason, lastJsonLine, run, spawn, tail } from "./process.ts";
import { BenchServer, HOST } from "./server.ts";
import { median } from "./stats.ts";

const FRONT = path.join(BENCH, "clients/fresh-upstream.ts");
const HTTP_LOAD = path.join(BENCH, "clients/http-load.ts");
/** Connections the pool keeps open at least, per HTTP client: twice their number, so a burst never waits for a connect. */
const POOL_MIN_PER_CLIENT = 2;
/** The pool's max, per HTTP client: room for its refills while connections wait to close. */
const POOL_MAX_PER_CLIENT = 8;
/** Only a hang should reach it. */
const FRONT_START_GUARD_MS = 30_000;

const WAYS = [
  { mode: "pool", label: "warm Pool (acquire, destroy)" },
  { mode: "bun", label: "Bun.connect per request" },
] as const;
type FreshMode = (typeof WAYS)[number]["mode"];

export interface FreshOptions {
  reps: number;
  /** HTTP requests per run (after an unrecorded warm-up). */
  requests: number;
  /** Concurrent keep-alive HTTP clients. */
  httpClients: number;
}

interface FreshRun extends ClientReport {
  /** Connections the upstream accepted during the run (the warm-up's and the pool's prewarm included). */
  upstreamAccepted: number;
  /** What the front server said at the end: requests answered, its CPU, acquires that found nothing idle, failures. */
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

export interface FreshUpstream extends FreshOptions {
  /** What served as the upstream. */
  upstream: string;
  poolMin: number;
  poolMax: number;
  rows: FreshRow[];
}

/** Resolves with `promise`, or undefined after `ms` (a hang guard). */
function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: Timer | undefined;
  const guard = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

/** One run: start the front server, load it over HTTP, stop it and collect what it and the upstream counted. */
async function freshRun(mode: FreshMode, upstream: BenchServer, opts: FreshOptions): Promise<FreshRun | Failed> {
  const idle = await upstream.waitIdle();
  if (idle !== 0) return { reason: `the upstream still had ${idle} connections open before the run`, stderrTail: "" };
  const before = await upstream.stats();
  const sizes = ["--min", String(POOL_MIN_PER_CLIENT * opts.httpClients), "--max", String(POOL_MAX_PER_CLIENT * opts.httpClients)];
  const front = spawn([BUN, FRONT, "--mode", mode, "--upstream-port", String(upstream.port), ...sizes]);
  const stderr = new Response(front.stderr).text();
  const lines = readLines(front.stdout);
  const first = await within(lines.next(), FRONT_START_GUARD_MS);
  const port = /^LISTENING (\d+)$/.exec(first?.value ?? "")?.[1];
  if (!port) {
    front.kill("SIGKILL");
    await front.exited;
    return { reason: first ? "the front server did not start" : "the front server did not start within the hang guard", stderrTail: tail(await stderr) };
  }

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

function summarize(mode: FreshMode, label: string, runs: FreshRun[], reps: number): FreshRow {
  const rates = runs.map((r) => r.rate);
  const rate = runs.length ? median(rates) : undefined;
  const errors: Record<string, number> = {};
  for (const r of runs) for (const [code, n] of [...Object.entries(r.errors), ...Object.entries(r.failures)]) errors[code] = (errors[code] ?? 0) + n;
  const served = sum(runs.map((r) => r.served));
  return {
    mode,
    label,
    ok: runs.length,
    runs: reps,
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
}

/** Both ways, interleaved over reps, against one C echo server; FatalError when that cannot start. */
export async function measureFreshUpstream(opts: FreshOptions, failures: RunFailure[], progress: (message: string) => void): Promise<FreshUpstream> {
  const upstream = await BenchServer.start({ echo: true });
  try {
    const results = await interleave(WAYS, opts.reps, failures, progress, (mode) => freshRun(mode, upstream, opts));
    const rows = WAYS.map(({ mode, label }) => summarize(mode, label, results.get(mode)!, opts.reps));
    const bunRate = rows.find((r) => r.mode === "bun")?.rate;
    for (const row of rows) row.vsBunConnect = row.rate && bunRate ? row.rate / bunRate : undefined;
    const poolMin = POOL_MIN_PER_CLIENT * opts.httpClients;
    return { ...opts, upstream: upstream.kind, poolMin, poolMax: POOL_MAX_PER_CLIENT * opts.httpClients, rows };
  } finally {
    await upstream.stop();
  }
}

const fmtCount = (n: number) => n.toLocaleString("en-US");

export function printFreshUpstream(f: FreshUpstream, p: Printer): void {
  p.line();
  p.line(p.bold(`fresh upstream connection per request — Bun.serve, ${f.httpClients} keep-alive HTTP clients, ${plural(f.requests, "request")} × ${plural(f.reps, "rep")}`));
  renderTable(
    ["upstream connection", "requests/s", "±", "× Bun.connect", "p50 ms", "p99 ms", "upstream conns/req", "server CPU µs/req", "acquires w/o idle", "errors"],
    f.rows.map((r) => [
      r.ok === r.runs ? r.label : `${r.label} (${r.ok}/${r.runs} ok)`,
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
  p.line(`  Each request: one upstream connection, "ping\\n" to the echo server (${f.upstream}), read back, closed (FIN).`);
  p.line(`  The pool (min ${f.poolMin}, max ${f.poolMax}, preconnect 1) hands out a connection it opened earlier and is told to close`);
  p.line("  it after use (destroy), refilling as it goes. Load: bench/clients/http-load.ts in its own process (fetch, keep-alive,");
  p.line("  an unrecorded warm-up first); latency per HTTP request. server CPU: the Bun.serve process's user + system time,");
  p.line("  its kernel threads included, per request answered; upstream conns/req: connections the echo server accepted per request.");
}
