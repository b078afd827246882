/**
 * Issue 7: the fallback needs no liburing. Where liburing's header is missing
 * or unusable, `fallback: "bun"`, URING_CONNECT_FALLBACK=bun and the load
 * generator (`--engine bun`, and the default engine falling back) connect
 * for real through Bun's sockets. Each child runs in a mount namespace of
 * its own (test/fixtures/hide-liburing.ts); the server runs here.
 */
import { describe, expect, test } from "bun:test";
import type { Report } from "../../src/loadgen/stats.ts";
import { runFixture, startServer, waitFor } from "../harness.ts";
import { canUnshare, withoutLiburing, type LiburingHidden } from "../fixtures/hide-liburing.ts";
import { runCli } from "../cli-run.ts";

if (!canUnshare) console.log("skip: the fallback without liburing: needs root and util-linux's unshare (a mount namespace to hide liburing in)");

/** What test/fixtures/fallback-connect.ts reports. */
interface Connected {
  backend: string;
  reason: string;
  fd: number;
  echoed: string;
}

/** The start of the reason a Connector gives for falling back, per way liburing is hidden. */
const REASON: Record<Exclude<LiburingHidden, "noHeaders">, RegExp> = {
  missing: /^liburing\.h not found: install liburing's development files/,
  unusable: /^could not compile native\/\w+\.c against liburing \(.*IORING_OP_CONNECT/s,
};

describe.each(["missing", "unusable"] as const)("liburing.h %s", (how) => {
  for (const mode of ["option", "env"] as const) {
    const what = mode === "option" ? 'new Connector({ fallback: "bun" })' : "URING_CONNECT_FALLBACK=bun";
    test.skipIf(!canUnshare)(`${what} connects through Bun's sockets`, async () => {
      await using server = await startServer({ echo: true });
      await using namespace = withoutLiburing(how);
      const env: Record<string, string> = mode === "env" ? { URING_CONNECT_FALLBACK: "bun" } : {};
      const { stdout, stderr, code } = await runFixture("fallback-connect.ts", {
        prefix: namespace.prefix,
        args: [String(server.port), mode],
        env,
        timeoutMs: 30_000,
      });
      expect(stderr).toBe("");
      expect(code).toBe(0);
      const report = JSON.parse(stdout) as Connected;
      expect(report.backend).toBe("bun");
      expect(report.reason).toMatch(REASON[how]);
      expect(report.fd).toBeGreaterThanOrEqual(0);
      expect(report.echoed).toBe("ping");
      await waitFor(() => server.accepted() === 2, "the server to accept both connections");
    });
  }

  /** Run `uring-connect rate` against `server` in the namespace; resolves with its exit and output. */
  async function rate(port: number, engineArgs: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    await using namespace = withoutLiburing(how);
    const { code, stdout, stderr } = await runCli(["rate", `127.0.0.1:${port}`, ...engineArgs, "-n", "20", "--json"], { prefix: namespace.prefix, timeoutMs: 30_000 });
    return { code: code ?? -1, stdout, stderr };
  }

  test.skipIf(!canUnshare)("the CLI's rate --engine bun prints a report", async () => {
    await using server = await startServer();
    const run = await rate(server.port, ["--engine", "bun"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const r = JSON.parse(run.stdout) as Report;
    expect(r.connects).toBe(20);
    expect(server.accepted()).toBe(20);
  });

  test.skipIf(!canUnshare)("the CLI's rate on the default engine falls back with a note and reports", async () => {
    await using server = await startServer();
    const run = await rate(server.port, []);
    expect(run.stderr).toMatch(/^note: io_uring unavailable, connecting through Bun's sockets instead: /);
    expect(run.code).toBe(0);
    const r = JSON.parse(run.stdout) as Report;
    expect(r.connects).toBe(20);
    expect(r.notes[0]).toMatch(/^io_uring unavailable, connecting through Bun's sockets instead: /);
    expect(server.accepted()).toBe(20);
  });
});
