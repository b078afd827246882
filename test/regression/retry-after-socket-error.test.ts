/**
 * A connect to a name with several addresses whose socket could not be
 * opened for the first address (bind failed, or no fd was free) never
 * settled: the retry with the next address was staged while the batch that
 * found the failure was still being taken off the staged queue, and that
 * removal dropped the retry's slot. The connect must try every address and
 * reject with the last one's error.
 */
import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runFixture, tempDir } from "../harness.ts";
import { canUnshare } from "../fixtures/hide-liburing.ts";
import { inNamespace } from "../fixtures/namespace.ts";

/** A TEST-NET-1 address (RFC 5737): no interface has it, so bind() fails with EADDRNOTAVAIL. */
const UNBINDABLE = "192.0.2.1";

test.skipIf(!canUnshare)("every address is tried after a socket fails to open, and the connect settles", async () => {
  await using dir = tempDir();
  const hosts = join(dir.path, "hosts");
  writeFileSync(hosts, "127.0.0.1 localhost\n127.0.0.1 two.test\n127.0.0.3 two.test\n");
  // A mount namespace of the child's own, where /etc/hosts is the file above.
  const run = await runFixture("unbindable-name.ts", { prefix: inNamespace({ hosts }), args: ["two.test", UNBINDABLE], timeoutMs: 30_000 });
  expect(run.killed).toBe(false); // killed by the hang guard: the connect never settled
  expect(run.stderr).toBe("");
  const report = JSON.parse(run.stdout);
  expect(report.outcome).toEqual({ code: "EADDRNOTAVAIL", address: "127.0.0.3" });
  expect(report.stats).toEqual({ capacity: 4096, free: 4096, pending: 0, inFlight: 0, orphaned: 0, waiting: 0, closing: 0 });
});
