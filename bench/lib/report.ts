/**
 * The human-readable report: header, rate and latency tables, failures,
 * the storm, memory, startup and idle sections, the C variants, the goals
 * and the summary line.
 */
import os from "node:os";
import { ALLOC_CONCURRENCY, type Allocation } from "./allocation.ts";
import type { BacklogLimits } from "./backlog.ts";
import { C_BEST, cVariantLabel } from "./c-variants.ts";
import type { ClientSpec } from "./clients.ts";
import type { Environment } from "./environment.ts";
import type { Idle, IdleCpu, Startup } from "./extras.ts";
import type { Goal } from "./goals.ts";
import { inPrivateNetns } from "./netns.ts";
import type { Options } from "./options.ts";
import { fmtErrors, fmtMs, fmtRate, fmtRatio, fmtSpread, fmtUs, plural, renderTable, type Printer } from "./output.ts";
import type { Failure, Measured } from "./series.ts";
import { HOST } from "./server.ts";
import type { Row } from "./stats.ts";
import type { Storm } from "./storm.ts";

/** The concurrency the closing summary line compares at. */
const SUMMARY_CONCURRENCY = 1000;

export function printHeader(env: Environment, opts: Options, port: number, clients: ClientSpec[], backlog: BacklogLimits, notes: string[], p: Printer): void {
  p.line(p.bold("uring-connect connect-rate benchmark"));
  p.line(`  kernel    ${env.kernel}`);
  p.line(`  bun       ${env.bun}`);
  p.line(`  liburing  ${env.liburing}`);
  p.line(`  cpu       ${env.cpus} × ${env.cpuModel}`);
  p.line(`  node      ${env.node}`);
  p.line(`  clients   ${clients.map((c) => c.label).join(", ")}`);
  if (clients.some((c) => c.id === "c-best")) p.line(`  C best    ${cVariantLabel(C_BEST)} (bench/lib/c-variants.ts)`);
  p.line(`  runs      ${plural(opts.connections, "connection")} × ${plural(opts.reps, "rep")} at concurrency ${opts.concurrency.join(", ")}; server ${HOST}:${port}`);
  const limits = Object.entries(backlog.during).map(([name, value]) => `${name} ${value ?? "unknown"}`).join(", ");
  const ownNetns = inPrivateNetns();
  p.line(`  network   ${ownNetns ? "a network namespace of the bench's own (loopback only)" : "the machine's network namespace, shared with other work"}`);
  const raised = ownNetns ? " (raised in the bench's namespace)" : " (raised for this run, restored at exit)";
  p.line(`  backlog   ${limits}${backlog.raised.length ? raised : ""}`);
  p.line(`  load      ${loadAverage()}`);
  if (backlog.limitNote) p.line(p.warn(`  note: ${backlog.limitNote}`));
  for (const note of notes) p.line(p.warn(`  note: ${note.replaceAll("\n", "\n        ")}`));
}

/** The client name, marked when some of its runs failed. */
function okSuffix(r: Row): string {
  return r.ok === r.runs ? r.client : `${r.client} (${r.ok}/${r.runs} ok)`;
}

/** The machine's load when the run started: others' work on it skews absolute rates. */
function loadAverage(): string {
  const [one, five, fifteen] = os.loadavg().map((n) => n.toFixed(2));
  return `load average ${one}, ${five}, ${fifteen} at start (${os.cpus().length} cores)`;
}

const fmtCount = (n: number | undefined) => (n === undefined ? "?" : String(n));

export function printRateTable(sc: Measured, reps: number, p: Printer): void {
  p.line();
  p.line(p.bold(`concurrency ${sc.concurrency} — ${plural(sc.connections, "connection")} × ${plural(reps, "rep")}`));
  renderTable(
    ["client", "connects/s", "±", "× Bun.connect", "× C best", "p50 ms", "p99 ms", "overflows", "retrans", "errors"],
    sc.rows.map((r) => [
      okSuffix(r),
      fmtRate(r.rate),
      fmtSpread(r.spreadPct),
      fmtRatio(r.vsBunConnect),
      fmtRatio(r.vsCBest),
      fmtMs(r.p50Ms),
      fmtMs(r.p99Ms),
      fmtCount(r.listenOverflows),
      fmtCount(r.retransSegs),
      fmtErrors(r.errors),
    ]),
    [9],
    p,
  );
}

/** What the overflows and retrans columns count, once under the first table. */
export function printCounterLegend(p: Printer): void {
  p.line();
  p.line("  overflows, retrans: growth of the kernel's TcpExt ListenOverflows and Tcp RetransSegs during each client's");
  p.line(
    inPrivateNetns()
      ? "  runs (summed over reps), in the bench's own network namespace: only the bench's connections count."
      : "  runs (summed over reps). They count the whole network namespace, so other work on the machine adds to them.",
  );
}

