/** Limits hit for real: fd exhaustion, a tiny ring under a flood, completion queue overflow. */
import { afterEach, expect, test } from "bun:test";
import { Connector } from "../src/index.ts";
import { expectClean, fdCount, runFixture, startChildServer } from "./harness.ts";
import { refusingPort } from "./fixtures/sockets.ts";

const hasPrlimit = Bun.which("prlimit") !== null;

test.skipIf(!hasPrlimit)("fd exhaustion: every extra connect rejects with EMFILE; freeing fds makes it work again", async () => {
  const { stdout, stderr, code } = await runFixture("emfile.ts", { prefix: ["prlimit", "--nofile=160:160"] });
  expect(stderr).toBe("");
  expect(code).toBe(0);
  const report = JSON.parse(stdout);
  expect(report.firstError).toEqual({ code: "EMFILE", errno: 24, name: "ConnectError" });
  expect(report.extra).toEqual(["EMFILE", "EMFILE", "EMFILE", "EMFILE", "EMFILE"]);
  expect(report.after).toBe("connected");
  expect(report.stats).toEqual({ capacity: 4096, free: 4096, pending: 0, inFlight: 0, orphaned: 0, waiting: 0, closing: 0 });
});

// Over a thousand windows of 16 slots, each slot reused as many times.
const REQUESTS = 20_000;

test("a ring of 8 entries and 16 slots serves 20,000 requests, none dropped, none overtaking the queue", async () => {
  using connector = new Connector({ entries: 8, maxInflight: 16 });
  await using server = await startChildServer();
  const baseline = fdCount();
  const settledAt = new Int32Array(REQUESTS);
  let settled = 0;
  await Promise.all(
    Array.from({ length: REQUESTS }, (_, i) =>
      connector.connectFd({ host: "127.0.0.1", port: server.port }).then((fd) => {
        settledAt[i] = settled++;
        connector.closeFd(fd, { reset: true });
      }),
    ),
  );
  expect(settled).toBe(REQUESTS);
  // FIFO: request i can only settle after every request more than a full
  // window (16 slots) ahead of it was submitted, so it never overtakes them.
  let worst = 0;
  for (let i = 0; i < settledAt.length; i++) worst = Math.max(worst, i - settledAt[i]!);
  expect(worst).toBeLessThanOrEqual(16);
  await expectClean(connector, baseline);
});

const savedDisable = process.env.URING_CONNECT_DISABLE;
afterEach(() => {
  if (savedDisable === undefined) delete process.env.URING_CONNECT_DISABLE;
  else process.env.URING_CONNECT_DISABLE = savedDisable;
});

test("completion queue overflow: the kernel's kept completions are flushed in, none lost", async () => {
  // A 16-entry CQ (no IORING_SETUP_CQSIZE) and 256 refused connects that all
  // complete inside one submit: far more completions than the CQ holds.
  process.env.URING_CONNECT_DISABLE = "cq_size";
  using connector = new Connector({ entries: 8, maxInflight: 256 });
  using refusing = refusingPort();
  expect(connector.ringInfo().cqEntries).toBe(16);
  const baseline = fdCount();
  for (let round = 0; round < 20; round++) {
    const results = await connector.connectMany(Array.from({ length: 256 }, () => ({ host: "127.0.0.1", port: refusing.port })));
    expect(results.every((r) => r instanceof Error && (r as { code?: string }).code === "ECONNREFUSED")).toBe(true);
  }
  expect(connector.ringInfo().overflowFlushes).toBeGreaterThan(0);
  await expectClean(connector, baseline);
});
