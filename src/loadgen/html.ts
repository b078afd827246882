/**
 * A load-generator Report as one self-contained HTML page: summary and
 * latency tables, a latency histogram and a connects-per-second timeline as
 * inline SVG, and the data itself as JSON. No scripts, fonts, styles or
 * requests from elsewhere, so the file can be attached to a CI run, mailed or
 * opened offline and still show everything.
 */
import { latencyBuckets, type LatencyBucket, type LatencySummary, type Report } from "./stats.ts";

export interface HtmlOptions {
  title?: string;
  generatedAt?: Date;
  /** A second run (e.g. the Bun.connect one) shown side by side. */
  comparison?: Report;
  /** The command line that made the run, shown and embedded so the page says how to repeat it. */
  command?: string[];
  /** The run's options as checked (e.g. JSON.parse(jobToJson(job))), shown and embedded. */
  options?: Record<string, unknown>;
}

/** Log bins per decade: enough that a distribution spanning one decade still has a shape. */
export const BINS_PER_DECADE = 20;

/** One log-spaced histogram bin, [fromUs, toUs). */
export interface LogBin {
  fromUs: number;
  toUs: number;
  count: number;
}

const W = 720;
const H = 280;
const M = { left: 64, right: 20, top: 28, bottom: 48 };
const PLOT_W = W - M.left - M.right;
const PLOT_H = H - M.top - M.bottom;
const BASE_Y = M.top + PLOT_H;
const COLORS = ["#2563eb", "#ea580c"];
/** Above this many seconds the timeline is a bare line: one circle a second would bloat the page. */
const MAX_POINTS = 300;

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Every string from a report or the caller goes through here: targets and notes are user input. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** A number for display; NaN/Infinity never reach the page. */
function fmt(n: number | undefined, digits = 0): string {
  return n !== undefined && Number.isFinite(n) ? n.toFixed(digits) : "—";
}

/** Latency as people read it: ms with 2 decimals from 1000 µs up, else µs. */
export function fmtLatency(us: number): string {
  if (!Number.isFinite(us)) return "—";
  return us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${fmt(us, Number.isInteger(us) ? 0 : 1)} µs`;
}

/** Short labels for a log axis (3 significant digits are plenty for a tick). */
function fmtAxisUs(us: number): string {
  if (us >= 1e6) return `${+(us / 1e6).toPrecision(3)} s`;
  if (us >= 1e3) return `${+(us / 1e3).toPrecision(3)} ms`;
  return `${+us.toPrecision(3)} µs`;
}

function fmtCount(v: number): string {
  if (v >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (v >= 1e3) return `${+(v / 1e3).toPrecision(3)}k`;
  return `${+v.toPrecision(3)}`;
}

/** SVG coordinates to 0.1 px: enough precision, much less text. */
const px = (n: number) => Math.round(n * 10) / 10;

/**
 * Re-bins HDR buckets, whose widths grow unevenly, onto log-spaced bins so
 * bar heights are comparable. A bucket's count goes to the bin holding its
 * upper bound, since that is the value the HDR count was read at.
 */
export function logBins(buckets: LatencyBucket[], perDecade = BINS_PER_DECADE): LogBin[] {
  if (buckets.length === 0) return [];
  const logs = buckets.map((b) => Math.log10(Math.max(1, b.upToUs)));
  const lo = Math.floor(Math.min(...logs) * perDecade) / perDecade;
  const hi = Math.max(Math.ceil(Math.max(...logs) * perDecade) / perDecade, lo + 1 / perDecade);
  const n = Math.round((hi - lo) * perDecade);
  const edge = (i: number) => 10 ** (lo + i / perDecade);
  const bins = Array.from({ length: n }, (_, i) => ({ fromUs: edge(i), toUs: edge(i + 1), count: 0 }));
  buckets.forEach((b, k) => {
    const i = Math.min(n - 1, Math.max(0, Math.floor((logs[k]! - lo) * perDecade)));
    bins[i]!.count += b.count;
  });
  return bins;
}

/** A round axis top and step (1, 2 or 5 × 10^k, at least 1 since we plot counts). */
function niceScale(max: number, ticks = 4): { max: number; step: number } {
  if (!(max > 0) || !Number.isFinite(max)) return { max: 1, step: 1 };
  const raw = Math.max(1, max / ticks);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  return { max: Math.ceil(max / step) * step, step };
}

const yPos = (v: number, max: number) => px(BASE_Y - (v / max) * PLOT_H);

function yAxis(scale: { max: number; step: number }, label: string): string {
  let out = "";
  for (let v = 0; v <= scale.max + 1e-9; v += scale.step) {
    const y = yPos(v, scale.max);
    out += `<line class="grid" x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}"/>`;
    out += `<text class="tick" x="${M.left - 6}" y="${y + 4}" text-anchor="end">${fmtCount(v)}</text>`;
  }
  return out + `<text class="axis" transform="translate(16 ${M.top + PLOT_H / 2}) rotate(-90)" text-anchor="middle">${label}</text>`;
}

