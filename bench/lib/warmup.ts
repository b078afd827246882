/**
 * Warm-up: the time until N connections to a redis-server started for the
 * run are open (bench/clients/redis-warmup.ts), pool.ready() against N
 * ioredis clients, N net.connect and others, each run in a fresh process
 * once redis counts no client left from the run before.
 */
import path from "node:path";
import { counterGrowth, readTcpCounters } from "../../src/loadgen/kernel-counters.ts";
import { serverMissing, startRedis, type RedisServer } from "../../tools/servers.ts";
import { redisConnectedClients } from "../clients/redis-info.ts";
import { RAISED_BACKLOG } from "./backlog.ts";
import { interleave, spreadPct, sum, type Failed, type RunFailure } from "./interleave.ts";
import { fmtMs, fmtRate, fmtRatio, fmtSpread, plural, renderTable, type Printer } from "./output.ts";
import { BENCH, BUN } from "./paths.ts";
import { failureReason, lastJsonLine, run, tail } from "./process.ts";
import { median } from "./stats.ts";

const WARMUP = path.join(BENCH, "clients/redis-warmup.ts");
/** Only a hang should reach it. */
const REDIS_IDLE_GUARD_MS = 10_000;

/** The ways, in table order; N in a label is the connection count. */
const WAYS = [
  { mode: "pool", label: "pool.ready() (min = N)" },
  { mode: "ioredis", label: "N ioredis clients, 'ready'" },
  { mode: "ioredis-fast", label: "  same, enableReadyCheck: false" },
  { mode: "net", label: "N net.connect, 'connect'" },
  { mode: "bun", label: "N Bun.connect" },
  { mode: "connectfd", label: "N connectFd (Connector alone)" },
] as const;
export type WarmupMode = (typeof WAYS)[number]["mode"];

export interface WarmupOptions {
  reps: number;
  /** Connections to redis per run. */
  connections: number;
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
  /** Growth of the kernel's ListenOverflows over this way's runs: SYNs redis' accept queue dropped. */
  overflows: number | undefined;
}

export type Warmup = (WarmupOptions & { rows: WarmupRow[] }) | { skipped: string };

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

function summarize(mode: WarmupMode, label: string, runs: WarmupRun[], opts: WarmupOptions, poolMs: number | undefined): WarmupRow {
  const times = runs.map((r) => r.ms);
  const ms = runs.length ? median(times) : undefined;
  const connectorTimes = runs.flatMap((r) => (r.connectorMs === undefined ? [] : [r.connectorMs]));
  const overflows = runs.map((r) => r.overflows);
  return {
    mode,
    label: label.replaceAll("N", opts.connections.toLocaleString("en-US")),
    ok: runs.length,
    runs: opts.reps,
    ms,
    spreadPct: ms ? spreadPct(times, ms) : undefined,
    poolFaster: ms && poolMs ? ms / poolMs : undefined,
    connectorMs: connectorTimes.length ? median(connectorTimes) : undefined,
    serverClients: runs.length ? Math.min(...runs.map((r) => r.serverClients)) : undefined,
    overflows: overflows.some((n) => n === undefined) ? undefined : sum(overflows as number[]),
  };
}

/** Every way, interleaved over reps, against one redis-server; skipped, saying why, when there is none. */
export async function measureWarmup(opts: WarmupOptions, failures: RunFailure[], progress: (message: string) => void): Promise<Warmup> {
  const missing = serverMissing("redis");
  if (missing) return { skipped: missing };
  let redis: RedisServer;
  try {
    // A backlog above the burst: redis' default 511 would drop SYNs, and each costs a 1 s retransmit.
    redis = await startRedis({ backlog: RAISED_BACKLOG });
  } catch (error) {
    return { skipped: `redis-server did not start: ${(error as Error).message}` };
  }
  try {
    const results = await interleave(WAYS, opts.reps, failures, progress, (mode) => warmupRun(mode, redis.port, opts.connections));
    const poolRuns = results.get("pool")!;
    const poolMs = poolRuns.length ? median(poolRuns.map((r) => r.ms)) : undefined;
    return { ...opts, rows: WAYS.map(({ mode, label }) => summarize(mode, label, results.get(mode)!, opts, poolMs)) };
  } finally {
    await redis[Symbol.asyncDispose]();
  }
}

const fmtCount = (n: number | undefined) => (n === undefined ? "?" : n.toLocaleString("en-US"));

export function printWarmup(w: Warmup, p: Printer): void {
  p.line();
  if ("skipped" in w) {
    p.line(p.bold("warm-up: connections to redis-server open"));
    p.line(p.warn(`  skipped: ${w.skipped}`));
    return;
  }
  p.line(p.bold(`warm-up — time until ${plural(w.connections, "connection")} to redis-server are open, fresh process each, × ${plural(w.reps, "rep")}`));
  renderTable(
    ["way", "ms", "±", "× pool.ready()'s time", "connections/s", "redis saw", "overflows"],
    w.rows.map((r) => [
      r.ok === r.runs ? r.label : `${r.label} (${r.ok}/${r.runs} ok)`,
      fmtMs(r.ms),
      fmtSpread(r.spreadPct),
      fmtRatio(r.poolFaster),
      r.ms ? fmtRate(w.connections / (r.ms / 1000)) : "-",
      fmtCount(r.serverClients),
      fmtCount(r.overflows),
    ]),
    [],
    p,
  );
  const connectorMs = w.rows.find((r) => r.mode === "pool")?.connectorMs;
  p.line("  The clock runs from the first connect asked for to the last one open. ioredis' 'ready' also waits for its INFO ready");
  p.line("  check; enableReadyCheck: false makes it the connect. redis saw: connected_clients (INFO) while they were all open,");
  p.line(`  fewest of any run. The Connector was started before the clock (${fmtMs(connectorMs)} ms, once per process: its compile).`);
}
