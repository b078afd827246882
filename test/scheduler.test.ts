/**
 * The scheduler through a Connector: one tick's work enters the kernel once,
 * and `stats().closing` follows closes from closeFd to the kernel's completion.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Connector } from "../src/index.ts";
import { TURN_TARGET_MS } from "../src/reap-budget.ts";
import { expectClean, fdCount, runFixture, startChildServer, tempDir, waitFor, waitForAsync } from "./harness.ts";
import { blackholeListener } from "./fixtures/sockets.ts";

const strace = Bun.which("strace");

/** The io_uring_enter calls strace saw between the fixture's start and end markers. */
function entersBetweenMarkers(trace: string): string[] {
  const lines = trace.split("\n");
  const start = lines.findIndex((line) => line.includes("uring-connect-marker-start"));
  const end = lines.findIndex((line) => line.includes("uring-connect-marker-end"));
  expect(start).toBeGreaterThanOrEqual(0);
  expect(end).toBeGreaterThan(start);
  return lines.slice(start + 1, end).filter((line) => line.includes("io_uring_enter("));
}

test.skipIf(!strace)("one tick's abort, close and connects are submitted with one io_uring_enter", async () => {
  await using server = await startChildServer();
  using blackhole = blackholeListener();
  // The listener's one-connection queue, filled, so the fixture's connect to it hangs in flight.
  using filler = new Connector();
  const held = await filler.connectFd({ host: "127.0.0.1", port: blackhole.port });
  await using dir = tempDir();
  const out = join(dir.path, "trace");
  const run = await runFixture("one-flush.ts", {
    prefix: [strace!, "-f", "-qq", "-e", "trace=io_uring_enter,access,faccessat,faccessat2", "-o", out],
    args: [String(server.port), String(blackhole.port)],
  });
  filler.closeFd(held);
  expect(run.stderr).toBe("");
  const result = JSON.parse(run.stdout) as { aborted: string; connected: number; lingerInRing: boolean };
  expect(result).toEqual({ aborted: "AbortError", connected: 3, lingerInRing: result.lingerInRing });
  const enters = entersBetweenMarkers(readFileSync(out, "utf8"));
  // One call submitting every entry: the cancel, the reset close (preceded by its
  // SO_LINGER where the ring sets it, kernel 6.7+) and the three connects.
  expect(enters).toHaveLength(1);
  expect(enters[0]).toMatch(new RegExp(`io_uring_enter\\(\\d+, ${result.lingerInRing ? 6 : 5}, `));
});

test("closing counts each closeFd until the kernel has closed it, then returns to 0", async () => {
  await using server = await startChildServer();
  using connector = new Connector();
  const baseline = fdCount();
  const target = { host: "127.0.0.1", port: server.port };
  const fds = await Promise.all(Array.from({ length: 50 }, () => connector.connectFd(target)));
  await waitForAsync(async () => (await server.counts()).open === 50, "the server to accept all 50");
  for (const fd of fds) connector.closeFd(fd, { reset: true });
  // Queued for this tick's flush, so not closed yet: counted, whatever the kernel's pace.
  expect(connector.stats().closing).toBe(50);
  await waitFor(() => connector.stats().closing === 0, "every close to complete");
  await waitForAsync(async () => (await server.counts()).open === 0, "the server to see every connection end");
  await expectClean(connector, baseline);
});

test("after close(), closeFd closes at once and closing stays 0", async () => {
  await using server = await startChildServer();
  const connector = new Connector();
  const fd = await connector.connectFd({ host: "127.0.0.1", port: server.port });
  connector.close();
  connector.closeFd(fd, { reset: true });
  expect(connector.stats().closing).toBe(0);
  await waitForAsync(async () => (await server.counts()).open === 0, "the server to see the connection end");
});

test("connects started by a caller that held the thread past a turn's budget wait until due timers have run", async () => {
  await using server = await startChildServer();
  using connector = new Connector();
  const baseline = fdCount();
  const target = { host: "127.0.0.1", port: server.port };
  const atTimer = new Promise<ReturnType<Connector["stats"]>>((resolve) => setTimeout(() => resolve(connector.stats()), 0));
  // More than one submit's batch (128), started by a caller that then keeps the
  // thread past the turn's budget: none of them goes to the kernel before
  // the timer that was already due runs.
  const count = 200;
  const started = performance.now();
  const connects = Array.from({ length: count }, () => connector.connectFd(target));
  while (performance.now() - started <= TURN_TARGET_MS + 1) {}
  const stats = await atTimer;
  expect({ pending: stats.pending, inFlight: stats.inFlight }).toEqual({ pending: count, inFlight: 0 });
  // Then every one of them connects.
  const fds = await Promise.all(connects);
  expect(new Set(fds).size).toBe(count);
  for (const fd of fds) connector.closeFd(fd, { reset: true });
  await waitFor(() => connector.stats().closing === 0, "every close to complete");
  await expectClean(connector, baseline);
});
