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
  const message =
    "uring-connect cannot start: io_uring_setup was denied (a seccomp filter or container policy blocks io_uring); " +
    "allow io_uring_setup/io_uring_enter/io_uring_register (EPERM)";
  expect(report.message).toBe(message);
  // With fallback "bun" the same environment gives a working Connector that says why.
  expect(report.fallback).toEqual({ backend: "bun", reason: message });
});

/** Run the connector and adoption suites in a child `bun test` with `env` (and `preload`). */
async function runSuites(env: Record<string, string>, preload: string[] = []): Promise<{ stderr: string; code: number }> {
  const proc = Bun.spawn({
    cmd: [process.execPath, "test", "--timeout", "60000", ...preload, "test/connector.test.ts", "test/adopt.test.ts"],
    cwd: `${import.meta.dir}/..`,
    env: { ...process.env, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stderr, code };
}

test("without io_uring, fallback \"bun\" passes the connector and adoption suites", async () => {
  // io_uring_setup fails (seccomp, preloaded) and every default Connector takes the fallback.
  const { stderr, code } = await runSuites({ URING_CONNECT_FALLBACK: "bun", EXPECT_BACKEND: "bun" }, ["--preload", "./test/fixtures/deny-io-uring.ts"]);
  expect(stderr).toMatch(/\n 4\d pass\n 0 fail\n/);
  expect(code).toBe(0);
});

test("with optional ring features off, as on an older kernel, the suites pass", async () => {
  const { stderr, code } = await runSuites({ URING_CONNECT_DISABLE: "submit_all,single_issuer,cq_size" });
  expect(stderr).toMatch(/\n 4\d pass\n 0 fail\n/);
  expect(code).toBe(0);
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
