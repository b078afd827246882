/**
 * The kernel's accept-queue limits, raised for the run so the server is
 * never the bottleneck. The server's listen() backlog is capped by
 * net.core.somaxconn (4096 here), and half-open connections by
 * net.ipv4.tcp_max_syn_backlog: a fast client overflows them, and every
 * dropped SYN costs a 1 s retransmit. As root the bench raises both before
 * the server starts and puts the old values back when it ends (Ctrl-C and
 * errors included); otherwise it says they limit the run.
 */
import { readFileSync, writeFileSync } from "node:fs";

const SYSCTLS = {
  "net.core.somaxconn": "/proc/sys/net/core/somaxconn",
  "net.ipv4.tcp_max_syn_backlog": "/proc/sys/net/ipv4/tcp_max_syn_backlog",
} as const;
type Sysctl = keyof typeof SYSCTLS;

/** Well above any concurrency the bench runs (10,000 by default). */
export const RAISED_BACKLOG = 65535;

export interface BacklogLimits {
  /** The values during the run, by sysctl name (undefined: unreadable). */
  during: Partial<Record<Sysctl, number>>;
  /** What was raised, as "name old → new". */
  raised: string[];
  /** Why they were not raised, when they limit the run. */
  limitNote: string | undefined;
}

function read(name: Sysctl): number | undefined {
  try {
    return Number(readFileSync(SYSCTLS[name], "utf8").trim());
  } catch {
    return undefined;
  }
}

/** Old values of what was raised, to write back; empty once restored. */
const toRestore = new Map<Sysctl, number>();

/** Raise both limits to RAISED_BACKLOG where lower, when allowed. Call before the server starts: listen() reads somaxconn then. */
export function raiseBacklogLimits(): BacklogLimits {
  const low = (Object.keys(SYSCTLS) as Sysctl[]).filter((name) => (read(name) ?? RAISED_BACKLOG) < RAISED_BACKLOG);
  const raised: string[] = [];
  let failure: string | undefined;
  if (low.length > 0 && process.getuid?.() !== 0) failure = "not running as root";
  for (const name of failure ? [] : low) {
    const old = read(name)!;
    try {
      writeFileSync(SYSCTLS[name], String(RAISED_BACKLOG));
      toRestore.set(name, old);
      raised.push(`${name} ${old} → ${RAISED_BACKLOG}`);
    } catch (error) {
      failure = `writing ${SYSCTLS[name]} failed (${(error as Error).message})`;
      break;
    }
  }
  const during = Object.fromEntries((Object.keys(SYSCTLS) as Sysctl[]).map((name) => [name, read(name)]));
  const limiting = (Object.keys(SYSCTLS) as Sysctl[]).filter((name) => (during[name] ?? RAISED_BACKLOG) < RAISED_BACKLOG);
  const limitNote =
    limiting.length > 0
      ? `${limiting.map((name) => `${name} = ${during[name]}`).join(" and ")} limit the server's accept queue (${failure ?? "not raised"}): ` +
        "a fast client can overflow it, and each dropped SYN costs a 1 s retransmit (see the overflows column); run as root to raise them for the run"
      : undefined;
  return { during, raised, limitNote };
}

/** Put raised limits back. Synchronous, so signal handlers can call it; safe to call again. */
export function restoreBacklogLimits(): void {
  for (const [name, old] of toRestore) {
    try {
      writeFileSync(SYSCTLS[name], String(old));
    } catch (error) {
      process.stderr.write(`could not restore ${name} to ${old}: ${(error as Error).message}\n`);
    }
  }
  toRestore.clear();
}
