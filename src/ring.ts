/**
 * The ring driver: the only code that prepares, submits and reaps. It owns
 * one io_uring (through the shim), the shared buffers the shim reads, and
 * the wake-up that brings completions to the JS thread without ever
 * blocking it: the shim's waker thread writes a byte to a socketpair whose
 * other end is an ordinary (unref'd) Bun socket, so a wake-up is an I/O
 * event taking its turn with timers and other sockets. (A thread-safe
 * JSCallback was tried first: Bun drains those ahead of timers, and under
 * load timers starved.)
 */
import type { Socket } from "bun";
import { ptr } from "bun:ffi";
import { readFileSync } from "node:fs";
import { adoptSocket } from "./adopt.ts";
import { Errno, errnoCode } from "./errors.ts";
import { COMPLETION_WORDS } from "./layout.ts";
import {
  NativeUnavailableError,
  RING_INFO_WORDS,
  RingOption,
  ringNative,
  sysNative,
  type RingHandle,
  type RingSymbols,
  type SysSymbols,
} from "./native.ts";
import type { SlotPool } from "./slots.ts";

/** Completions copied per uc_reap call. */
const REAP_BATCH = 1024;

/** What the kernel gave the ring (for diagnostics and tests). */
export interface RingInfo {
  sqEntries: number;
  cqEntries: number;
  setupFlags: number;
  features: number;
  /** Times the completion queue overflowed and the kept completions were flushed in. */
  overflowFlushes: number;
}

export interface RingOptions {
  /** Submission queue size hint. */
  entries: number;
}

export type WakeHandler = () => void;

/**
 * RingOption bits to try, minus those URING_CONNECT_DISABLE names (comma
 * list: submit_all,single_issuer,cq_size); tests use it to take an older
 * kernel's path.
 */
function allowedFromEnv(): number {
  const disabled = (process.env.URING_CONNECT_DISABLE ?? "").split(",").map((s) => s.trim());
  let allow = RingOption.all;
  if (disabled.includes("submit_all")) allow &= ~RingOption.submitAll;
  if (disabled.includes("single_issuer")) allow &= ~RingOption.singleIssuer;
  if (disabled.includes("cq_size")) allow &= ~RingOption.cqSize;
  return allow;
}

function ioUringDisabledSetting(): string | undefined {
  try {
    return readFileSync("/proc/sys/kernel/io_uring_disabled", "utf8").trim();
  } catch {
    return undefined;
  }
}

/** Turn uc_ring_open's (errno, stage) into an error that says why and what to do. */
function openError(errno: number, stage: number): NativeUnavailableError {
  if (stage === 3) {
    return new NativeUnavailableError(
      `this kernel's io_uring lacks opcode ${errno} that uring-connect needs; use Linux 5.19 or newer`,
      "io_uring",
    );
  }
  const code = errnoCode(errno);
  let why: string;
  if (errno === Errno.EPERM || errno === Errno.EACCES) {
    const setting = ioUringDisabledSetting();
    why =
      setting && setting !== "0"
        ? `io_uring is disabled by sysctl kernel.io_uring_disabled=${setting}; set it to 0 (or 1 and run in the io_uring group)`
        : "io_uring_setup was denied (a seccomp filter or container policy blocks io_uring); allow io_uring_setup/io_uring_enter/io_uring_register";
  } else if (errno === Errno.ENOSYS) {
    why = "this kernel has no io_uring (needs Linux 5.19 or newer built with CONFIG_IO_URING)";
  } else if (errno === Errno.ENOMEM) {
    why = "not enough locked memory for the ring; raise RLIMIT_MEMLOCK (ulimit -l) or use a smaller `entries`";
  } else {
    why = `io_uring setup failed at stage ${stage}`;
  }
  return new NativeUnavailableError(`uring-connect cannot start: ${why} (${code})`, "io_uring");
}

/**
 * What the Connector drives: the io_uring Ring, or the Bun.connect fallback
 * when io_uring is unavailable. Same batch calls, same completions.
 */
export interface Driver {
  readonly backend: "io_uring" | "bun";
  startWaker(onWake: WakeHandler): void;
  info(): RingInfo;
  prepare(ids: Int32Array, n: number): number;
  submit(): number;
  reap(settle: (slot: number, generation: number, res: number) => void): number;
  cancel(ids: Int32Array, n: number): void;
  closeFds(fds: Int32Array, n: number, rst: boolean): number;
  close(inFlight: number[]): number;
}

export class Ring implements Driver {
  readonly backend = "io_uring" as const;
  private readonly lib: RingSymbols;
  private readonly sys: SysSymbols;
  private handle: RingHandle | null;
  private readonly completions = new Int32Array(REAP_BATCH * COMPLETION_WORDS);
  private wakeStarted = false;
  /** The reading end of the wake-up socketpair, once Bun has adopted it. */
  private wakeSocket: Socket | undefined;

