/** Process-wide behaviour, each in a child process: no io_uring, idle exit, idle CPU. */
import { expect, test } from "bun:test";
import { runFixture } from "./harness.ts";

test("io_uring denied by seccomp: the error says why and what to do", async () => {
  const { stdout, stderr, code } = await runFixture("no-io-uring.ts");
  expect(stderr).toBe("");
  expect(code).toBe(0);
  const report = JSON.parse(stdout);
  expect(report.created).toBe(false);
  expect(report.native).toBe(true);
  expect(report.reason).toBe("io_uring");
  expect(report.message).toBe(
    "uring-connect cannot start: io_uring_setup was denied (a seccomp filter or container policy blocks io_uring); " +
      "allow io_uring_setup/io_uring_enter/io_uring_register (EPERM)",
  );
});

test("a process with nothing in flight exits by itself", async () => {
  const started = performance.now();
  const { code, killed, stderr } = await runFixture("idle.ts", { args: ["exit"], timeoutMs: 5000 });
  expect(stderr).toBe("");
  expect(killed).toBe(false);
  expect(code).toBe(0);
  expect(performance.now() - started).toBeLessThan(5000);
});

test("an idle Connector uses no CPU", async () => {
  const { stdout, code } = await runFixture("idle.ts", { args: ["cpu"] });
  expect(code).toBe(0);
  const { idleCpuMs } = JSON.parse(stdout);
  // A busy-polling design would burn ~1000 ms here; idle means a few ms of timer work.
  expect(idleCpuMs).toBeLessThan(20);
});
