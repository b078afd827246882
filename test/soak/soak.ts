/**
 * Soak: a seeded random mix of every outcome a connect can have, caused for
 * real, checked for "nothing lost": every connect settles exactly once with
 * an outcome its cause allows, and fds, slots and memory come back.
 *
 *   bun test/soak/soak.ts [--ops 1000000] [--seed 1] [--concurrency 2000]
 *
 * Causes: a server that accepts, a port that refuses, a listener that never
 * accepts (connects hang) with kernel timeouts, a server that resets right
 * after accept, aborts before submit / in flight / racing the completion,
 * and Connectors closed with work in flight.
 *
 * Connects go through connectFdCallback, each call of its callback counted:
 * a promise can only settle once, so only a callback can show a path that
 * settles twice. Those without a signal reuse their request objects, so the
 * soak covers that reuse too.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { Connector, ConnectError, ConnectorClosedError } from "../../src/index.ts";
import { startChildServer } from "../harness.ts";
import { blackholeListener, refusingPort } from "../fixtures/sockets.ts";

export interface SoakOptions {
  ops: number;
  seed: number;
  concurrency: number;
  /** Close the Connector (with work in flight) every this many ops. */
  closeEvery: number;
  onProgress?: (done: number) => void;
}

export interface SoakReport {
  ops: number;
  /** Connects whose outcome was recorded exactly once (must be `ops`). */
  settledOnce: number;
  /** Connects whose outcome was recorded more than once (must be 0). */
  settledTwice: number;
  /** Connects never settled, as "id cause" (the first 20; must be empty). */
  neverSettled: string[];
  /** Outcomes no cause allowed (must be empty). */
  unexpected: string[];
  tally: Record<string, Record<string, number>>;
  connectorsClosed: number;
  fdLeak: number;
  leakedKinds: Record<string, number>;
  slotLeak: number;
  rssGrowthMB: number;
  seconds: number;
}

/** mulberry32: small, fast, and the same sequence for the same seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Outcomes recorded per connect id: "settles exactly once" is checked per
 * connect, so one lost connect and one settled twice cannot cancel out, and a
 * lost one is named rather than hanging the run.
 */
export class SettleLedger {
  private readonly counts: Uint8Array;

  constructor(readonly ops: number) {
    this.counts = new Uint8Array(ops);
  }

  /** Count one settlement of connect `id`; returns how many it has had. */
  record(id: number): number {
    if (this.counts[id]! < 255) this.counts[id]!++;
    return this.counts[id]!;
  }

  /** How many ids were recorded once, more than once, and which never. */
  tally(): { once: number; twice: number; never: number[] } {
    let once = 0;
    let twice = 0;
    const never: number[] = [];
    this.counts.forEach((n, id) => {
      if (n === 1) once++;
      else if (n > 1) twice++;
      else never.push(id);
    });
    return { once, twice, never };
  }
}

/** A run with connects still unsettled this long after the last settlement has lost them (a hang guard). */
const STALL_MS = 30_000;
/** How long closes may take to land after the run before an fd counts as leaked (a hang guard). */
const CLOSE_GUARD_MS = 30_000;

const fdCount = () => readdirSync("/proc/self/fd").length;
/**
 * Resident memory after a full collection: garbage not yet collected is not
 * a leak, and without the collection the figure swung by ±30 MB run to run.
 */
const settledRssMB = () => {
  Bun.gc(true);
  return rssMB();
};
const rssMB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))![1]) / 1024;

type Cause = "accept" | "refuse" | "timeout" | "reset" | "abortBefore" | "abortInFlight" | "abortRace";

/** What each cause may end in ("closed" is allowed for anything pending when its Connector closes). */
const ALLOWED: Record<Cause, string[]> = {
  accept: ["fd"],
  refuse: ["ECONNREFUSED"],
  timeout: ["ETIMEDOUT"],
  // The handshake completes before the server's accept-and-reset, but the
  // reset may land before the connect's completion is made: then the kernel
  // reports it as the connect's error.
  reset: ["fd", "ECONNRESET"],
  abortBefore: ["AbortError"],
  abortInFlight: ["AbortError"],
  abortRace: ["ECONNREFUSED", "AbortError"],
};

const WEIGHTS: [Cause, number][] = [
  ["accept", 30],
  ["refuse", 20],
  ["timeout", 10],
  ["reset", 15],
  ["abortBefore", 8],
  ["abortInFlight", 9],
  ["abortRace", 8],
];

