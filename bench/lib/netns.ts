/**
 * The bench in a network namespace of its own. As root (with unshare and
 * ip), the bench runs itself again inside a fresh namespace with only
 * loopback up: the server and every client live there, so the kernel's TCP
 * counters (ListenOverflows, RetransSegs) count this bench's connections
 * only, not other work on the machine, and the backlog sysctls it raises
 * belong to that namespace, which vanishes with it. Otherwise the bench
 * runs here, and says that the counters are machine-wide.
 */
import type { Subprocess } from "bun";

/** Set in the namespaced run, so it does not try again. */
const INSIDE = "URING_CONNECT_BENCH_NETNS";

/** Whether this process runs in the bench's own network namespace. */
export function inPrivateNetns(): boolean {
  return process.env[INSIDE] === "1";
}

/**
 * Run `argv` (this bench's command line) inside a new network namespace
 * and return its exit code; undefined when it cannot (not root, tools
 * missing, unshare refused), so the caller runs the bench here.
 */
export async function runInPrivateNetns(argv: string[]): Promise<number | undefined> {
  if (inPrivateNetns() || process.getuid?.() !== 0) return undefined;
  const unshare = Bun.which("unshare");
  const ip = Bun.which("ip");
  if (!unshare || !ip) return undefined;
  // A namespace this machine refuses (seccomp, no CAP_SYS_ADMIN) fails here, before any output.
  const probe = Bun.spawnSync([unshare, "--net", "--", ip, "link", "set", "lo", "up"], { stdout: "ignore", stderr: "ignore" });
  if (probe.exitCode !== 0) return undefined;
  const child: Subprocess = Bun.spawn([unshare, "--net", "--", "sh", "-c", `${ip} link set lo up && exec "$0" "$@"`, ...argv], {
    env: { ...process.env, [INSIDE]: "1" },
    stdio: ["inherit", "inherit", "inherit"],
  });
  // Ctrl-C reaches both through the terminal; a signal sent to this process alone is passed on.
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
  return await child.exited;
}
