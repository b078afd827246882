/** The human-readable report: header, rate and latency tables, failures, startup and idle sections, summary line. */
import type { ClientSpec } from "./clients.ts";
import type { Environment } from "./environment.ts";
import type { Idle, IdleCpu, Startup } from "./extras.ts";
import type { Options } from "./options.ts";
import { fmtErrors, fmtMs, fmtRate, fmtRatio, fmtSpread, fmtUs, plural, renderTable, type Printer } from "./output.ts";
import type { Failure, Measured } from "./series.ts";
import { HOST } from "./server.ts";
import type { Row } from "./stats.ts";

/** The concurrency the closing summary line compares at. */
const SUMMARY_CONCURRENCY = 1000;

export function printHeader(env: Environment, opts: Options, port: number, clients: ClientSpec[], notes: string[], p: Printer): void {
  p.line(p.bold("uring-connect connect-rate benchmark"));
  p.line(`  kernel    ${env.kernel}`);
  p.line(`  bun       ${env.bun}`);
  p.line(`  liburing  ${env.liburing}`);
  p.line(`  cpu       ${env.cpus} × ${env.cpuModel}`);
  p.line(`  node      ${env.node}`);
  p.line(`  clients   ${clients.map((c) => c.label).join(", ")}`);
  p.line(`  runs      ${plural(opts.connections, "connection")} × ${plural(opts.reps, "rep")} at concurrency ${opts.concurrency.join(", ")}; server ${HOST}:${port}`);
  for (const note of notes) p.line(p.warn(`  note: ${note.replaceAll("\n", "\n        ")}`));
}

/** The client name, marked when some of its runs failed. */
function okSuffix(r: Row): string {
  return r.ok === r.runs ? r.client : `${r.client} (${r.ok}/${r.runs} ok)`;
}

export function printRateTable(sc: Measured, reps: number, p: Printer): void {
  p.line();
  p.line(p.bold(`concurrency ${sc.concurrency} — ${plural(sc.connections, "connection")} × ${plural(reps, "rep")}`));
  renderTable(
    ["client", "connects/s", "±", "× Bun.connect", "× C ref", "p50 ms", "p99 ms", "errors"],
    sc.rows.map((r) => [
      okSuffix(r),
      fmtRate(r.rate),
      fmtSpread(r.spreadPct),
      fmtRatio(r.vsBunConnect),
      fmtRatio(r.vsCRef),
      fmtMs(r.p50Ms),
      fmtMs(r.p99Ms),
      fmtErrors(r.errors),
    ]),
    [7],
    p,
  );
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

export function summaryLine(rates: Measured[]): { text: string; vsBunConnect?: number; vsCRef?: number } {
  const uring = rates.find((t) => t.concurrency === SUMMARY_CONCURRENCY)?.rows.find((r) => r.id === "uring");
  if (!uring) return { text: `summary: uring-connect was not measured at concurrency ${SUMMARY_CONCURRENCY}` };
  const versus = (ratio: number | undefined, name: string) => (ratio === undefined ? `${name}: not measured` : `${fmtRatio(ratio)} ${name}`);
  return {
    text: `summary: at concurrency ${SUMMARY_CONCURRENCY}, uring-connect is ${versus(uring.vsBunConnect, "Bun.connect")} and ${versus(uring.vsCRef, "C ref")}`,
    vsBunConnect: uring.vsBunConnect,
    vsCRef: uring.vsCRef,
  };
}
