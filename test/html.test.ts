/** The HTML report page: embedded data, charts, escaping, empty runs, comparisons. */
import { expect, test } from "bun:test";
import { BINS_PER_DECADE, fmtLatency, logBins, renderHtml } from "../src/loadgen/html.ts";
import { latencyBuckets, type Report, Stats } from "../src/loadgen/stats.ts";

/** A deterministic run: a few thousand latencies over ~4.5 s, a slow tail, a few errors. */
function makeReport(engine: Report["engine"], overrides: Partial<Report> = {}, scale = 1): Report {
  const stats = new Stats(0);
  for (let i = 0; i < 3000; i++) {
    const latency = (50 + (i % 97) * 13 + (i % 7 === 0 ? 20_000 : 0)) * scale;
    stats.connected(latency, i * 1.5);
  }
  for (let i = 0; i < 3; i++) stats.failed("ECONNREFUSED");
  stats.failed("ETIMEDOUT");
  const report = stats.report({
    mode: "rate", target: "127.0.0.1:9000", engine, concurrency: 64, durationMs: 4500,
    workers: 2, interrupted: false, notes: ["raised RLIMIT_NOFILE to 65536"], targetRate: 700,
  });
  return { ...report, ...overrides };
}

function embedded(html: string): { report: Report; buckets: unknown; comparison?: Report } {
  const match = html.match(/<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/);
  expect(match).not.toBeNull();
  return JSON.parse(match![1]!);
}

function figureOf(html: string, id: string): string {
  const match = html.match(new RegExp(`<figure id="${id}">([\\s\\S]*?)</figure>`));
  expect(match).not.toBeNull();
  return match![1]!;
}

test("embedded JSON round-trips the report and its buckets", () => {
  const report = makeReport("uring-connect");
  const html = renderHtml(report, { generatedAt: new Date("2025-01-02T03:04:05Z") });
  const data = embedded(html);
  expect(data.report.connects).toBe(3000);
  expect(data.report.timeline).toEqual(report.timeline);
  expect(data.report).toEqual(report);
  expect(data.buckets).toEqual(latencyBuckets(report));
  expect(data.comparison).toBeUndefined();
  expect(html).toContain("2025-01-02T03:04:05.000Z");
  expect(html).toContain("<title>uring-connect report</title>");
  expect(html).toContain('lang="en"');
});

