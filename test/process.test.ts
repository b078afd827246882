/**
 * Process-wide behaviour, each in a child process: no io_uring, optional ring
 * features off, idle exit, idle CPU.
 */
import { describe, expect, test } from "bun:test";
import { expectAllSelectedPassed, runTestsInChild } from "./child-tests.ts";
import { runFixture } from "./harness.ts";

test("io_uring denied by seccomp: the error says why and what to do", async () => {
  const { stdout, stderr, code } = await runFixture("no-io-uring.ts");
  expect(stderr).toBe("");
  expect(code).toBe(0);
  const report = JSON.parse(stdout);
  expect(report.created).toBe(false);
  expect(report.native).toBe(true);
  expect(report.reason).toBe("io_uring");
  const message =
    "uring-connect cannot start: io_uring_setup was denied (a seccomp filter or container policy blocks io_uring); " +
    "allow io_uring_setup/io_uring_enter/io_uring_register (EPERM)";
  expect(report.message).toBe(message);
  // With fallback "bun" the same environment gives a working Connector that says why.
  expect(report.fallback).toEqual({ backend: "bun", reason: message });
});

/**
 * What a different driver or ring setup can change: every test that connects.
 * The input-validation tests run before any driver is involved, so they run
 * once, in the main suite. (Bun matches the pattern against describe names
 * alone too, so it must not need the " > " that follows one.)
 */
const CONNECTING_TESTS = /^(?!bad input is rejected before anything is opened\b)/;

// Each is a child process with its own fds and servers: they run side by side.
describe.concurrent("the connecting tests again, in a child process", () => {
  // io_uring_setup fails (seccomp, preloaded) and every default Connector
  // takes the fallback. The Pool's idle watch goes through the backend too:
  // on the fallback, an adopted duplicate.
  test.each([
    ["connector and adoption", ["test/connector.test.ts", "test/adopt.test.ts"]],
    ["pool and watch", ["test/pool.test.ts", "test/watch.test.ts"]],
  ])('without io_uring (seccomp), on fallback "bun": %s suites', async (_suites, files) => {
    const run = await runTestsInChild(files, {
      select: CONNECTING_TESTS,
      env: { URING_CONNECT_FALLBACK: "bun", EXPECT_BACKEND: "bun" },
      preload: ["./test/fixtures/deny-io-uring.ts"],
    });
    expectAllSelectedPassed(run, CONNECTING_TESTS);
  });

  test("with optional ring features off, as on an older kernel: connector suite", async () => {
    // Adoption never touches the ring, so only the connector suite changes here.
    const run = await runTestsInChild(["test/connector.test.ts"], {
      select: CONNECTING_TESTS,
      env: { URING_CONNECT_DISABLE: "submit_all,single_issuer,cq_size,sock_cmd" },
    });
    expectAllSelectedPassed(run, CONNECTING_TESTS);
  });
});

test("a process with nothing in flight exits by itself", async () => {
  // The fixture never exits if anything holds the loop; the hang guard then kills it.
  const { code, killed, stderr } = await runFixture("idle.ts", { args: ["exit"] });
  expect(stderr).toBe("");
  expect(killed).toBe(false);
  expect(code).toBe(0);
});

test("an idle Connector uses no CPU", async () => {
  const { stdout, code } = await runFixture("idle.ts", { args: ["cpu"] });
  expect(code).toBe(0);
  const { idleCpuMs } = JSON.parse(stdout);
  // The JS thread's CPU time over one idle second, not wall time: a
  // busy-polling design burns ~1000 ms here (a third of that sharing a core
  // with the rest of the suite); idle means a few ms of timer work.
  expect(idleCpuMs).toBeLessThan(50);
});