  /**
   * Open a ring for `pool`'s shared buffers.
   * Throws NativeUnavailableError when the shim cannot load or io_uring cannot start.
   */
  constructor(pool: SlotPool<unknown>, options: RingOptions) {
    this.lib = ringNative();
    this.sys = sysNative();
    const err = new Int32Array(2);
    // `>>> 0`: an integral double (64 from Math.sqrt) must still cross FFI as a u32.
    this.handle = this.lib.uc_ring_open(
      options.entries >>> 0,
      pool.capacity >>> 0,
      ptr(pool.table),
      ptr(pool.addrs),
      allowedFromEnv(),
      ptr(err),
    ) as RingHandle | null;
    if (!this.handle) throw openError(-err[0]!, err[1]!);
  }

  /** Start calling `onWake` on the JS thread whenever completions are posted. */
  startWaker(onWake: WakeHandler): void {
    if (this.wakeStarted) return;
    const pair = new Int32Array(2);
    let ret = this.sys.uc_socketpair(ptr(pair));
    if (ret === 0) ret = this.lib.uc_waker_start(this.live(), pair[1]!);
    if (ret < 0) throw new Error(`uring-connect: could not start the completion waker (${errnoCode(-ret)})`);
    this.wakeStarted = true;
    // The reading end becomes a Bun socket that does not keep the process
    // alive; each readable event means "completions may be ready". Bytes
    // written before the adoption completes wait in the socket: none is lost.
    adoptSocket<undefined>(pair[0]!, {
      data: () => {
        if (this.handle) onWake();
      },
    }).then((socket) => {
      socket.unref();
      if (this.handle) this.wakeSocket = socket;
      else socket.terminate();
    });
  }

  info(): RingInfo {
    const out = new Int32Array(RING_INFO_WORDS);
    this.lib.uc_ring_info(this.live(), ptr(out));
    return { sqEntries: out[0]!, cqEntries: out[1]!, setupFlags: out[2]!, features: out[3]!, overflowFlushes: out[4]! };
  }

  /**
   * Open sockets and queue connects for `ids[0..n)`.
   * Returns how many were consumed; the rest wait for room in the queue.
   */
  prepare(ids: Int32Array, n: number): number {
    const consumed = this.lib.uc_prep_connect_batch(this.live(), ptr(ids), n);
    if (consumed < 0) throw new Error(`uring-connect: prepare rejected a slot id (${errnoCode(-consumed)})`);
    return consumed;
  }

  /**
   * Submit queued SQEs. Returns the count, or -errno for a transient refusal
   * (EBUSY, EAGAIN) after which the caller reaps and submits again.
   */
  submit(): number {
    const ret = this.lib.uc_submit(this.live());
    if (ret >= 0 || ret === -Errno.EBUSY || ret === -Errno.EAGAIN) return ret;
    throw new Error(`uring-connect: io_uring_submit failed (${errnoCode(-ret)})`);
  }

  /**
   * Copy every available completion and hand each to `settle` in one batch.
   * Returns how many were settled.
   */
  reap(settle: (slot: number, generation: number, res: number) => void): number {
    let total = 0;
    for (;;) {
      const n = this.lib.uc_reap(this.live(), ptr(this.completions), REAP_BATCH);
      const c = this.completions;
      for (let i = 0; i < n; i++) {
        const at = i * COMPLETION_WORDS;
        settle(c[at]!, c[at + 1]!, c[at + 2]!);
      }
      total += n;
      if (n < REAP_BATCH) return total;
    }
  }

  /** Ask the kernel to cancel the connects of `ids[0..n)`; each still completes. */
  cancel(ids: Int32Array, n: number): void {
    const ret = this.lib.uc_cancel_batch(this.live(), ptr(ids), n);
    if (ret < 0 && ret !== -Errno.EBUSY && ret !== -Errno.EAGAIN) {
      throw new Error(`uring-connect: cancel failed (${errnoCode(-ret)})`);
    }
  }

  /**
   * Close `fds[0..n)`, with RST instead of FIN when `rst`: through the ring
   * in a kernel worker while the ring is open, here and now after it closed.
   */
  closeFds(fds: Int32Array, n: number, rst: boolean): number {
    if (!this.handle) return this.sys.uc_close_now(ptr(fds), n, rst ? 1 : 0);
    return this.lib.uc_close_batch(this.handle, ptr(fds), n, rst ? 1 : 0);
  }

  /**
   * Stop the waker, close the fds of `inFlight` slots and release the ring.
   * Returns how many fds were closed. Safe to call twice.
   */
  close(inFlight: number[]): number {
    if (!this.handle) return 0;
    const ids = Int32Array.from(inFlight.length ? inFlight : [0]);
    const closed = this.lib.uc_ring_close(this.handle, ptr(ids), inFlight.length);
    this.handle = null;
    this.wakeSocket?.terminate();
    return closed;
  }

  private live(): RingHandle {
    if (!this.handle) throw new Error("uring-connect: the ring is closed");
    return this.handle;
  }
}
