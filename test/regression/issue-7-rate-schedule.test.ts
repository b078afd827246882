/**
 * Issue 7, item 4: open-loop `--rate` ran one interval late. The first
 * start waited a whole interval, so p50 was about 1/rate (20.9 ms at 50/s)
 * instead of the connect's own latency, and 1 s at 50/s made 49 connects.
 * Start i is due at i/rate from the start, the first one at once: a run of
 * d seconds makes exactly rate × d starts, each timed from its schedule.
 *
 * Checks are about the schedule, not speed: the count of starts follows from
 * the schedule alone, the first start leaves inside the call that begins the
 * run, and no start leaves before its time (a loaded machine can only make
 * them later). The latency figures themselves are the benchmark's to show.
 * Nothing here counts fds or depends on speed, so the tests run side by side.
 */
import { describe, expect, test } from "bun:test";
import type { CycleDone, Dialer } from "../../src/loadgen/dialer.ts";
import { runRate, scheduledStartMs, startsDueBy } from "../../src/loadgen/engine.ts";
import { rate } from "../../src/loadgen/index.ts";
import type { Report } from "../../src/loadgen/stats.ts";
import { startLocalServer } from "../../src/loadgen/local-server.ts";
import { runCli } from "../cli-run.ts";
import { startChildServer } from "../harness.ts";

/** Connects started: each either connected or failed with a code. */
const started = (r: Report) => r.connects + Object.values(r.errors).reduce((a, b) => a + b, 0);

test.concurrent("the schedule: start i is due at i/rate, the first at once", () => {
  expect(scheduledStartMs(0, 50)).toBe(0);
  expect(scheduledStartMs(1, 50)).toBe(20);
  expect(scheduledStartMs(49, 50)).toBe(980);
  expect(startsDueBy(0, 50)).toBe(1);
  expect(startsDueBy(19.9, 50)).toBe(1);
  expect(startsDueBy(20, 50)).toBe(2);
  expect(startsDueBy(999, 50)).toBe(50);
});

/** A dialer whose connects succeed the moment they start: it records when each started. */
function instantDialer(): Dialer & { startedAt: number[] } {
  const startedAt: number[] = [];
  return {
    name: "uring-connect",
    startedAt,
    cycle(_source: string | undefined, done: CycleDone) {
      const now = performance.now();
      startedAt.push(now);
      queueMicrotask(() => done(undefined, now));
    },
    hold: () => Promise.reject(new Error("not used")),
    abortAll() {},
    close() {},
  };
}

test.concurrent("the engine: the first start leaves inside the call that begins the run, and none before its time", async () => {
  const dialer = instantDialer();
  const before = performance.now();
  const running = runRate({ label: "schedule", concurrency: 10, rate: 50, durationMs: 1000, graceMs: 1000 }, dialer);
  // Nothing has run on a timer yet: a first start that waited an interval would be missing here.
  // (More than one is fine: a stalled machine may already be past the second's time.)
  expect(dialer.startedAt.length).toBeGreaterThanOrEqual(1);
  const r = await running;
  expect(r.connects).toBe(50);
  expect(dialer.startedAt.length).toBe(50);
  // Each leaves at most the 1 ms lead before its schedule (measured from a moment before the run began, so the bound is loose).
  dialer.startedAt.forEach((at, i) => expect(at).toBeGreaterThanOrEqual(before + scheduledStartMs(i, 50) - 1));
});

describe.concurrent.each(["uring", "bun"] as const)("--engine %s", (engine) => {
  test("50/s for 1 s: 50 starts, each connected", async () => {
    await using server = await startChildServer();
    const r = await rate({ target: `127.0.0.1:${server.port}`, rate: 50, duration: "1s", engine });
    expect(started(r)).toBe(50);
    expect(r.connects).toBe(50);
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

test.concurrent("-n with --rate: exactly n starts", async () => {
  await using server = await startChildServer();
  const r = await rate({ target: `127.0.0.1:${server.port}`, rate: 20, connections: 3 });
  expect(started(r)).toBe(3);
  expect(r.connects).toBe(3);
});

test.concurrent("starts the concurrency cannot take are not silently dropped: a note counts them", async () => {
  // One connection at a time, and each exchange waits out its 1.5 s timeout on a server that never replies.
  await using server = await startLocalServer();
  const r = await rate({ target: `127.0.0.1:${server.port}`, rate: 100, duration: "1s", concurrency: 1, send: "ping", expectBytes: 1, exchangeTimeout: 1500 });
  expect(started(r)).toBe(1);
  expect(r.notes).toContain("99 of the 100 scheduled connects never started: all 1 connections at once were busy (raise the concurrency)");
});
