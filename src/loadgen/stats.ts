/**
 * Load-generator statistics: latency in an HDR histogram (hdr-histogram-js),
 * errors by code, successful connects per second, and the report object the
 * CLI prints, `--json` emits and the scripting API resolves with. Reports
 * from several workers merge by adding histograms, never by averaging
 * percentiles.
 */
import * as hdr from "hdr-histogram-js";

/** Latency percentiles in microseconds. */
export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** What a run did: the same fields in the table, in `--json` and from the API. */
export interface Report {
  mode: "rate" | "hold";
  /** The target as given (`host:port`, `[v6]:port`, `unix:/path`). */
  target: string;
  /** Which client opened the connections. */
  engine: "uring-connect" | "Bun.connect";
  concurrency: number;
  /** Successful connects. */
  connects: number;
  /** Failed connects by code, e.g. { ECONNREFUSED: 3 }. */
  errors: Record<string, number>;
  /** Successful connects per second over the run. */
  rate: number;
  durationMs: number;
  /** Per-connect latency from when the connect was meant to start. */
  latencyUs: LatencySummary;
  /** Successful connects in each second of the run. */
  timeline: number[];
  /** The open-loop target rate, when one was set. */
  targetRate?: number;
  /** hold: connections established and still open at the end of the hold. */
  held?: number;
  /** hold: connections the peer closed or reset while held. */
  dropped?: number;
  workers: number;
  /** True when the run was stopped early (Ctrl-C, abort). */
  interrupted: boolean;
  /** Things the run decided on its own and says so (limits, fallbacks). */
  notes: string[];
  /** The latency histogram, HDR compressed base64: add histograms to merge runs. */
  histogram: string;
}

/** Latencies up to an hour are tracked; 3 significant digits. */
function newHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
}

/** Collects one run's outcomes as they happen. */
export class Stats {
  readonly histogram = newHistogram();
  readonly errors: Record<string, number> = {};
  readonly timeline: number[] = [];
  connects = 0;
  failures = 0;

  constructor(readonly startedAt: number) {}

  /** A connect succeeded `latencyUs` after it was meant to start; `now` in ms. */
  connected(latencyUs: number, now: number): void {
    this.connects++;
    this.histogram.recordValue(Math.max(1, Math.round(latencyUs)));
    const second = Math.max(0, Math.floor((now - this.startedAt) / 1000));
    while (this.timeline.length <= second) this.timeline.push(0);
    this.timeline[second]!++;
  }

  failed(code: string): void {
    this.failures++;
    this.errors[code] = (this.errors[code] ?? 0) + 1;
  }

  report(fields: Omit<Report, "connects" | "errors" | "rate" | "latencyUs" | "timeline" | "histogram">): Report {
    return {
      ...fields,
      connects: this.connects,
      errors: { ...this.errors },
      rate: fields.durationMs > 0 ? this.connects / (fields.durationMs / 1000) : 0,
      latencyUs: summarize(this.histogram),
      timeline: [...this.timeline],
      histogram: hdr.encodeIntoCompressedBase64(this.histogram),
    };
  }
}

function summarize(h: hdr.Histogram): LatencySummary {
  if (h.totalCount === 0) return { p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  return {
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    max: h.maxValue,
    mean: Math.round(h.mean * 10) / 10,
  };
}

function decode(report: Report): hdr.Histogram {
  const h = newHistogram();
  if (report.histogram) h.add(hdr.decodeFromCompressedBase64(report.histogram));
  return h;
}

/**
 * One report for several workers' runs of the same job: counts, errors and
 * timelines add up, histograms are added, the duration is the longest.
 */
export function mergeReports(reports: Report[]): Report {
  if (reports.length === 0) throw new Error("mergeReports needs at least one report");
  const histogram = newHistogram();
  for (const report of reports) histogram.add(decode(report));
  const errors: Record<string, number> = {};
  const timeline: number[] = [];
  for (const report of reports) {
    for (const [code, n] of Object.entries(report.errors)) errors[code] = (errors[code] ?? 0) + n;
    report.timeline.forEach((n, i) => (timeline[i] = (timeline[i] ?? 0) + n));
  }
  const sum = (pick: (r: Report) => number | undefined) => reports.reduce((total, r) => total + (pick(r) ?? 0), 0);
  const first = reports[0]!;
  const durationMs = Math.max(...reports.map((r) => r.durationMs));
  const connects = sum((r) => r.connects);
  const merged: Report = {
    ...first,
    concurrency: sum((r) => r.concurrency),
    connects,
    errors,
    rate: durationMs > 0 ? connects / (durationMs / 1000) : 0,
    durationMs,
    latencyUs: summarize(histogram),
    timeline,
    workers: reports.length,
    interrupted: reports.some((r) => r.interrupted),
    notes: [...new Set(reports.flatMap((r) => r.notes))],
    histogram: hdr.encodeIntoCompressedBase64(histogram),
  };
  if (first.targetRate !== undefined) merged.targetRate = sum((r) => r.targetRate);
  if (first.held !== undefined) merged.held = sum((r) => r.held);
  if (first.dropped !== undefined) merged.dropped = sum((r) => r.dropped);
  return merged;
}

/** A latency histogram for charts: count of connects in each bucket, from the HDR data. */
export interface LatencyBucket {
  /** Upper bound of the bucket, µs. */
  upToUs: number;
  count: number;
}

/** Buckets read off the HDR histogram's percentile distribution (cumulative counts). */
export function latencyBuckets(report: Report): LatencyBucket[] {
  const h = decode(report);
  if (h.totalCount === 0) return [];
  const buckets: LatencyBucket[] = [];
  let previous = 0;
  for (const line of h.outputPercentileDistribution(2).split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 3 || !/^[0-9.]+$/.test(fields[0]!)) continue;
    const upToUs = Number(fields[0]);
    const cumulative = Number(fields[2]);
    const last = buckets[buckets.length - 1];
    if (last && last.upToUs === upToUs) {
      last.count += cumulative - previous;
    } else if (cumulative > previous) {
      buckets.push({ upToUs, count: cumulative - previous });
    }
    previous = Math.max(previous, cumulative);
  }
  return buckets;
}