function xTick(x: number, label: string): string {
  return `<line class="grid" x1="${px(x)}" x2="${px(x)}" y1="${BASE_Y}" y2="${BASE_Y + 5}"/>` +
    `<text class="tick" x="${px(x)}" y="${BASE_Y + 18}" text-anchor="middle">${label}</text>`;
}

function xLabel(label: string): string {
  return `<line class="axis-line" x1="${M.left}" x2="${W - M.right}" y1="${BASE_Y}" y2="${BASE_Y}"/>` +
    `<text class="axis" x="${M.left + PLOT_W / 2}" y="${H - 8}" text-anchor="middle">${label}</text>`;
}

function svg(label: string, body: string): string {
  return `<svg role="img" aria-label="${escapeHtml(label)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">${body}</svg>`;
}

const noData = (label: string) =>
  svg(`${label}: no data`, `<text class="nodata" x="${W / 2}" y="${H / 2}" text-anchor="middle">no data</text>`);

/** Engine names for legends and table heads; two runs of the same engine still need telling apart. */
function seriesNames(reports: Report[]): string[] {
  return reports.map((r, i) => (i > 0 && r.engine === reports[0]!.engine ? `${r.engine} (comparison)` : r.engine));
}

function histogramChart(report: Report, name: string, bins: LogBin[], color: string): string {
  const label = `Latency histogram, ${name}`;
  if (bins.length === 0) return noData(label);
  const lo = Math.log10(bins[0]!.fromUs);
  const hi = Math.log10(bins[bins.length - 1]!.toUs);
  const x = (us: number) => M.left + ((Math.min(hi, Math.max(lo, Math.log10(Math.max(1, us)))) - lo) / (hi - lo)) * PLOT_W;
  const scale = niceScale(Math.max(...bins.map((b) => b.count)));
  let body = yAxis(scale, "count");
  for (const b of bins) {
    const x0 = x(b.fromUs);
    const y = yPos(b.count, scale.max);
    body += `<rect class="bar" x="${px(x0 + 0.5)}" y="${y}" width="${px(Math.max(1, x(b.toUs) - x0 - 1))}" height="${px(BASE_Y - y)}" fill="${color}">` +
      `<title>${fmtAxisUs(b.fromUs)}–${fmtAxisUs(b.toUs)}: ${b.count}</title></rect>`;
  }
  // Decade ticks read best; a narrow range would get at most one, so tick every quarter decade then.
  const perTick = hi - lo > 2 ? 1 : 1 / 4;
  for (let v = Math.ceil(lo / perTick - 1e-9) * perTick; v <= hi + 1e-9; v += perTick) body += xTick(x(10 ** v), fmtAxisUs(10 ** v));
  body += xLabel("latency (log scale)");
  body += marker(x(report.latencyUs.p50), `p50 ${fmtLatency(report.latencyUs.p50)}`, "end");
  body += marker(x(report.latencyUs.p99), `p99 ${fmtLatency(report.latencyUs.p99)}`, "start");
  return svg(label, body);
}

