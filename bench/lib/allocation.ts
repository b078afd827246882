/**
 * Memory per connect on uring-connect's hot path (connectFd or
 * connectFdCallback + closeFd with RST; bench/clients/alloc.ts): JS heap bytes allocated per connect, with
 * the collector off, and what stays after a full collection (RSS, live
 * objects) over many connects, with it on. One run each.
 */
import path from "node:path";
import { HOST } from "./server.ts";
import { BENCH, BUN } from "./paths.ts";
import { failureReason, lastJsonLine, run, tail } from "./process.ts";

/** The hot path's concurrency here: a batch per tick, as in the rate tables. */
export const ALLOC_CONCURRENCY = 1000;

export interface Allocated {
  connections: number;
  errors: number;
  heapBytesPerConnect: number;
  /** The same loop through connectFdCallback (no promise, requests reused); it needs no then(). */
  callbackHeapBytesPerConnect: number;
  /** The bench loop's own then() per connect, included in heapBytesPerConnect. */
  harnessHeapBytesPerConnect: number;
  extraBytesPerConnect: number;
  /** heapCapacity moves in 16 KB blocks: the figures are exact to this many bytes per connect. */
  resolutionBytes: number;
}

export interface Retained {
  connections: number;
  errors: number;
  rssGrowthBytes: number;
  liveObjectGrowth: number;
  liveHeapGrowthBytes: number;
  grownTypes: Record<string, number>;
}

export interface Allocation {
  allocated: Allocated | { error: string };
  retained: Retained | { error: string };
}

async function phase<T>(name: "allocated" | "retained", port: number, connections: number, env?: Record<string, string>): Promise<T | { error: string }> {
  const args = ["--phase", name, "--host", HOST, "--port", String(port), "--concurrency", String(ALLOC_CONCURRENCY), "--connections", String(connections)];
  const f = await run([BUN, path.join(BENCH, "clients/alloc.ts"), ...args], undefined, env);
  const result = lastJsonLine(f.stdout) as (T & { phase?: string }) | undefined;
  const reason = failureReason(f) ?? (result?.phase === name ? undefined : "no JSON result");
  return reason ? { error: `${reason}: ${tail(f.stderr, 3)}` } : result!;
}

export async function measureAllocation(port: number, allocConnections: number, retainConnections: number): Promise<Allocation> {
  // With the collector off every allocated cell stays, so heap capacity growth is what was allocated.
  const allocated = await phase<Allocated>("allocated", port, allocConnections, { BUN_JSC_useGC: "0" });
  const retained = await phase<Retained>("retained", port, retainConnections);
  return { allocated, retained };
}