function outcomeOf(result: unknown): string {
  if (typeof result === "number") return "fd";
  if (result instanceof ConnectorClosedError) return "closed";
  if (result instanceof ConnectError) return result.code;
  if (result instanceof Error && result.name === "AbortError") return "AbortError";
  return `other:${String(result)}`;
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const next = random(options.seed);
  await using accepting = await startChildServer();
  await using resetting = await startChildServer({ reset: true });
  using refusing = refusingPort();
  using blackhole = blackholeListener();
  const targets = {
    accept: { host: "127.0.0.1", port: accepting.port },
    refuse: { host: "127.0.0.1", port: refusing.port },
    hang: { host: "127.0.0.1", port: blackhole.port },
    reset: { host: "127.0.0.1", port: resetting.port },
  };
  const pick = (): Cause => {
    let r = next() * 100;
    for (const [cause, weight] of WEIGHTS) if ((r -= weight) < 0) return cause;
    return "accept";
  };

  let connector = new Connector({ maxInflight: 4096 });
  // Fill the never-accepting listener's one-connection queue so later connects hang.
  const filler = await connector.connectFd(targets.hang);
  const fdBaseline = fdCount();
  const fdsBefore = new Set(readdirSync("/proc/self/fd"));
  let connectorsClosed = 0;
  let slotLeak = 0;
  /** close() frees every slot at once: count any that are not, and let the Connector go. */
  const closeConnector = (c: Connector) => {
    connectorsClosed++; // first: close() settles what was pending on it before it returns
    c.close();
    const stats = c.stats();
    slotLeak += stats.capacity - stats.free;
  };
  const tally: Record<string, Record<string, number>> = {};
  const unexpected: string[] = [];
  const ledger = new SettleLedger(options.ops);
  const causes: Cause[] = [];
  let started = 0;
  let inFlight = 0;
  let lastSettled = performance.now();
  let rssWarm = 0;
  const t0 = performance.now();

  const record = (cause: Cause, outcome: string, closedWhilePending: boolean) => {
    (tally[cause] ??= {})[outcome] = (tally[cause]![outcome] ?? 0) + 1;
    const allowed = ALLOWED[cause].includes(outcome) || (closedWhilePending && outcome === "closed");
    if (!allowed && unexpected.length < 20) unexpected.push(`${cause} -> ${outcome}`);
  };

  const launch = (id: number): Promise<void> => {
    const cause = pick();
    causes[id] = cause;
    const owner = connector;
    const generation = connectorsClosed;
    const controller = cause.startsWith("abort") ? new AbortController() : undefined;
    const target =
      cause === "accept" ? targets.accept : cause === "reset" ? targets.reset : cause === "refuse" || cause === "abortRace" ? targets.refuse : targets.hang;
    const opts = {
      signal: controller?.signal,
      timeout: cause === "timeout" ? 1 + Math.floor(next() * 20) : undefined,
    };
    inFlight++;
    return new Promise<void>((done) => {
      const settled = (result: unknown) => {
        // Counted on every call: a path that settled twice shows here (a promise would hide it).
        if (ledger.record(id) > 1) return;
        lastSettled = performance.now();
        if (typeof result === "number") owner.closeFd(result, { reset: true });
        record(cause, outcomeOf(result), connectorsClosed > generation);
        inFlight--;
        done();
      };
      owner.connectFdCallback(target, opts, (error, fd) => settled(error === null ? fd : error));
      if (cause === "abortBefore") controller!.abort();
      else if (cause === "abortInFlight") setTimeout(() => controller!.abort(), Math.floor(next() * 4));
      else if (cause === "abortRace") queueMicrotask(() => controller!.abort());
    });
  };

  await new Promise<void>((resolve) => {
    // A lost connect would keep inFlight above 0 for ever: stop once nothing
    // has settled for STALL_MS, and let the ledger name what was lost.
    const watchdog = setInterval(() => {
      if (performance.now() - lastSettled > STALL_MS) finish();
    }, 1000);
    const finish = () => {
      clearInterval(watchdog);
      resolve();
    };
    const fill = () => {
      while (started < options.ops && inFlight < options.concurrency) {
        const id = started++;
        if (started % options.closeEvery === 0) {
          // Close with work in flight: everything pending on it must reject, nothing leak.
          closeConnector(connector);
          connector = new Connector({ maxInflight: 4096 });
        }
        // RSS is compared from halfway on (or 50,000 in), once pools and JIT have warmed up.
        if (started === Math.min(Math.ceil(options.ops / 2), 50_000)) rssWarm = settledRssMB();
        if (started % 10_000 === 0) options.onProgress?.(started);
        void launch(id).then(fill);
      }
      if (started >= options.ops && inFlight === 0) finish();
    };
    fill();
  });

  const seconds = (performance.now() - t0) / 1000;
  connector.closeFd(filler, { reset: true });
  // Closes go through the ring asynchronously: wait until they are done.
  const closeGuard = performance.now() + CLOSE_GUARD_MS;
  while (fdCount() > fdBaseline - 1 && performance.now() < closeGuard) await Bun.sleep(10);
  const fdLeak = fdCount() - (fdBaseline - 1);
  // What leaked, by kind (socket, pipe, anon_inode:[io_uring]...), to say where to look.
  const leakedKinds: Record<string, number> = {};
  for (const fd of readdirSync("/proc/self/fd")) {
    if (fdsBefore.has(fd)) continue;
    let kind = "gone";
    try {
      kind = readlinkSync(`/proc/self/fd/${fd}`).replace(/\d+/g, "N");
    } catch {}
    leakedKinds[kind] = (leakedKinds[kind] ?? 0) + 1;
  }
  const rssGrowthMB = settledRssMB() - (rssWarm || settledRssMB());
  closeConnector(connector);
  connectorsClosed--; // the last one closed with nothing in flight
  const settlements = ledger.tally();
  return {
    ops: started,
    settledOnce: settlements.once,
    settledTwice: settlements.twice,
    neverSettled: settlements.never.slice(0, 20).map((id) => `${id} ${causes[id]}`),
    unexpected,
    tally,
    connectorsClosed,
    fdLeak,
    leakedKinds,
    slotLeak,
    rssGrowthMB: Math.round(rssGrowthMB * 10) / 10,
    seconds: Math.round(seconds * 10) / 10,
  };
}