/** A percentile line; p50's label sits left of its line and p99's right, so close ones don't overlap. */
function marker(x: number, label: string, anchor: "start" | "end"): string {
  const tx = px(anchor === "end" ? x - 4 : x + 4);
  return `<line class="marker" x1="${px(x)}" x2="${px(x)}" y1="${M.top - 6}" y2="${BASE_Y}"/>` +
    `<text class="marker-label" x="${tx}" y="${M.top - 10}" text-anchor="${anchor}">${escapeHtml(label)}</text>`;
}

function timelineChart(reports: Report[], names: string[]): string {
  const label = `Connects per second, ${names.join(" vs ")}`;
  const len = Math.max(0, ...reports.map((r) => r.timeline.length));
  if (len === 0) return noData(label);
  const targets = [...new Set(reports.flatMap((r) => (r.targetRate !== undefined && Number.isFinite(r.targetRate) ? [r.targetRate] : [])))];
  const scale = niceScale(Math.max(...reports.flatMap((r) => timelineRates(r).map((p) => p.perSecond)), ...targets));
  // Second i's count covers [i, i+1), so its point sits mid-second.
  const x = (s: number) => M.left + (s / len) * PLOT_W;
  let body = yAxis(scale, "connects/s");
  const xStep = niceScale(len, 6).step;
  for (let s = 0; s <= len; s += xStep) body += xTick(x(s), `${s}`);
  body += xLabel("seconds since start");
  for (const t of targets) {
    const y = yPos(t, scale.max);
    body += `<line class="target" x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}"/>` +
      `<text class="marker-label" x="${W - M.right}" y="${y - 4}" text-anchor="end">target ${fmt(t)}/s</text>`;
  }
  reports.forEach((r, k) => {
    const pts = timelineRates(r).map(({ at, perSecond }) => [px(x(at)), yPos(perSecond, scale.max)] as const);
    const color = COLORS[k % COLORS.length]!;
    body += `<polyline class="series" fill="none" stroke="${color}" points="${pts.map((p) => p.join(",")).join(" ")}"/>`;
    if (len <= MAX_POINTS) for (const [cx, cy] of pts) body += `<circle class="point" cx="${cx}" cy="${cy}" r="2.5" fill="${color}"/>`;
  });
  if (reports.length > 1) body += legend(names);
  return svg(label, body);
}

/**
 * Connects per second at the middle of each second of the run. The run
 * rarely ends on a whole second: its last, partial second is scaled to a
 * rate over the part that ran, so it does not plunge like a cliff.
 */
export function timelineRates(report: Report): { at: number; perSecond: number }[] {
  const seconds = report.durationMs / 1000;
  return report.timeline.map((n, i) => {
    const covered = i === report.timeline.length - 1 && seconds > i && seconds < i + 1 ? seconds - i : 1;
    return { at: i + covered / 2, perSecond: n / covered };
  });
}

function legend(names: string[]): string {
  const items = names.map((name, k) => {
    const y = M.top + 4 + k * 16;
    return `<rect x="${M.left + 10}" y="${y - 9}" width="12" height="10" fill="${COLORS[k % COLORS.length]}"/>` +
      `<text x="${M.left + 28}" y="${y}">${escapeHtml(name)}</text>`;
  });
  return `<g class="legend">${items.join("")}</g>`;
}

/** A row is a label and how to show one report's value; the value function returns escaped HTML. */
type Row = [string, (r: Report) => string];

