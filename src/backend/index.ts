/**
 * Choosing a backend: io_uring when it starts here, else Bun's own sockets
 * when the caller allowed that fallback. The rest of the package sees only
 * the Backend contract (types.ts).
 */
import { NativeUnavailableError } from "../errors.ts";
import { BunBackend } from "./bun.ts";
import type { Backend, BackendPool } from "./types.ts";
import { UringBackend } from "./uring.ts";

export type { Backend, BackendKind, BackendPool, RingInfo, Settle, SlotOwner } from "./types.ts";

/** How to open a backend: the ring's size, and whether Bun's sockets may stand in for io_uring. */
export interface BackendOptions {
  /** Submission queue entries (raised to the ring's minimum). */
  entries: number;
  /** "bun": fall back to Bun's sockets when io_uring cannot start; "none": throw. */
  fallback: "none" | "bun";
}

/**
 * A backend over `pool`'s slots: io_uring, or with `fallback: "bun"` Bun's
 * sockets when io_uring cannot start (its `fallbackReason` says why).
 * Throws NativeUnavailableError when neither can run; the message says
 * why and what to install or change.
 */
export function openBackend(pool: BackendPool, options: BackendOptions): Backend {
  try {
    return new UringBackend(pool, options.entries);
  } catch (error) {
    if (options.fallback !== "bun" || !(error instanceof NativeUnavailableError)) throw error;
    return new BunBackend(pool, error.message);
  }
}
