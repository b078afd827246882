/**
 * The C reference's techniques (bench/ref.c flags): how sockets are made,
 * how the ring is set up, how connections are closed. One variant per
 * combination can be measured (--c-variants) to see which pay on this
 * machine; the best is the "C best" client, the ceiling uring-connect's raw
 * path is judged against.
 */
import { REF } from "./build.ts";
import type { ClientSpec } from "./clients.ts";

export interface CVariant {
  /** socket(2) per connect; IORING_OP_SOCKET (regular fds); or direct descriptors linked to their connect. */
  socket: "syscall" | "ring" | "direct";
  /** IORING_SETUP_SINGLE_ISSUER, or that plus DEFER_TASKRUN. */
  setup: "plain" | "single-issuer" | "defer-taskrun";
  /** A plain close(), or IORING_OP_CLOSE with IOSQE_ASYNC (the reset's teardown in a kernel worker). */
  close: "sync" | "async";
}

/**
 * Measured on this 2-core VM (kernel 6.18), loaded by other work: 5 reps ×
 * 50,000 connections at load ~2–3, and `--c-variants` with 3 reps × 30,000
 * at load ~5. IORING_OP_SOCKET paid in both (1.0–1.4× socket(2) with the
 * same ring and close); SINGLE_ISSUER and DEFER_TASKRUN moved rates by less
 * than the run-to-run noise; direct descriptors (SO_LINGER through
 * URING_CMD, direct close) cost 20–25% at concurrency 10000. OP_SOCKET with
 * SINGLE_ISSUER was best or tied at 100, 1000 and 10000 in the quieter run.
 */
export const C_BEST: CVariant = { socket: "ring", setup: "single-issuer", close: "async" };

/** Every socket × setup combination, each closing through the ring (the close that pays on every run). */
export const C_VARIANTS: readonly CVariant[] = (["syscall", "ring", "direct"] as const).flatMap((socket) =>
  (["plain", "single-issuer", "defer-taskrun"] as const).map((setup) => ({ socket, setup, close: "async" as const })),
);

export function cVariantArgs(v: CVariant): string[] {
  return ["--socket", v.socket, "--setup", v.setup, "--close", v.close];
}

const SOCKET_NAMES = { syscall: "socket(2)", ring: "OP_SOCKET", direct: "direct fds" } as const;
const SETUP_NAMES = { plain: "plain ring", "single-issuer": "SINGLE_ISSUER", "defer-taskrun": "SINGLE_ISSUER+DEFER_TASKRUN" } as const;

export function cVariantLabel(v: CVariant): string {
  return `${SOCKET_NAMES[v.socket]}, ${SETUP_NAMES[v.setup]}, ${v.close} close`;
}

/** One client per variant, ids `c:<socket>:<setup>:<close>`. */
export function cVariantSpecs(): ClientSpec[] {
  return C_VARIANTS.map((v) => ({ id: `c:${v.socket}:${v.setup}:${v.close}`, label: cVariantLabel(v), cmd: [REF.out, ...cVariantArgs(v)] }));
}
