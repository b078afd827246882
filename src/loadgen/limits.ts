/**
 * The machine limits a load generator meets: open files (RLIMIT_NOFILE) and
 * ephemeral ports per source address. Raise what can be raised, cap what
 * cannot, and spread source addresses over 127.0.0.0/8 when ports run out.
 */
import { ptr } from "bun:ffi";
import { parseIPv4 } from "../address.ts";
import { invalidInput, outOfRange } from "../errors.ts";
import { sysNative } from "../native.ts";

/** fds kept free for the runtime itself (stdio, the ring, Bun's own). */
export const FD_RESERVE = 64;

/** Raise the soft fd limit to the hard one; returns the soft limit now in force. */
export function raiseFdLimit(): { soft: number; hard: number } {
  const out = new Int32Array(2);
  sysNative().uc_raise_nofile(ptr(out));
  return { soft: out[0]!, hard: out[1]! };
}

/** Close `fd` here and now (with RST when `reset`), not through a ring. */
export function closeNow(fd: number, reset: boolean): void {
  sysNative().uc_close_now(ptr(Int32Array.of(fd)), 1, reset ? 1 : 0);
}

/** Parse `A-B` (IPv4, inclusive) into the list of addresses, or throw naming the flag. */
export function parseSourceRange(text: string, flag = "--source"): string[] {
  const [from, to, extra] = text.split("-");
  const start = from ? parseIPv4(from) : null;
  const end = to === undefined ? start : parseIPv4(to);
  if (!start || !end || extra !== undefined) throw invalidInput(`${flag} must be an IPv4 range like 127.0.0.2-127.0.0.250, got ${JSON.stringify(text)}`);
  const toNumber = (b: Uint8Array) => ((b[0]! << 24) >>> 0) + (b[1]! << 16) + (b[2]! << 8) + b[3]!;
  const first = toNumber(start);
  const last = toNumber(end);
  if (last < first) throw outOfRange(`${flag} must run from low to high, got ${JSON.stringify(text)}`);
  if (last - first >= 65536) throw outOfRange(`${flag} may span at most 65536 addresses, got ${last - first + 1}`);
  const addresses: string[] = [];
  for (let n = first; n <= last; n++) addresses.push(`${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`);
  return addresses;
}

/** The range used when ports run out on a loopback target and no --source was given. */
export const LOOPBACK_SPREAD = "127.0.0.2-127.0.0.250";

/** True for 127.0.0.0/8 and ::1, where any 127.x source address reaches the target. */
export function isLoopback(host: string): boolean {
  return host === "::1" || host === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Hands out source addresses round-robin. */
export class SourcePicker {
  private next = 0;
  constructor(private readonly addresses: string[]) {}
  pick(): string | undefined {
    if (this.addresses.length === 0) return undefined;
    const address = this.addresses[this.next]!;
    this.next = (this.next + 1) % this.addresses.length;
    return address;
  }
}
