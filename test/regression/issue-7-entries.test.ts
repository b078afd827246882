/**
 * Issue 7, item 1: a Connector with a tiny submission queue hung. A connect
 * with a timeout is two linked queue entries; with `entries: 1` the pair
 * never fit, so the connect stayed pending forever. Every `entries` from 1
 * up must serve every option, and the load generator (which sizes its ring
 * by its concurrency) must finish at concurrency 1.
 */
import { describe, expect, test } from "bun:test";
import { closeSync } from "node:fs";
import { join } from "node:path";
import { Connector, ConnectError, type ConnectOptions, type ConnectorStats } from "../../src/index.ts";
import { MIN_RING_ENTRIES } from "../../src/backend/uring.ts";
import type { Report } from "../../src/loadgen/index.ts";
import { storm } from "../../src/testing.ts";
import { expectClean, fdCount, startChildServer, startServer, waitFor, settles, waitForAsync } from "../harness.ts";
import { blackholeListener, refusingPort } from "../fixtures/sockets.ts";
import { runCli } from "../cli-run.ts";

/** Far beyond any loaded machine's connect time: only a hang reaches it. */
const HANG_GUARD_MS = 20_000;


/** A Connector of `entries`, its fd count and stats once open, closed on dispose. */
function openConnector(entries: number): Disposable & { connector: Connector; fds: number; stats: ConnectorStats } {
  const connector = new Connector({ entries });
  return { connector, fds: fdCount(), stats: connector.stats(), [Symbol.dispose]: () => connector.close() };
}

test("the ring is raised to the minimum the connector needs", () => {
  using small = openConnector(1);
  if (small.connector.backend === "io_uring") expect(small.connector.ringInfo().sqEntries).toBe(MIN_RING_ENTRIES);
});

describe("every entries from 1 to 4 with every option, against a listening server", () => {
  for (const entries of [1, 2, 3, 4]) {
    for (const timeout of [undefined, 5000]) {
      for (const localAddress of [undefined, "127.0.0.2"]) {
        const name = `entries ${entries}, ${timeout ? "timeout" : "no timeout"}, ${localAddress ? "localAddress" : "no localAddress"}`;
        test(name, async () => {
          await using server = await startChildServer();
          using small = openConnector(entries);
          const options: ConnectOptions = { timeout, localAddress, noDelay: true, keepAlive: true };
          const fd = await settles(small.connector.connectFd({ host: "127.0.0.1", port: server.port }, options), "the connect");
          await waitForAsync(async () => (await server.counts()).accepted === 1, "the server to accept");
          expect((await server.counts()).peers).toEqual([localAddress ?? "127.0.0.1"]);
          small.connector.closeFd(fd, { reset: true });
          await waitForAsync(async () => (await server.counts()).open === 0, "the server to see the connection end");
          await expectClean(small.connector, small.fds);
          expect(small.connector.stats()).toEqual(small.stats);
        });
      }
    }
  }
});

describe("entries 1: failures settle too", () => {
  test("refused with a timeout: ECONNREFUSED", async () => {
    using refusing = refusingPort();
    using small = openConnector(1);
    const error = await settles(
      small.connector.connectFd({ host: "127.0.0.1", port: refusing.port }, { timeout: 5000 }).catch((e: unknown) => e),
      "the refused connect",
    );
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe("ECONNREFUSED");
    await expectClean(small.connector, small.fds);
    expect(small.connector.stats()).toEqual(small.stats);
  });

  test("a connect that hangs: ETIMEDOUT from its linked timeout", async () => {
    using listener = blackholeListener();
    using small = openConnector(1);
    // The listener's queue holds one connection; after it, SYNs are dropped.
    const filler = await settles(small.connector.connectFd({ host: "127.0.0.1", port: listener.port }), "the filler");
    const fds = fdCount();
    const error = await settles(
      small.connector.connectFd({ host: "127.0.0.1", port: listener.port }, { timeout: 50 }).catch((e: unknown) => e),
      "the hanging connect",
    );
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe("ETIMEDOUT");
    await expectClean(small.connector, fds);
    closeSync(filler);
    await waitFor(() => fdCount() <= small.fds, "the filler to close");
    expect(small.connector.stats()).toEqual(small.stats);
  });

  test("a hanging connect aborted in flight: the cancel goes out", async () => {
    using listener = blackholeListener();
    using small = openConnector(1);
    const filler = await settles(small.connector.connectFd({ host: "127.0.0.1", port: listener.port }), "the filler");
    const fds = fdCount();
    const controller = new AbortController();
    const promise = small.connector.connectFd({ host: "127.0.0.1", port: listener.port }, { timeout: 60_000, signal: controller.signal });
    await waitFor(() => small.connector.stats().inFlight === 1, "the connect to be in flight");
    controller.abort(new Error("stop"));
    const error = (await settles(promise.catch((e: unknown) => e), "the aborted connect")) as Error;
    expect(error.message).toBe("stop");
    // The slot comes back only when the kernel has completed the cancelled connect.
    await expectClean(small.connector, fds);
    closeSync(filler);
    await waitFor(() => fdCount() <= small.fds, "the filler to close");
  });

  test("200 concurrent connects with timeouts all succeed", async () => {
    await using server = await startServer();
    using small = openConnector(1);
    const target = { host: "127.0.0.1", port: server.port };
    const fds = await settles(
      Promise.all(Array.from({ length: 200 }, () => small.connector.connectFd(target, { timeout: 30_000 }))),
      "200 connects",
    );
    expect(new Set(fds).size).toBe(200);
    await waitFor(() => server.accepted() === 200, "200 accepts");
    for (const fd of fds) small.connector.closeFd(fd, { reset: true });
    await waitFor(() => server.open() === 0, "the server to see every connection end");
    await expectClean(small.connector, small.fds);
    expect(small.connector.stats()).toEqual(small.stats);
  });
});

describe("the load generator at concurrency 1 (its ring sized by its concurrency)", () => {
  test("storm({ concurrency: 1 }) finishes every connection", async () => {
    await using server = await startChildServer();
    const report = await settles(storm({ port: server.port, connections: 20, concurrency: 1, close: "fin" }), "the storm");
    expect(report.connects).toBe(20);
    expect(report.errors).toEqual({});
    await waitForAsync(async () => (await server.counts()).accepted === 20, "20 accepts");
  });

  test("uring-connect rate -c 1 -n 50 finishes", async () => {
    await using server = await startChildServer();
    const { stdout, stderr, code } = await runCli(["rate", `127.0.0.1:${server.port}`, "-c", "1", "-n", "50", "--close", "fin", "--json"], { timeoutMs: HANG_GUARD_MS });
    expect(stderr.split("\n").filter((line) => line && !line.startsWith("note: "))).toEqual([]);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as Report;
    expect(report.connects).toBe(50);
    expect(report.errors).toEqual({});
    await waitForAsync(async () => (await server.counts()).accepted === 50, "50 accepts");
  });
});
