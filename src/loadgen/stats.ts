/**
 * Load-generator statistics: latency in an HDR histogram (hdr-histogram-js),
 * errors by code, successful connects per second, and the report object the
 * CLI prints, `--json` emits and the scripting API resolves with. Reports
 * from several workers merge by adding histograms, never by averaging
 * percentiles.
 */
import * as hdr from "hdr-histogram-js";
import { internalError } from "../errors.ts";

/** Latency percentiles in microseconds. */
export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** Where a failure happened: opening the connection, or the exchange on it afterwards. */
export type Phase = "connect" | "exchange";

/** What a run did: the same fields in the table, in `--json` and from the API. */
export interface Report {
  mode: "rate" | "hold";
  /** The target as given (`host:port`, `[v6]:port`, `unix:/path`). */
  target: string;
  /** Which client opened the connections. */
  engine: "uring-connect" | "Bun.connect";
  concurrency: number;
  /** Successful connects (connections established, whatever their exchange did). */
  connects: number;
  /** Failed connects by code, e.g. { ECONNREFUSED: 3 }. */
  errors: Record<string, number>;
  /** rate: successful connects per second over the run; hold: per second while opening. */
  rate: number;
  durationMs: number;
  /** Per-connect latency from when the connect was meant to start until it was established. */
  latencyUs: LatencySummary;
  /** Successful connects in each second of the run (the last second may be partial). */
  timeline: number[];
  /** With an exchange (send/expectBytes): exchanges completed. */
  exchanges?: number;
  /** With an exchange: failed exchanges on established connections by code (ETIMEDOUT, EOF, ECONNRESET...). */
  exchangeErrors?: Record<string, number>;
  /** With an exchange: latency from when the connect was meant to start until the whole reply was in. */
  exchangeLatencyUs?: LatencySummary;
  /** With an exchange: the exchange-latency histogram, HDR compressed base64. */
  exchangeHistogram?: string;
  /** The open-loop target rate, when one was set. */
  targetRate?: number;
  /** hold: connections established and still open at the end of the hold. */
  held?: number;
  /** hold: connections the peer closed or reset while held. */
  dropped?: number;
  /** hold: ms spent opening the connections (the ramp). */
  rampMs?: number;
  /** hold: ms they were held once open. */
  holdMs?: number;
  workers: number;
  /** True when the run was stopped early (Ctrl-C, SIGTERM, SIGHUP, abort). */
  interrupted: boolean;
  /** Things the run decided on its own and says so (limits, fallbacks, kernel drops). */
  notes: string[];
  /** The latency histogram, HDR compressed base64: add histograms to merge runs. */
  histogram: string;
}

/** The fields a run fills in itself; Stats adds the counts, latencies and histograms. */
export type RunFields = Omit<Report, "connects" | "errors" | "rate" | "latencyUs" | "timeline" | "histogram" | "exchanges" | "exchangeErrors" | "exchangeLatencyUs" | "exchangeHistogram"> & { rate?: number };

/** Latencies up to an hour are tracked; 3 significant digits. */
function newHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
}

const record = (h: hdr.Histogram, latencyUs: number) => h.recordValue(Math.max(1, Math.round(latencyUs)));

/** Collects one run's outcomes as they happen. */
export class Stats {
  readonly histogram = newHistogram();
  readonly errors: Record<string, number> = {};
  readonly timeline: number[] = [];
  /** Present when connections exchange data. */
  readonly exchange: { histogram: hdr.Histogram; errors: Record<string, number>; count: number } | undefined;
  connects = 0;
  /** Failures in both phases. */
  failures = 0;

  constructor(
    readonly startedAt: number,
    withExchange = false,
  ) {
    this.exchange = withExchange ? { histogram: newHistogram(), errors: {}, count: 0 } : undefined;
  }

  /** A connect succeeded `latencyUs` after it was meant to start; `now` in ms. */
  connected(latencyUs: number, now: number): void {
    this.connects++;
    record(this.histogram, latencyUs);
    const second = Math.max(0, Math.floor((now - this.startedAt) / 1000));
    while (this.timeline.length <= second) this.timeline.push(0);
    this.timeline[second]!++;
  }

  /** An exchange completed `latencyUs` after its connect was meant to start. */
  exchanged(latencyUs: number): void {
    if (!this.exchange) return;
    this.exchange.count++;
    record(this.exchange.histogram, latencyUs);
  }

  failed(code: string, phase: Phase = "connect"): void {
    this.failures++;
    const errors = phase === "exchange" && this.exchange ? this.exchange.errors : this.errors;
    errors[code] = (errors[code] ?? 0) + 1;
  }

