/**
 * Issue 7: "5000 concurrent connects all succeed" timed out waiting for
 * accepts. Bun listens with a backlog of 512 whatever node:net is asked for,
 * so a storm overflowed the test servers' accept queues and the kernel
 * dropped handshakes, to retry them seconds later. The test servers now
 * raise their backlog to somaxconn; the kernel's own view (ss) must say so.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runProcess } from "../../tools/process.ts";
import { startChildServer, startServer, tempDir } from "../harness.ts";

const somaxconn = Number(readFileSync("/proc/sys/net/core/somaxconn", "utf8"));
const hasSs = Bun.which("ss") !== null;

/** The backlog of the listening socket `filter` selects, as ss reports it (Send-Q of a LISTEN socket). */
async function backlog(args: string[]): Promise<number> {
  const { stdout, code } = await runProcess(["ss", "-Hl", ...args]);
  expect(code).toBe(0);
  const lines = stdout.trim().split("\n");
  expect(lines.length).toBe(1);
  const fields = lines[0]!.trim().split(/\s+/);
  // tcp: State Recv-Q Send-Q ...; unix: Netid State Recv-Q Send-Q ...
  return Number(args[0] === "-x" ? fields[3] : fields[2]);
}

test.skipIf(!hasSs)("in-process test servers listen with a backlog of somaxconn (IPv4, IPv6, unix)", async () => {
  await using v4 = await startServer();
  await using v6 = await startServer({ host: "::1" });
  await using dir = tempDir();
  const path = join(dir.path, "s.sock");
  await using _unix = await startServer({ path });
  expect(await backlog(["-tn", `sport = :${v4.port}`])).toBe(somaxconn);
  expect(await backlog(["-tn", `sport = :${v6.port}`])).toBe(somaxconn);
  expect(await backlog(["-x", "src", path])).toBe(somaxconn);
});

test.skipIf(!hasSs)("child-process test servers listen with a backlog of somaxconn", async () => {
  await using server = await startChildServer();
  expect(await backlog(["-tn", `sport = :${server.port}`])).toBe(somaxconn);
});
