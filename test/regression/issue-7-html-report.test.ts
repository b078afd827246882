/**
 * Issue 7, item 8: the HTML report.
 * - 4 log bins per decade drew a run within one decade as 4 bars: now 20.
 * - The last, partial second of the timeline plunged like a cliff: it is
 *   drawn as the rate over the part of the second that ran.
 * - The page did not say how the run was made: it records the command line
 *   and the options.
 * - The CLI wrote the file silently: it says on stderr where.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BINS_PER_DECADE, logBins, renderHtml, shellQuote, timelineRates } from "../../src/loadgen/html.ts";
import { latencyBuckets, Stats, type Report } from "../../src/loadgen/stats.ts";
import { runCli } from "../cli-run.ts";
import { startChildServer, tempDir } from "../harness.ts";

function report(latenciesUs: number[], timelineMs: number[], durationMs: number): Report {
  const stats = new Stats(0);
  latenciesUs.forEach((latency, i) => stats.connected(latency, timelineMs[i % timelineMs.length]!));
  return stats.report({ mode: "rate", target: "127.0.0.1:9", engine: "uring-connect", concurrency: 8, durationMs, workers: 1, interrupted: false, notes: [] });
}

describe("the latency histogram", () => {
  test("a run within one decade (100 µs to 1 ms) gets many bars, not 4", () => {
    const latencies = Array.from({ length: 5000 }, (_, i) => 100 + (i % 900));
    const bins = logBins(latencyBuckets(report(latencies, [0], 1000)));
    expect(BINS_PER_DECADE).toBeGreaterThanOrEqual(20);
    expect(bins.filter((b) => b.count > 0).length).toBeGreaterThanOrEqual(18);
    expect(bins.reduce((n, b) => n + b.count, 0)).toBe(5000);
    const html = renderHtml(report(latencies, [0], 1000));
    const figure = /<figure id="latency-histogram">([\s\S]*?)<\/figure>/.exec(html)![1]!;
    expect((figure.match(/<rect class="bar"/g) ?? []).length).toBeGreaterThanOrEqual(18);
  });
});

describe("the timeline", () => {
  test("the last partial second is drawn as a rate", () => {
    // 1000 connects/s for 2.25 s: the third second holds 250 connects in 0.25 s.
    const times = Array.from({ length: 2250 }, (_, i) => i);
    const r = report(Array(2250).fill(100), times, 2250);
    expect(r.timeline).toEqual([1000, 1000, 250]);
    const rates = timelineRates(r);
    expect(rates.map((p) => p.perSecond)).toEqual([1000, 1000, 1000]);
    expect(rates.map((p) => p.at)).toEqual([0.5, 1.5, 2.125]);
  });

  test("whole seconds are left as they are", () => {
    const r = report(Array(3).fill(100), [100, 1100, 1900], 2000);
    expect(timelineRates(r)).toEqual([
      { at: 0.5, perSecond: 1 },
      { at: 1.5, perSecond: 2 },
    ]);
  });
});

describe("how the run was made", () => {
  test("the page shows and embeds the command line and the options", () => {
    const r = report([100, 200], [0], 1000);
    const command = ["uring-connect", "rate", "127.0.0.1:9", "--send", "*1\\r\\n$4\\r\\nPING\\r\\n"];
    const options = { mode: "rate", concurrency: 8, payload: "KjENCg==" };
    const html = renderHtml(r, { command, options });
    expect(html).toContain("<dt>command</dt><dd><code>uring-connect rate 127.0.0.1:9 --send &#39;*1\\r\\n$4\\r\\nPING\\r\\n&#39;</code></dd>");
    expect(html).toContain('<tr><th scope="row">concurrency</th><td>8</td></tr>');
    const data = JSON.parse(/<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html)![1]!);
    expect(data.command).toEqual(command);
    expect(data.options).toEqual(options);
    expect(shellQuote("it's")).toBe("'it'\\''s'");
  });

  test("the CLI says where it wrote the page, which records the command line", async () => {
    await using dir = tempDir();
    await using server = await startChildServer();
    const run = await runCli(["rate", `127.0.0.1:${server.port}`, "-n", "200", "-c", "20", "--html", join(dir.path, "r.html")]);
    expect(run.code).toBe(0);
    const file = join(dir.path, "r.html");
    expect(run.stderr.split("\n")).toContain(`uring-connect: wrote the HTML report to ${file}`);
    expect(existsSync(file)).toBe(true);
    expect(readFileSync(file, "utf8")).toContain(`<code>uring-connect rate 127.0.0.1:${server.port} -n 200 -c 20 --html ${file}</code>`);
  });
});
