/**
 * The Pool seen from outside its process: how many io_uring_enter calls its
 * prewarm and a burst take (strace), and that pools left open neither keep
 * the process alive nor use CPU while idle or while their target is down.
 * Each test is a child process of its own, so they run side by side.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runFixture, startChildServer, tempDir } from "./harness.ts";
import { refusingPort } from "./fixtures/sockets.ts";

const strace = Bun.which("strace");

/** The number of entries each io_uring_enter submitted between two markers, leaving out the reaping-only calls. */
function submitsBetween(trace: string, from: string, to: string): number[] {
  const lines = trace.split("\n");
  const start = lines.findIndex((line) => line.includes(`uring-connect-marker-${from}`));
  const end = lines.findIndex((line) => line.includes(`uring-connect-marker-${to}`));
  expect(start).toBeGreaterThanOrEqual(0);
  expect(end).toBeGreaterThan(start);
  return lines
    .slice(start + 1, end)
    .map((line) => /io_uring_enter\(\d+, (\d+),/.exec(line)?.[1])
    .filter((submitted) => submitted !== undefined && submitted !== "0")
    .map(Number);
}

test.concurrent.skipIf(!strace)("prewarm to min and a burst's deficit each go to the kernel in one io_uring_enter", async () => {
  await using server = await startChildServer();
  await using dir = tempDir();
  const out = join(dir.path, "trace");
  const run = await runFixture("pool-batches.ts", {
    prefix: [strace!, "-f", "-qq", "-e", "trace=io_uring_enter,access,faccessat,faccessat2", "-o", out],
    args: [String(server.port)],
  });
  expect(run.stderr).toBe("");
  expect(JSON.parse(run.stdout)).toMatchObject({ idle: 70, busy: 0, opened: 70, failed: 0 });
  const trace = readFileSync(out, "utf8");
  // One connect per entry (no connect timeout, so no linked timeout
  // entries): the 40 in one call. The idle watches (one poll each) go out
  // at the end of an event-loop turn, so some may follow before the marker.
  const [connects, ...watches] = submitsBetween(trace, "prewarm-start", "prewarm-end");
  expect(connects).toBe(40);
  expect(watches.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(40);
  // The burst's 30 connects in one call, which also takes the removals of
  // the held connections' watches still queued (up to 40); its connections
  // go straight to waiters: nothing new to watch.
  const burst = submitsBetween(trace, "burst-start", "burst-end");
  expect(burst).toHaveLength(1);
  expect(burst[0]!).toBeGreaterThanOrEqual(30);
  expect(burst[0]!).toBeLessThanOrEqual(30 + 40);
  expect((await server.counts()).accepted).toBe(70);
});

test.concurrent("pools left open (one warm, one backing off from a refused target) let the process exit by itself", async () => {
  await using server = await startChildServer();
  using refusing = refusingPort();
  // The fixture never exits if anything holds the loop; the hang guard then kills it.
  const { code, killed, stderr } = await runFixture("pool-idle.ts", { args: ["exit", String(server.port), String(refusing.port)] });
  expect(stderr).toBe("");
  expect(killed).toBe(false);
  expect(code).toBe(0);
});

test.concurrent("an idle pool and a pool backing off from a dead target use no CPU to speak of", async () => {
  await using server = await startChildServer();
  using refusing = refusingPort();
  const { stdout, code, stderr } = await runFixture("pool-idle.ts", { args: ["cpu", String(server.port), String(refusing.port)] });
  expect(stderr).toBe("");
  expect(code).toBe(0);
  const { cpuMs, probes, warm } = JSON.parse(stdout);
  // CPU time over two seconds, not wall time: a retry loop would burn most
  // of it; backing off costs a handful of connects (100 ms doubling).
  expect(cpuMs).toBeLessThan(50);
  expect(probes).toBeGreaterThanOrEqual(1);
  expect(probes).toBeLessThanOrEqual(6);
  expect(warm).toMatchObject({ idle: 2, busy: 0, failed: 0 });
});