export function printStorm(storm: Storm, reps: number, p: Printer): void {
  p.line();
  p.line(p.bold(`event loop during a storm — concurrency ${storm.concurrency}, ${plural(storm.connections, "connection")} × ${plural(reps, "rep")}`));
  renderTable(
    ["client", "connects/s", "× Bun.connect", "gap p50 ms", "gap p99 ms", "gap max ms", "longest native call", "overflows", "retrans", "errors"],
    storm.rows.map((r) => [
      okSuffix(r),
      fmtRate(r.rate),
      fmtRatio(r.vsBunConnect),
      fmtMs(r.gapP50Ms),
      fmtMs(r.gapP99Ms),
      fmtMs(r.gapMaxMs),
      r.nativeMaxMs === undefined ? "-" : `${fmtMs(r.nativeMaxMs)} ms ${r.nativeMaxSymbol}`,
      fmtCount(r.listenOverflows),
      fmtCount(r.retransSegs),
      fmtErrors(r.errors),
    ]),
    [6, 9],
    p,
  );
  p.line("  gap: time between firings of a 1 ms setInterval (1 ms = on time); p50/p99 are medians over reps, max the");
  p.line("  worst of any rep. Longest native call: one FFI call into native/ring.c, timed around the call on the JS thread.");
}

function fmtBytes(n: number): string {
  if (Math.abs(n) >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  if (Math.abs(n) >= 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${n.toFixed(0)} B`;
}

export function printAllocation(a: Allocation, p: Printer): void {
  p.line();
  p.line(p.bold(`memory on the hot path — connectFd (or connectFdCallback) + closeFd({ reset: true }), concurrency ${ALLOC_CONCURRENCY}`));
  if ("error" in a.allocated) p.line(p.warn(`  ! allocation run failed: ${a.allocated.error}`));
  else {
    const x = a.allocated;
    p.line(`  JS heap allocated per connect     ${fmtBytes(x.heapBytesPerConnect - x.harnessHeapBytesPerConnect)}  (over ${plural(x.connections, "connect")}, collector off; ±${x.resolutionBytes.toFixed(2)} B)`);
    p.line(`  + the bench loop's then()         ${fmtBytes(x.harnessHeapBytesPerConnect)}  (measured alone, subtracted above)`);
    p.line(`  through connectFdCallback         ${x.callbackHeapBytesPerConnect.toFixed(1)} B  (no promise; requests reused; what is left comes once per event-loop turn)`);
    p.line(`  array buffers etc. per connect    ${fmtBytes(x.extraBytesPerConnect)}`);
    if (x.errors) p.line(p.warn(`  ! ${x.errors} connects failed`));
  }
  if ("error" in a.retained) p.line(p.warn(`  ! retention run failed: ${a.retained.error}`));
  else {
    const x = a.retained;
    const types = Object.entries(x.grownTypes).map(([type, n]) => `${type} ${n}`).join(", ") || "none";
    p.line(`  RSS growth                        ${fmtBytes(x.rssGrowthBytes)}  (over ${plural(x.connections, "connect")}, after a full collection)`);
    p.line(`  live objects                      ${x.liveObjectGrowth >= 0 ? "+" : ""}${x.liveObjectGrowth} (${fmtBytes(x.liveHeapGrowthBytes)}), most grown: ${types}`);
    if (x.errors) p.line(p.warn(`  ! ${x.errors} connects failed`));
  }
  p.line("  heapStats() counts only cells marked by the last collection, so allocation is read as heap capacity growth");
  p.line("  with the collector off (BUN_JSC_useGC=0): exact to one 16 KB block over the run; object counts cannot be seen.");
}

export function printCVariants(tables: Measured[], reps: number, p: Printer): void {
  p.line();
  p.line(p.bold(`C reference variants — ${plural(tables[0]?.connections ?? 0, "connection")} × ${plural(reps, "rep")}; × the socket(2), plain ring variant`));
  const ids = tables[0]?.rows.map((r) => r.id) ?? [];
  const header = ["variant", ...tables.flatMap((t) => [`c=${t.concurrency}`, "×"])];
  const rows = ids.map((id) => {
    const cells = tables.flatMap((t) => {
      const r = t.rows.find((x) => x.id === id);
      const base = t.rows[0]?.rate;
      return [fmtRate(r?.rate), fmtRatio(r?.rate && base ? r.rate / base : undefined)];
    });
    return [okSuffix(tables[0]!.rows.find((x) => x.id === id)!), ...cells];
  });
  renderTable(header, rows, [], p);
}

export function printGoals(goals: Goal[], p: Printer, title = "goals (issue 9)"): void {
  p.line();
  p.line(p.bold(title));
  for (const g of goals) {
    const verdict = g.met === undefined ? "not judged" : g.met ? "met" : "not met";
    const line = `  ${g.goal}: ${g.figure} — ${verdict}`;
    p.line(g.met === false ? p.warn(line) : line);
  }
}

export function printLatency(sc: Measured, reps: number, p: Printer): void {
  p.line();
  p.line(p.bold(`single-connect latency — concurrency 1, ${plural(sc.connections, "connection")} × ${plural(reps, "rep")}`));
  renderTable(
    ["client", "p50 µs", "p99 µs", "connects/s", "errors"],
    sc.rows.map((r) => [okSuffix(r), fmtUs(r.p50Ms && r.p50Ms * 1000), fmtUs(r.p99Ms && r.p99Ms * 1000), fmtRate(r.rate), fmtErrors(r.errors)]),
    [4],
    p,
  );
}

/** Under a table: the clients during whose runs the server fell behind (shed connections for want of fds). */
export function printServerShed(rows: readonly Row[], p: Printer): void {
  for (const r of rows.filter((x) => x.serverShed > 0)) {
    p.line(p.warn(`  ! the server shed ${r.serverShed} connections during ${r.client}'s runs (out of fds: it fell behind closing reset connections)`));
  }
}

export function printFailures(failures: Failure[], p: Printer): void {
  for (const f of failures) {
    p.line(p.warn(`  ! ${f.client} failed (concurrency ${f.concurrency}, rep ${f.rep}): ${f.reason}`));
    for (const line of f.stderrTail.split("\n").filter(Boolean)) p.line(p.warn(`      ${line}`));
  }
}

export function printStartup(s: Startup, p: Printer): void {
  p.line();
  p.line(p.bold(`import + compile — median of ${s.runs} fresh bun processes`));
  p.line(`  import("src/index.ts")          ${fmtMs(s.importMs)} ms`);
  p.line(`  new Connector() + close()       ${fmtMs(s.connectorMs)} ms  (cc() compiles native/ring.c every process)`);
  p.line(`  total, in-process               ${fmtMs(s.totalMs)} ms`);
  p.line(`  whole process, wall             ${fmtMs(s.processWallMs)} ms`);
  p.line(`  bare bun (empty script), wall   ${fmtMs(s.bareBunWallMs)} ms`);
  for (const f of s.failures) p.line(p.warn(`  ! run failed: ${f}`));
}

export function printIdle(idle: Idle, p: Printer): void {
  p.line();
  p.line(p.bold("idle"));
  const cpu = (label: string, m: IdleCpu) =>
    p.line(m.error ? p.warn(`  ! ${label}: measurement failed: ${m.error}`) : `  ${label}  ${fmtMs(m.cpuMs)} ms CPU over ${fmtMs((m.windowMs ?? 0) / 1000)} s`);
  cpu("open Connector, idle         ", idle.connector);
  cpu("bare bun process, idle       ", idle.baseline);
  const exit = idle.exitsWhenIdle === "yes" ? `yes (whole process ${Math.round(idle.exitMs)} ms)` : idle.exitsWhenIdle;
  p.line(`  exits when idle (Connector never closed): ${exit}`);
  if (idle.exitError) p.line(p.warn(`  ! ${idle.exitError}`));
}

export function summaryLine(rates: Measured[]): { text: string; vsBunConnect?: number; vsCBest?: number; socketVsBunConnect?: number } {
  const rows = rates.find((t) => t.concurrency === SUMMARY_CONCURRENCY)?.rows;
  const uring = rows?.find((r) => r.id === "uring");
  const socket = rows?.find((r) => r.id === "uring-socket");
  if (!uring) return { text: `summary: uring-connect was not measured at concurrency ${SUMMARY_CONCURRENCY}` };
  const versus = (ratio: number | undefined, name: string) => (ratio === undefined ? `${name}: not measured` : `${fmtRatio(ratio)} ${name}`);
  const socketPart = socket ? `; connect() is ${versus(socket.vsBunConnect, "Bun.connect")}` : "";
  return {
    text: `summary: at concurrency ${SUMMARY_CONCURRENCY}, connectFd is ${versus(uring.vsBunConnect, "Bun.connect")} and ${versus(uring.vsCBest, "C best")}${socketPart}`,
    vsBunConnect: uring.vsBunConnect,
    vsCBest: uring.vsCBest,
    socketVsBunConnect: socket?.vsBunConnect,
  };
}