test("both charts are inline SVG with bars, points, percentile markers and the target line", () => {
  const report = makeReport("uring-connect");
  const html = renderHtml(report);
  const histogram = figureOf(html, "latency-histogram");
  const timeline = figureOf(html, "timeline");
  for (const fig of [histogram, timeline]) {
    expect(fig).toMatch(/<svg role="img" aria-label="[^"]+"/);
    expect(fig).toContain("<figcaption>");
  }
  expect((histogram.match(/<rect class="bar"/g) ?? []).length).toBeGreaterThan(0);
  expect(histogram).toContain(`p50 ${fmtLatency(report.latencyUs.p50)}`);
  expect(histogram).toContain(`p99 ${fmtLatency(report.latencyUs.p99)}`);
  expect((timeline.match(/<circle class="point"/g) ?? []).length).toBe(report.timeline.length);
  expect(timeline).toContain('class="target"');
  expect(timeline).toContain("target 700/s");
  expect(html).not.toMatch(/NaN|Infinity/);
  // Self-contained: nothing fetched from elsewhere.
  expect(html).not.toMatch(/\b(src|href)=|@import|url\(/);
});

test("tables show the summary, errors, notes and latency units", () => {
  const html = renderHtml(makeReport("uring-connect", { held: 10, dropped: 1 }));
  expect(html).toContain("ECONNREFUSED: 3");
  expect(html).toContain("ETIMEDOUT: 1");
  expect(html).toContain("<li>raised RLIMIT_NOFILE to 65536</li>");
  expect(html).toMatch(/<th scope="row">held<\/th><td>10<\/td>/);
  expect(html).toMatch(/<th scope="row">interrupted<\/th><td>no<\/td>/);
  expect(fmtLatency(778)).toBe("778 µs");
  expect(fmtLatency(21219)).toBe("21.22 ms");
  expect(fmtLatency(3532.7)).toBe("3.53 ms");
});

test("log bins keep every count and sit BINS_PER_DECADE to a decade", () => {
  const buckets = latencyBuckets(makeReport("uring-connect"));
  const bins = logBins(buckets);
  expect(bins.reduce((n, b) => n + b.count, 0)).toBe(buckets.reduce((n, b) => n + b.count, 0));
  for (const b of bins) expect(Math.log10(b.toUs) - Math.log10(b.fromUs)).toBeCloseTo(1 / BINS_PER_DECADE, 9);
  expect(bins[0]!.fromUs).toBeLessThanOrEqual(buckets[0]!.upToUs);
  expect(bins[bins.length - 1]!.toUs).toBeGreaterThanOrEqual(buckets[buckets.length - 1]!.upToUs);
  expect(logBins([])).toEqual([]);
  expect(logBins([{ upToUs: 1000, count: 5 }])).toEqual([{ fromUs: 1000, toUs: 10 ** (3 + 1 / BINS_PER_DECADE), count: 5 }]);
  expect(logBins(buckets, 4).every((b) => Math.abs(Math.log10(b.toUs / b.fromUs) - 0.25) < 1e-9)).toBe(true);
});

test("strings from the report and options are escaped", () => {
  const target = "evil<script>alert(1)</script>&co:80";
  const note = "a </script><script>alert(2)</script> & b";
  const report = makeReport("uring-connect", { target, notes: [note], errors: { "<b>E&X</b>": 2 } });
  const html = renderHtml(report, { title: "t <i>&</i>" });
  expect(html).toContain("evil&lt;script&gt;alert(1)&lt;/script&gt;&amp;co:80");
  expect(html).toContain("a &lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt; &amp; b");
  expect(html).toContain("&lt;b&gt;E&amp;X&lt;/b&gt;: 2");
  expect(html).toContain("<title>t &lt;i&gt;&amp;&lt;/i&gt;</title>");
  expect(html).not.toContain("<b>E&X");
  // The only script element is the JSON one, and it still parses back to the raw strings.
  expect(html.match(/<script/gi)).toEqual(["<script"]);
  expect(html.match(/<\/script/gi)).toEqual(["</script"]);
  const data = embedded(html);
  expect(data.report.target).toBe(target);
  expect(data.report.notes).toEqual([note]);
});

test("an empty run renders 'no data' and no NaN or Infinity", () => {
  const report = new Stats(0).report({
    mode: "hold", target: "unix:/tmp/x.sock", engine: "uring-connect", concurrency: 1,
    durationMs: 0, workers: 1, interrupted: true, notes: [],
  });
  const html = renderHtml(report);
  expect(html).not.toMatch(/NaN|Infinity/);
  expect(figureOf(html, "latency-histogram")).toContain("no data");
  expect(figureOf(html, "timeline")).toContain("no data");
  expect(html).toMatch(/<th scope="row">errors<\/th><td>none<\/td>/);
  expect(html).toMatch(/<th scope="row">interrupted<\/th><td>yes<\/td>/);
  expect(html).toMatch(/<th scope="row">p50<\/th><td>no data<\/td>/);
  const data = embedded(html);
  expect(data.report.connects).toBe(0);
  expect(data.report.timeline).toEqual([]);
  expect(data.buckets).toEqual([]);
});

test("a comparison run adds columns, a second series and a legend with both engines", () => {
  const ours = makeReport("uring-connect");
  const theirs = makeReport("Bun.connect", { timeline: [500, 520, 480] }, 2);
  const html = renderHtml(ours, { comparison: theirs });
  expect(html).toContain('<th scope="col">uring-connect</th><th scope="col">Bun.connect</th>');
  const timeline = figureOf(html, "timeline");
  expect(timeline.match(/<polyline/g)?.length).toBe(2);
  const legend = timeline.match(/<g class="legend">([\s\S]*?)<\/g>/);
  expect(legend).not.toBeNull();
  expect(legend![1]).toContain("uring-connect");
  expect(legend![1]).toContain("Bun.connect");
  expect(figureOf(html, "latency-histogram-comparison")).toContain('<rect class="bar"');
  expect(html).toMatch(/<th scope="row">p50<\/th><td>[^<]+<\/td><td>[^<]+<\/td>/);
  expect(embedded(html).comparison).toEqual(theirs);
  expect(html).not.toMatch(/NaN|Infinity/);
});