  report(fields: RunFields): Report {
    const report: Report = {
      ...fields,
      connects: this.connects,
      errors: { ...this.errors },
      rate: fields.rate ?? (fields.durationMs > 0 ? this.connects / (fields.durationMs / 1000) : 0),
      latencyUs: summarize(this.histogram),
      timeline: [...this.timeline],
      histogram: hdr.encodeIntoCompressedBase64(this.histogram),
    };
    if (this.exchange) {
      report.exchanges = this.exchange.count;
      report.exchangeErrors = { ...this.exchange.errors };
      report.exchangeLatencyUs = summarize(this.exchange.histogram);
      report.exchangeHistogram = hdr.encodeIntoCompressedBase64(this.exchange.histogram);
    }
    return report;
  }
}

/**
 * Percentiles from the histogram. HDR reports a bucket's upper edge, which
 * can lie above the largest value recorded: clamp to the max, so p99.9 never
 * reads larger than max.
 */
function summarize(h: hdr.Histogram): LatencySummary {
  if (h.totalCount === 0) return { p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  const at = (percentile: number) => Math.min(h.getValueAtPercentile(percentile), h.maxValue);
  return {
    p50: at(50),
    p90: at(90),
    p99: at(99),
    p999: at(99.9),
    max: h.maxValue,
    mean: Math.round(h.mean * 10) / 10,
  };
}

function decode(encoded: string | undefined): hdr.Histogram {
  const h = newHistogram();
  if (encoded) h.add(hdr.decodeFromCompressedBase64(encoded));
  return h;
}

function addCounts(into: Record<string, number>, from: Record<string, number> | undefined): void {
  for (const [code, n] of Object.entries(from ?? {})) into[code] = (into[code] ?? 0) + n;
}

/**
 * One report for several workers' runs of the same job: counts, errors and
 * timelines add up, histograms are added, the duration is the longest.
 */
export function mergeReports(reports: Report[]): Report {
  if (reports.length === 0) throw internalError("mergeReports needs at least one report");
  const merge = (pick: (r: Report) => string | undefined) => {
    const histogram = newHistogram();
    for (const report of reports) histogram.add(decode(pick(report)));
    return histogram;
  };
  const histogram = merge((r) => r.histogram);
  const errors: Record<string, number> = {};
  const timeline: number[] = [];
  for (const report of reports) {
    addCounts(errors, report.errors);
    report.timeline.forEach((n, i) => (timeline[i] = (timeline[i] ?? 0) + n));
  }
  const sum = (pick: (r: Report) => number | undefined) => reports.reduce((total, r) => total + (pick(r) ?? 0), 0);
  const max = (pick: (r: Report) => number | undefined) => Math.max(...reports.map((r) => pick(r) ?? 0));
  const first = reports[0]!;
  const durationMs = max((r) => r.durationMs);
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
  if (first.exchangeHistogram !== undefined) {
    const exchange = merge((r) => r.exchangeHistogram);
    merged.exchanges = sum((r) => r.exchanges);
    merged.exchangeErrors = {};
    for (const report of reports) addCounts(merged.exchangeErrors, report.exchangeErrors);
    merged.exchangeLatencyUs = summarize(exchange);
    merged.exchangeHistogram = hdr.encodeIntoCompressedBase64(exchange);
  }
  if (first.targetRate !== undefined) merged.targetRate = sum((r) => r.targetRate);
  if (first.held !== undefined) merged.held = sum((r) => r.held);
  if (first.dropped !== undefined) merged.dropped = sum((r) => r.dropped);
  if (first.rampMs !== undefined) {
    // Workers open their shares side by side: the ramp took as long as the slowest one.
    merged.rampMs = max((r) => r.rampMs);
    merged.holdMs = max((r) => r.holdMs);
    merged.rate = merged.rampMs > 0 ? connects / (merged.rampMs / 1000) : 0;
  }
  return merged;
}

/** A latency histogram for charts: count of connects in each bucket, from the HDR data. */
export interface LatencyBucket {
  /** Upper bound of the bucket, µs. */
  upToUs: number;
  count: number;
}

/** Every distinct latency the HDR histogram holds (its finest buckets), with its count. */
export function latencyBuckets(report: Report): LatencyBucket[] {
  const h = decode(report.histogram);
  // newHistogram() builds the plain-JS kind (WebAssembly is never switched on), which can be iterated.
  if (!(h instanceof hdr.JsHistogram)) throw internalError("latencyBuckets needs a JS histogram");
  const buckets: LatencyBucket[] = [];
  const values = h.recordedValuesIterator;
  values.reset();
  while (values.hasNext()) {
    const value = values.next();
    buckets.push({ upToUs: value.valueIteratedTo, count: value.countAtValueIteratedTo });
  }
  return buckets;
}
