/**
 * Issue 7, item 2: exchanges never timed out. `--send/--expect-bytes`
 * against a peer that never replies hung the run, and `-d 2s` ended after
 * 8 s with "connects 0, errors none" although every socket had connected.
 * Now the exchange has its own timeout (default: the connect timeout),
 * errors are reported by phase, a FIN before the reply is EOF (an RST stays
 * ECONNRESET), and the exchange latency stands beside the connect latency.
 * Each test has its own peer and counts no fds: they run side by side.
 */
import { describe, expect, test } from "bun:test";
import type { Socket } from "bun";
import { startLocalServer } from "../../src/loadgen/local-server.ts";
import type { Report } from "../../src/loadgen/stats.ts";
import { storm } from "../../src/testing.ts";
import { runCli } from "../cli-run.ts";
import { settles, startChildServer } from "../harness.ts";

/** Far beyond any loaded machine's run: only a hang reaches it. */
const HANG_GUARD_MS = 30_000;


/** A Bun server that treats every connection's first data the same way; stopped on dispose. */
function listen(onData: (socket: Socket<undefined>) => void): Disposable & { port: number } {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data: onData, error() {} } });
  return { port: server.port, [Symbol.dispose]: () => server.stop(true) };
}

describe.concurrent("a peer that never replies", () => {
  test("CLI: the exchange times out, and the report says the connects happened and the exchanges failed", async () => {
    // The local server reads and discards: it never replies.
    await using server = await startLocalServer();
    const run = await runCli(
      ["rate", `127.0.0.1:${server.port}`, "-d", "1s", "-c", "50", "--send", "ping", "--expect-bytes", "5", "--exchange-timeout", "300", "--json"],
      { timeoutMs: HANG_GUARD_MS },
    );
    expect(run.timedOut).toBe(false);
    expect(run.code).toBe(0);
    const r = JSON.parse(run.stdout) as Report;
    expect(r.connects).toBeGreaterThanOrEqual(50);
    expect(r.errors).toEqual({});
    expect(r.exchanges).toBe(0);
    // Every established connection failed its exchange, by timeout.
    expect(r.exchangeErrors).toEqual({ ETIMEDOUT: r.connects });
  });

  test("the exchange timeout defaults to --timeout", async () => {
    await using server = await startLocalServer();
    const run = await runCli(["rate", `127.0.0.1:${server.port}`, "-n", "20", "-c", "20", "--send", "ping", "--expect-bytes", "1", "--timeout", "300", "--json"], {
      timeoutMs: HANG_GUARD_MS,
    });
    expect(run.code).toBe(0);
    const r = JSON.parse(run.stdout) as Report;
    expect(r.connects).toBe(20);
    expect(r.exchangeErrors).toEqual({ ETIMEDOUT: 20 });
  });

  test("storm({ send, expectBytes }) resolves with ETIMEDOUT exchanges instead of hanging", async () => {
    await using server = await startLocalServer();
    const report = await settles(storm({ port: server.port, connections: 20, concurrency: 20, send: "ping", expectBytes: 4, timeout: 300 }), "storm");
    expect(report.connects).toBe(20);
    expect(report.errors).toEqual({});
    expect(report.exchangeErrors).toEqual({ ETIMEDOUT: 20 });
  });
});

describe.concurrent("errors by phase", () => {
  test("a FIN before the expected bytes is EOF", async () => {
    using server = listen((socket) => socket.end());
    const report = await settles(storm({ port: server.port, connections: 30, concurrency: 10, send: "ping", expectBytes: 5 }), "storm");
    expect(report.connects).toBe(30);
    expect(report.exchangeErrors).toEqual({ EOF: 30 });
  });

  test("a reset before the expected bytes is ECONNRESET", async () => {
    using server = listen((socket) => socket.terminate());
    const report = await settles(storm({ port: server.port, connections: 30, concurrency: 10, send: "ping", expectBytes: 5 }), "storm");
    expect(report.connects).toBe(30);
    expect(report.exchangeErrors).toEqual({ ECONNRESET: 30 });
  });

  test("the human report names each phase's errors", async () => {
    using server = listen((socket) => socket.end());
    const run = await runCli(["rate", `127.0.0.1:${server.port}`, "-n", "10", "-c", "5", "--send", "ping", "--expect-bytes", "5"], { timeoutMs: HANG_GUARD_MS });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("  errors     connect: none; exchange: EOF 10\n");
    expect(run.stdout).toContain("  exchanges  0 completed\n");
  });
});

describe.concurrent("exchange latency", () => {
  test("reported beside the connect latency, from connect start to the full reply", async () => {
    await using server = await startChildServer({ echo: true });
    const run = await runCli(["rate", `127.0.0.1:${server.port}`, "-n", "300", "-c", "30", "--send", "hello", "--expect-bytes", "5", "--json"], {
      timeoutMs: HANG_GUARD_MS,
    });
    expect(run.code).toBe(0);
    const r = JSON.parse(run.stdout) as Report;
    expect(r.exchanges).toBe(300);
    expect(r.exchangeErrors).toEqual({});
    const connect = r.latencyUs;
    const exchange = r.exchangeLatencyUs!;
    // Each exchange ends after its own connect, so every percentile is at least the connect's.
    for (const key of ["p50", "p90", "p99", "p999", "max"] as const) expect(exchange[key]).toBeGreaterThanOrEqual(connect[key]);

    const human = await runCli(["rate", `127.0.0.1:${server.port}`, "-n", "100", "-c", "10", "--send", "hello", "--expect-bytes", "5"], { timeoutMs: HANG_GUARD_MS });
    expect(human.stdout).toMatch(/\n {2}latency {4}connect {3}p50 [\d.]+ (µs|ms) .*\n {13}exchange {2}p50 [\d.]+ (µs|ms) /);
  });

  test("--workers: exchange counts and histograms merge", async () => {
    await using server = await startChildServer({ echo: true });
    const run = await runCli(["rate", `127.0.0.1:${server.port}`, "-n", "400", "-c", "40", "--workers", "2", "--send", "hello", "--expect-bytes", "5", "--json"], {
      timeoutMs: HANG_GUARD_MS,
    });
    expect(run.code).toBe(0);
    const r = JSON.parse(run.stdout) as Report;
    expect(r.workers).toBe(2);
    expect(r.exchanges).toBe(400);
    expect(r.exchangeLatencyUs!.max).toBeGreaterThan(0);
  });
});
