/** Human-readable output: the report table, the comparison, the live line. */
import type { Progress } from "./engine.ts";
import type { LatencySummary, Report } from "./stats.ts";

const count = (n: number) => Math.round(n).toLocaleString("en-US");
const latency = (us: number) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us} µs`);

function errorsText(errors: Record<string, number>): string {
  const entries = Object.entries(errors).sort((a, b) => b[1] - a[1]);
  return entries.length ? entries.map(([code, n]) => `${code} ${count(n)}`).join(", ") : "none";
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

function latencyText(l: LatencySummary): string {
  return `p50 ${latency(l.p50)}  p90 ${latency(l.p90)}  p99 ${latency(l.p99)}  p99.9 ${latency(l.p999)}  max ${latency(l.max)}  mean ${latency(Math.round(l.mean))}`;
}

/** The report as a few aligned lines. */
export function formatReport(report: Report): string {
  const lines = [`${report.mode} ${report.target}  (${report.engine}, concurrency ${count(report.concurrency)}, ${report.workers} worker${report.workers > 1 ? "s" : ""})`];
  if (report.mode === "hold") {
    // A hold's connects per second over the whole run would mostly measure the hold: give the two times instead.
    lines.push(`  connects   ${count(report.connects)} opened in ${seconds(report.rampMs ?? report.durationMs)}, held for ${seconds(report.holdMs ?? 0)}`);
  } else {
    lines.push(
      `  connects   ${count(report.connects)} in ${seconds(report.durationMs)} = ${count(report.rate)}/s` +
        (report.targetRate === undefined ? "" : `  (target ${count(report.targetRate)}/s)`),
    );
  }
  if (report.exchangeErrors === undefined || report.exchangeLatencyUs === undefined) {
    lines.push(`  errors     ${errorsText(report.errors)}`, `  latency    ${latencyText(report.latencyUs)}`);
  } else {
    // Each phase on its own: a refused connect and a peer that never answered need different fixes.
    const exchanged = report.exchanges ?? 0;
    lines.push(
      `  errors     connect: ${errorsText(report.errors)}; exchange: ${errorsText(report.exchangeErrors)}`,
      `  exchanges  ${count(exchanged)} completed`,
      `  latency    connect   ${latencyText(report.latencyUs)}`,
      `             exchange  ${exchanged > 0 ? latencyText(report.exchangeLatencyUs) : "none completed"}`,
    );
  }
  if (report.mode === "hold") lines.push(`  held       ${count(report.held ?? 0)} open at the end, ${count(report.dropped ?? 0)} dropped by the peer`);
  if (report.interrupted) lines.push("  stopped early (interrupted): figures cover what was done");
  for (const note of report.notes) lines.push(`  note: ${note}`);
  return lines.join("\n");
}

/** Two runs of the same job side by side, with the ratio of rates. */
export function formatComparison(ours: Report, theirs: Report): string {
  const rows: [string, (r: Report) => string][] = [
    ["connects/s", (r) => count(r.rate)],
    ["connects", (r) => count(r.connects)],
    ["errors", (r) => errorsText(r.errors)],
    ["p50", (r) => latency(r.latencyUs.p50)],
    ["p99", (r) => latency(r.latencyUs.p99)],
    ["p99.9", (r) => latency(r.latencyUs.p999)],
  ];
  const width = Math.max(...rows.map(([, f]) => Math.max(f(ours).length, f(theirs).length)), ours.engine.length, theirs.engine.length) + 2;
  const pad = (s: string) => s.padStart(width);
  const lines = [
    `rate ${ours.target}, concurrency ${count(ours.concurrency)}, ${(ours.durationMs / 1000).toFixed(1)} s each`,
    `  ${"".padEnd(12)}${pad(ours.engine)}${pad(theirs.engine)}`,
    ...rows.map(([name, f]) => `  ${name.padEnd(12)}${pad(f(ours))}${pad(f(theirs))}`),
    "",
    `  ${ours.engine} opened ${(theirs.rate > 0 ? ours.rate / theirs.rate : 0).toFixed(2)}× as many connections per second as ${theirs.engine}`,
  ];
  return lines.join("\n");
}

/** The live line: rewritten in place about once a second (terminals only). */
export function formatProgress(p: Progress): string {
  const held = p.held === undefined ? "" : `  held ${count(p.held)}`;
  return `elapsed ${(p.elapsedMs / 1000).toFixed(0)}s  now ${count(p.rateNow)}/s  established ${count(p.connects)}  in flight ${count(p.inFlight)}${held}  errors ${count(p.errors)}`;
}
