/**
 * The contract between the scheduler and what opens connections: a Backend
 * turns pending slots into connects, posts exactly one completion per
 * connect, cancels and closes. Two implement it: io_uring (uring.ts) and
 * Bun's own sockets (bun.ts), chosen by openBackend() (index.ts).
 *
 * One scheduler turn, in the order the calls are made:
 *
 *   prepareCancels  ┐
 *   prepareUnwatches│
 *   prepareCloses   ├─ queue work; each consumes a prefix of its batch and
 *   prepareWatches  │  stops early only when the queue is full
 *   prepareConnects ┘
 *   submit             hand everything queued to the kernel: one system call
 *   reap               completions (slot, generation, res) -> settle
 */
import type { Endpoint } from "../address.ts";
import type { SlotPool } from "../slots.ts";

/** Which backend a Connector runs on: `connector.backend`. */
export type BackendKind = "io_uring" | "bun";

/** What the kernel gave the ring (for diagnostics and tests); zeros for the Bun backend. */
export interface RingInfo {
  sqEntries: number;
  cqEntries: number;
  setupFlags: number;
  features: number;
  /** Times the completion queue overflowed and the kept completions were flushed in. */
  overflowFlushes: number;
  /** Reset closes set SO_LINGER through the ring, inside the submit (kernel 6.7+), not with a setsockopt call. */
  lingerInRing: boolean;
}

/** What a backend may read from a busy slot's owner: the connect the slot holds. */
export interface SlotOwner {
  /** The endpoint this attempt connects to (the slot's sockaddr encodes it). */
  readonly peer: Endpoint;
  /** The local address to bind before connecting, if any. */
  readonly local: Endpoint | undefined;
}

/**
 * Called once per completion. A connect's: `res` is 0 (connected; the fd
 * is in the slot) or -errno. A watch's: `slot` is -1, `generation` the
 * watch's tag, `res` > 0 when the socket became readable, was closed by
 * its peer or failed, or -errno (-ECANCELED once unwatched).
 */
export type Settle = (slot: number, generation: number, res: number) => void;

/**
 * Opens connections for slots of a SlotPool and reports each one's outcome.
 *
 * Notes: every prepared connect completes exactly once through `reap`,
 * also when cancelled. Slot ids out of range are a RangeError and nothing
 * is opened. After `shutdown` only `closeNow`, `closing` and `kind` may be
 * used.
 */
export interface Backend {
  readonly kind: BackendKind;
  /** Why io_uring is not used, for the Bun backend; undefined for io_uring. */
  readonly fallbackReason: string | undefined;

  /** Call `onWake` on the JS thread, in its own event-loop turn, whenever completions may be ready. */
  startWaker(onWake: () => void): void;

  info(): RingInfo;

  /**
   * Open sockets and queue connects for the pending slots `ids`.
   * Returns how many were consumed, a prefix: fewer than all only when the
   * queue is full (submit, then prepare the rest). A consumed slot whose
   * socket could not open has -errno in its result word and is not in flight.
   * Throws RangeError for an id outside the pool, before anything is opened.
   */
  prepareConnects(ids: Int32Array): number;

  /**
   * Queue cancels of the in-flight connects of the slots `ids`; each still
   * completes (-ECANCELED, or its own result when it won the race).
   * Returns how many were consumed, as prepareConnects does.
   */
  prepareCancels(ids: Int32Array): number;

  /**
   * Queue a watch of each connected socket in `pairs` (fd, tag, fd, tag...;
   * a tag in 0..2^31-1 names its watch): it completes once, when the socket
   * becomes readable, its peer closes it or it fails, or when unwatched.
   * The ring reads nothing from the socket; the Bun backend's watch reads
   * what arrives before it fires. While a watch is armed it may hold
   * the socket open: unwatch before closing the fd. Returns how many pairs
   * were consumed, as prepareConnects does.
   */
  prepareWatches(pairs: Int32Array): number;

  /** Queue the end of the watches `tags`; each completes (-ECANCELED) unless it already has. Returns how many were consumed. */
  prepareUnwatches(tags: Int32Array): number;

  /**
   * Queue closes of `fds` (reset: RST instead of FIN); a consumed fd
   * belongs to the backend. Returns how many were consumed, as
   * prepareConnects does.
   */
  prepareCloses(fds: Int32Array, reset: boolean): number;

  /**
   * Hand everything queued to the kernel. Returns how many entries went,
   * or -errno (EBUSY, EAGAIN) when the kernel wants completions reaped
   * first: reap, then submit again.
   */
  submit(): number;

  /**
   * Hand up to `max` of the completions ready to `settle`, oldest first;
   * returns how many. Fewer than `max` means none was left; the rest of a
   * full batch stays for the next call (it raises no new wake-up).
   */
  reap(settle: Settle, max: number): number;

  /** Closes queued or in a kernel worker whose fds may still be open. */
  closing(): number;

  /** Close `fds` here and now (the way after shutdown). */
  closeNow(fds: Int32Array, reset: boolean): void;

  /**
   * Stop the waker, submit what is queued, wait for queued closes, cancel
   * the connects of `inKernel` slots and close their fds, release
   * everything. Safe to call twice.
   */
  shutdown(inKernel: readonly number[]): void;
}

/** A pool whose busy slots' owners tell a backend where to connect. */
export type BackendPool = SlotPool<SlotOwner>;