/** The figures, and whether every check passed. */
export function describeSoak(report: SoakReport): { text: string; ok: boolean } {
  const ok =
    report.settledOnce === report.ops &&
    report.settledTwice === 0 &&
    report.neverSettled.length === 0 &&
    report.unexpected.length === 0 &&
    report.fdLeak <= 0 &&
    report.slotLeak === 0 &&
    report.rssGrowthMB <= 32;
  const rows = Object.entries(report.tally).map(
    ([cause, outcomes]) => `  ${cause.padEnd(14)} ${Object.entries(outcomes).map(([o, n]) => `${o} ${n.toLocaleString("en-US")}`).join(", ")}`,
  );
  const text = [
    `soak: ${report.ops.toLocaleString("en-US")} connects in ${report.seconds} s (${Math.round(report.ops / report.seconds).toLocaleString("en-US")}/s), ${report.connectorsClosed} Connectors closed with work in flight`,
    `  settled once  ${report.settledOnce.toLocaleString("en-US")} of ${report.ops.toLocaleString("en-US")}; settled twice ${report.settledTwice}; never ${report.ops - report.settledOnce - report.settledTwice}${report.neverSettled.length ? ` (${report.neverSettled.join(", ")})` : ""}`,
    `  leaks         fd ${Math.max(0, report.fdLeak)}${report.fdLeak > 0 ? ` ${JSON.stringify(report.leakedKinds)}` : ""}, slots ${report.slotLeak}; RSS growth after warm-up ${report.rssGrowthMB} MB (limit 32)`,
    `  unexpected    ${report.unexpected.length ? report.unexpected.join("; ") : "none"}`,
    "  outcomes by cause:",
    ...rows,
    ok ? "  result        PASS" : "  result        FAIL",
  ].join("\n");
  return { text, ok };
}

if (import.meta.main) {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const ops = arg("ops", 1_000_000);
  const report = await runSoak({
    ops,
    seed: arg("seed", 1),
    concurrency: arg("concurrency", 2000),
    closeEvery: arg("close-every", 25_000),
    onProgress: process.stderr.isTTY ? (done) => process.stderr.write(`\r${done.toLocaleString("en-US")} / ${ops.toLocaleString("en-US")}`) : undefined,
  });
  if (process.stderr.isTTY) process.stderr.write("\r\x1b[K");
  const { text, ok } = describeSoak(report);
  console.log(text);
  process.exitCode = ok ? 0 : 1;
}
