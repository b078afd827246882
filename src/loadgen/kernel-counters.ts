/**
 * The kernel's TCP counters that explain one-second latencies: a full
 * accept queue drops SYNs (TcpExt ListenOverflows) and the client resends
 * them after its initial retransmission timeout of 1 s (Tcp RetransSegs).
 * Read before and after a run; the note says what to raise.
 */
import { readFileSync } from "node:fs";

/** Counters of this network namespace (cumulative since boot). */
export interface TcpCounters {
  /** TcpExt ListenOverflows: connections a full accept queue turned away. */
  listenOverflows: number;
  /** Tcp RetransSegs: segments sent again, SYNs included. */
  retransSegs: number;
}

/** `Prefix: name name...` then `Prefix: value value...`, as /proc/net/snmp and /proc/net/netstat lay them out. */
function field(text: string, prefix: string, name: string): number | undefined {
  const lines = text.split("\n").filter((line) => line.startsWith(`${prefix}:`));
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = lines[i]!.split(/\s+/);
    const values = lines[i + 1]!.split(/\s+/);
    const at = names.indexOf(name);
    if (at > 0 && values[at] !== undefined) return Number(values[at]);
  }
  return undefined;
}

/** The counters now, or undefined where /proc/net cannot be read. */
export function readTcpCounters(): TcpCounters | undefined {
  try {
    const listenOverflows = field(readFileSync("/proc/net/netstat", "utf8"), "TcpExt", "ListenOverflows");
    const retransSegs = field(readFileSync("/proc/net/snmp", "utf8"), "Tcp", "RetransSegs");
    if (listenOverflows === undefined || retransSegs === undefined) return undefined;
    return { listenOverflows, retransSegs };
  } catch {
    return undefined;
  }
}

/** How much each counter grew from `before` to `after`. */
export function counterGrowth(before: TcpCounters, after: TcpCounters): TcpCounters {
  return { listenOverflows: after.listenOverflows - before.listenOverflows, retransSegs: after.retransSegs - before.retransSegs };
}

/** A p99 this long is the signature of dropped SYNs: the first retransmission comes after 1 s. */
export const SYN_RETRY_US = 1_000_000;

/**
 * The note for a run whose p99 reached 1 s while the counters grew, else
 * undefined. Overflows are counted only for listeners on this machine (and
 * namespace); for a remote target the retransmissions are the evidence.
 */
export function acceptQueueNote(p99Us: number, growth: TcpCounters): string | undefined {
  if (p99Us < SYN_RETRY_US || (growth.listenOverflows <= 0 && growth.retransSegs <= 0)) return undefined;
  const p99 = `p99 ${(p99Us / 1e6).toFixed(2)} s`;
  // The counters cover every socket of this network namespace, not just this run's: say what they show, and what most likely happened.
  const evidence =
    growth.listenOverflows > 0
      ? `during the run the kernel counted ${growth.listenOverflows} listen-queue overflows (and ${growth.retransSegs} retransmitted segments): the target's accept queue most likely overflowed`
      : `during the run the kernel retransmitted ${growth.retransSegs} segments: the target's accept queue may have overflowed`;
  return (
    `${p99}: ${evidence}, so SYNs were dropped and resent after 1 s (then 3 s, 7 s...). ` +
    "On the target, raise the listen backlog (the listen() argument), net.core.somaxconn and net.ipv4.tcp_max_syn_backlog, or open fewer connections at once"
  );
}