function table(caption: string, reports: Report[], names: string[], rows: Row[]): string {
  const head = reports.length > 1 ? `<tr><th scope="col"></th>${names.map((n) => `<th scope="col">${escapeHtml(n)}</th>`).join("")}</tr>` : "";
  const body = rows.map(([label, cell]) => `<tr><th scope="row">${escapeHtml(label)}</th>${reports.map((r) => `<td>${cell(r)}</td>`).join("")}</tr>`);
  return `<table><caption>${escapeHtml(caption)}</caption>${head}${body.join("")}</table>`;
}

function errorsCell(errors: Record<string, number>): string {
  const entries = Object.entries(errors).filter(([, n]) => n > 0);
  if (entries.length === 0) return "none";
  return entries.map(([code, n]) => `${escapeHtml(code)}: ${fmt(n)}`).join("<br>");
}

function summaryRows(reports: Report[]): Row[] {
  // Optional fields get a row only when some run has them, so a rate run doesn't show empty hold rows.
  const has = (pick: (r: Report) => unknown) => reports.some((r) => pick(r) !== undefined);
  const rows: Row[] = [
    ["target", (r) => escapeHtml(r.target)],
    ["mode", (r) => escapeHtml(r.mode)],
    ["connects", (r) => fmt(r.connects)],
    ["rate/s", (r) => fmt(r.rate, 1)],
    ["durationMs", (r) => fmt(r.durationMs)],
    ["concurrency", (r) => fmt(r.concurrency)],
    ["workers", (r) => fmt(r.workers)],
  ];
  if (has((r) => r.targetRate)) rows.push(["targetRate", (r) => fmt(r.targetRate)]);
  if (has((r) => r.held)) rows.push(["held", (r) => fmt(r.held)]);
  if (has((r) => r.dropped)) rows.push(["dropped", (r) => fmt(r.dropped)]);
  if (has((r) => r.rampMs)) rows.push(["rampMs", (r) => fmt(r.rampMs)], ["holdMs", (r) => fmt(r.holdMs)]);
  rows.push(["errors", (r) => errorsCell(r.errors)]);
  if (has((r) => r.exchangeErrors)) rows.push(["exchanges", (r) => fmt(r.exchanges)], ["exchange errors", (r) => errorsCell(r.exchangeErrors ?? {})]);
  rows.push(["interrupted", (r) => (r.interrupted ? "yes" : "no")]);
  if (reports.some((r) => r.notes.length > 0)) {
    rows.push(["notes", (r) => (r.notes.length ? `<ul>${r.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join("")}</ul>` : "—")]);
  }
  return rows;
}

const latencyRows = (pick: (r: Report) => LatencySummary | undefined, count: (r: Report) => number | undefined): Row[] =>
  (["p50", "p90", "p99", "p999", "max", "mean"] as const).map((k) => [
    k === "p999" ? "p99.9" : k,
    (r) => {
      const summary = pick(r);
      return summary && (count(r) ?? 0) > 0 ? fmtLatency(summary[k]) : "no data";
    },
  ]);

/** Quote an argument the way a POSIX shell would need it, so the command line can be pasted back. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

function optionsTable(options: Record<string, unknown>): string {
  const rows = Object.entries(options)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${escapeHtml(typeof v === "string" ? v : JSON.stringify(v))}</td></tr>`);
  return `<table><caption>Options</caption>${rows.join("")}</table>`;
}

function header(title: string, reports: Report[], names: string[], generatedAt: Date, command: string[] | undefined): string {
  const time = Number.isFinite(generatedAt.getTime()) ? generatedAt.toISOString() : "unknown";
  const items: [string, string][] = [
    ...(command ? [["command", command.map(shellQuote).join(" ")] as [string, string]] : []),
    ["target", [...new Set(reports.map((r) => r.target))].join(" / ")],
    ["engine", names.join(" vs ")],
    ["mode", [...new Set(reports.map((r) => r.mode))].join(" / ")],
    ["generated", time],
    ["workers", reports.map((r) => fmt(r.workers)).join(" / ")],
  ];
  const value = (k: string, v: string) =>
    k === "generated" ? `<time datetime="${escapeHtml(time)}">${escapeHtml(v)}</time>` : k === "command" ? `<code>${escapeHtml(v)}</code>` : escapeHtml(v);
  const dl = items.map(([k, v]) => `<dt>${k}</dt><dd>${value(k, v)}</dd>`);
  return `<header><h1>${escapeHtml(title)}</h1><dl>${dl.join("")}</dl></header>`;
}

function figure(id: string, caption: string, chart: string): string {
  return `<figure id="${id}">${chart}<figcaption>${escapeHtml(caption)}</figcaption></figure>`;
}

/** JSON for a script element: `<` escaped so `</script>` or `<!--` in a target or note can't end it. */
function embeddedJson(data: unknown): string {
  return JSON.stringify(data).replace(/</g, "\\u003c");
}

const CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:760px;padding:0 1rem;color:#111;background:#fff}
h1{font-size:1.5rem;margin:0 0 .5rem}h2{font-size:1.15rem;margin:1.8rem 0 .5rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:0}dt{font-weight:600}dd{margin:0;word-break:break-all}
table{border-collapse:collapse;margin:.5rem 0}caption{text-align:left;font-weight:600;padding-bottom:.3rem}
th,td{border:1px solid #ccc;padding:.25rem .6rem;text-align:left;vertical-align:top}td{font-variant-numeric:tabular-nums;word-break:break-all}
td ul{margin:0;padding-left:1.1rem}figure{margin:1rem 0}figcaption{color:#444;font-size:.9rem}
svg{max-width:100%;height:auto;font-size:11px}.grid{stroke:#e5e5e5}.axis-line{stroke:#555}.tick{fill:#444}.axis{fill:#222;font-size:12px}
.marker{stroke:#111;stroke-dasharray:3 3}.marker-label{fill:#111}.target{stroke:#16a34a;stroke-dasharray:6 4}
.series{stroke-width:1.8}.nodata{fill:#777;font-size:16px}`;

/** The report (and an optional comparison run) as one HTML page. */
export function renderHtml(report: Report, options: HtmlOptions = {}): string {
  const title = options.title ?? "uring-connect report";
  const reports = options.comparison ? [report, options.comparison] : [report];
  const names = seriesNames(reports);
  const buckets = latencyBuckets(report);
  const histograms = reports.map((r, k) => {
    const bins = logBins(k === 0 ? buckets : latencyBuckets(r));
    const id = k === 0 ? "latency-histogram" : "latency-histogram-comparison";
    return figure(id, `Latency histogram, ${names[k]}: connects per log-spaced latency bin (${BINS_PER_DECADE} per decade), p50 and p99 marked.`,
      histogramChart(r, names[k]!, bins, COLORS[k % COLORS.length]!));
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${CSS}</style></head>
<body>${header(title, reports, names, options.generatedAt ?? new Date(), options.command)}
<main><section><h2>Summary</h2>${table("Summary", reports, names, summaryRows(reports))}</section>
<section><h2>Latency</h2>${table("Connect latency", reports, names, latencyRows((r) => r.latencyUs, (r) => r.connects))}${
    reports.some((r) => r.exchangeLatencyUs)
      ? table("Exchange latency (connect start to the full reply)", reports, names, latencyRows((r) => r.exchangeLatencyUs, (r) => r.exchanges))
      : ""
  }</section>
<section><h2>Latency histogram</h2>${histograms.join("\n")}</section>
<section><h2>Connects per second</h2>${figure("timeline", `Connects per second over the run (a last partial second as its rate)${reports.some((r) => r.targetRate !== undefined) ? ", dashed line at the target rate" : ""}.`, timelineChart(reports, names))}</section>
${options.options ? `<section><h2>Options</h2>${optionsTable(options.options)}</section>` : ""}</main>
<script type="application/json" id="report-data">${embeddedJson({ report, buckets, comparison: options.comparison, command: options.command, options: options.options })}</script>
</body></html>
`;
}
