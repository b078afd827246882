/**
 * Issue 7, item 4: open-loop `--rate` ran one interval late. The first
 * start waited a whole interval, so p50 was about 1/rate (20.9 ms at 50/s)
 * instead of the connect's own latency, and 1 s at 50/s made 49 connects.
 * Start i is due at i/rate from the start, the first one at once: a run of
 * d seconds makes exactly rate × d starts, each timed from its schedule.
 *
 * Checks are about the schedule, not speed: the count of starts follows from
 * the schedule alone; p50 is compared with half the interval at a low rate
 * (20 ms apart), so a loaded machine has ~10 ms of slack per connect.
 */
import { describe, expect, test } from "bun:test";
import { rate } from "../../src/loadgen/index.ts";
import type { Report } from "../../src/loadgen/stats.ts";
import { startLocalServer } from "../../src/loadgen/local-server.ts";
import { runCli } from "../cli-run.ts";
import { startChildServer } from "../harness.ts";

/** Connects started: each either connected or failed with a code. */
const started = (r: Report) => r.connects + Object.values(r.errors).reduce((a, b) => a + b, 0);

describe.each(["uring", "bun"] as const)("--engine %s", (engine) => {
  test("50/s for 1 s: 50 starts, and p50 well below the 20 ms between them", async () => {
    await using server = await startChildServer();
    const r = await rate({ target: `127.0.0.1:${server.port}`, rate: 50, duration: "1s", engine });
    expect(started(r)).toBe(50);
    expect(r.connects).toBe(50);
    expect(r.latencyUs.p50).toBeLessThan(10_000);
  });

  test("CLI --rate 500 -d 2s: 1000 starts, the count within 5% of rate × duration", async () => {
    await using server = await startChildServer();
    const run = await runCli(["rate", `127.0.0.1:${server.port}`, "--rate", "500", "-d", "2s", "--engine", engine, "--json"]);
    expect(run.code).toBe(0);
    const r = JSON.parse(run.stdout) as Report;
    expect(started(r)).toBe(1000);
    expect(r.connects).toBeGreaterThanOrEqual(950);
    expect(r.targetRate).toBe(500);
  });
});

test("-n with --rate: exactly n starts", async () => {
  await using server = await startChildServer();
  const r = await rate({ target: `127.0.0.1:${server.port}`, rate: 20, connections: 3 });
  expect(started(r)).toBe(3);
  expect(r.connects).toBe(3);
});

test("starts the concurrency cannot take are not silently dropped: a note counts them", async () => {
  // One connection at a time, and each exchange waits out its 1.5 s timeout on a server that never replies.
  await using server = await startLocalServer();
  const r = await rate({ target: `127.0.0.1:${server.port}`, rate: 100, duration: "1s", concurrency: 1, send: "ping", expectBytes: 1, exchangeTimeout: 1500 });
  expect(started(r)).toBe(1);
  expect(r.notes).toContain("99 of the 100 scheduled connects never started: all 1 connections at once were busy (raise the concurrency)");
});
