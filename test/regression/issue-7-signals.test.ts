/**
 * Issue 7, item 5: SIGTERM and SIGHUP (`timeout 20 uring-connect …`, a
 * closed terminal) ended the run with no output at all. They now stop it as
 * Ctrl-C does: the report of what was done, `interrupted: true`, exit
 * 128 + the signal's number; with --workers the workers stop too and the
 * merged report prints.
 */
import { describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { startLocalServer, type LocalServer } from "../../src/loadgen/local-server.ts";
import type { Report } from "../../src/loadgen/stats.ts";
import { runCli } from "../cli-run.ts";
import { waitForAsync } from "../harness.ts";

/** Run the CLI until the server has accepted connections (a positive event, not a pause), then send `signal`. */
function interruptedRun(server: LocalServer, args: string[], signal: NodeJS.Signals) {
  return runCli(args, {
    onSpawn(child: Subprocess) {
      void waitForAsync(async () => ((await server.stats())?.accepted ?? 0) > 0, "connections at the server").then(() => child.kill(signal));
    },
  });
}

describe.each([
  ["SIGTERM", 143],
  ["SIGHUP", 129],
  ["SIGINT", 130],
] as const)("%s", (signal, exitCode) => {
  test("stops the run and prints the report of what was done", async () => {
    await using server = await startLocalServer();
    const run = await interruptedRun(server, ["rate", `127.0.0.1:${server.port}`, "-d", "60s", "-c", "20", "--json"], signal);
    expect(run.timedOut).toBe(false);
    expect(run.code).toBe(exitCode);
    const r = JSON.parse(run.stdout) as Report;
    expect(r.interrupted).toBe(true);
    expect(r.connects).toBeGreaterThan(0);
  });
});

test("SIGTERM with --workers 2: the workers stop and the merged report prints", async () => {
  await using server = await startLocalServer();
  const run = await interruptedRun(server, ["rate", `127.0.0.1:${server.port}`, "-d", "60s", "-c", "20", "--workers", "2", "--json"], "SIGTERM");
  expect(run.timedOut).toBe(false);
  expect(run.code).toBe(143);
  const r = JSON.parse(run.stdout) as Report;
  expect(r.workers).toBe(2);
  expect(r.interrupted).toBe(true);
  expect(r.connects).toBeGreaterThan(0);
});

test("SIGTERM on a human report: the table says it stopped early", async () => {
  await using server = await startLocalServer();
  const run = await interruptedRun(server, ["hold", `127.0.0.1:${server.port}`, "-c", "10", "-d", "60s"], "SIGTERM");
  expect(run.code).toBe(143);
  expect(run.stdout).toMatch(/^hold 127\.0\.0\.1:\d+ {2}\(uring-connect, concurrency 10, 1 worker\)\n/);
  expect(run.stdout).toContain("  stopped early (interrupted): figures cover what was done\n");
});
