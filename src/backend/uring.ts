/**
 * The io_uring backend: one ring (native/ring.c over liburing), the only
 * code that prepares, submits and reaps. It reads the pool's shared slot
 * table and address buffer in place (layout.ts), and brings completions to
 * the JS thread without ever blocking it: the shim's waker thread writes a
 * byte to a socketpair whose other end is an ordinary (unref'd) Bun socket,
 * so a wake-up is an I/O event taking its turn with timers and other
 * sockets. (A thread-safe JSCallback was tried first: Bun drains those
 * ahead of timers, and under load timers starved.)
 */
import type { Socket } from "bun";
import { ptr } from "bun:ffi";
import { readFileSync } from "node:fs";
import { adoptSocket } from "../adopt.ts";
import { Errno, RingError, ringOpenError } from "../errors.ts";
import { COMPLETION_WORDS } from "../layout.ts";
import { RING_INFO_WORDS, RingOption, ringNative, sysNative, type RingHandle, type RingSymbols, type SysSymbols } from "../native.ts";
import type { Backend, BackendPool, RingInfo, Settle } from "./types.ts";

/** Completions copied per uc_reap call. */
const REAP_BATCH = 1024;

/**
 * The smallest submission queue the ring opens, whatever `entries` asks
 * for. A connect with a timeout is two linked entries (CONNECT and its
 * LINK_TIMEOUT) that must enter the queue together: a queue of one could
 * never take the pair, and the connect would wait forever. With two, the
 * largest single item (that pair; a cancel or a close is one entry) always
 * fits once the queue has been submitted.
 */
export const MIN_RING_ENTRIES = 2;

/**
 * RingOption bits to try, minus those URING_CONNECT_DISABLE names (comma
 * list: submit_all,single_issuer,cq_size,sock_cmd); tests use it to take an older
 * kernel's path.
 */
function allowedFromEnv(): number {
  const disabled = (process.env.URING_CONNECT_DISABLE ?? "").split(",").map((s) => s.trim());
  let allow = RingOption.all;
  if (disabled.includes("submit_all")) allow &= ~RingOption.submitAll;
  if (disabled.includes("single_issuer")) allow &= ~RingOption.singleIssuer;
  if (disabled.includes("cq_size")) allow &= ~RingOption.cqSize;
  if (disabled.includes("sock_cmd")) allow &= ~RingOption.sockCmd;
  return allow;
}

/** /proc/sys/kernel/io_uring_disabled, which explains an EPERM from io_uring_setup. */
function ioUringDisabledSetting(): string | undefined {
  try {
    return readFileSync("/proc/sys/kernel/io_uring_disabled", "utf8").trim();
  } catch {
    return undefined;
  }
}

/** A Backend over one io_uring. */
export class UringBackend implements Backend {
  readonly kind = "io_uring" as const;
  readonly fallbackReason = undefined;
  private readonly lib: RingSymbols;
  private readonly sys: SysSymbols;
  private handle: RingHandle | null;
  private readonly completions = new Int32Array(REAP_BATCH * COMPLETION_WORDS);
  private wakeStarted = false;
  /** The reading end of the wake-up socketpair, once Bun has adopted it. */
  private wakeSocket: Socket | undefined;

  /**
   * Open a ring of at least `entries` (raised to MIN_RING_ENTRIES) over
   * `pool`'s shared buffers, which must stay alive until shutdown.
   * Throws NativeUnavailableError when the shim cannot load or io_uring
   * cannot start; the message says why and what to change.
   */
  constructor(
    private readonly pool: BackendPool,
    entries: number,
  ) {
    this.lib = ringNative();
    this.sys = sysNative();
    const err = new Int32Array(2);
    // `>>> 0`: an integral double (64 from Math.sqrt) must still cross FFI as a u32.
    this.handle = this.lib.uc_ring_open(
      Math.max(entries, MIN_RING_ENTRIES) >>> 0,
      pool.capacity >>> 0,
      ptr(pool.table),
      ptr(pool.addrs),
      allowedFromEnv(),
      ptr(err),
    ) as RingHandle | null;
    if (!this.handle) throw ringOpenError(-err[0]!, err[1]!, ioUringDisabledSetting());
  }

  startWaker(onWake: () => void): void {
    if (this.wakeStarted) return;
    const pair = new Int32Array(2);
    let ret = this.sys.uc_socketpair(ptr(pair));
    if (ret === 0) ret = this.lib.uc_waker_start(this.live(), pair[1]!);
    if (ret < 0) throw new RingError("could not start the completion waker", -ret);
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
    return { sqEntries: out[0]!, cqEntries: out[1]!, setupFlags: out[2]!, features: out[3]!, overflowFlushes: out[4]!, lingerInRing: out[5] === 1 };
  }

  prepareConnects(ids: Int32Array): number {
    if (ids.length === 0) return 0;
    // Checked here too, so the error names the id (the shim only says EINVAL).
    this.pool.checkIds(ids);
    return count(this.lib.uc_prep_connect_batch(this.live(), ptr(ids), ids.length), "uc_prep_connect_batch");
  }

  prepareCancels(ids: Int32Array): number {
    if (ids.length === 0) return 0;
    this.pool.checkIds(ids);
    return count(this.lib.uc_prep_cancel_batch(this.live(), ptr(ids), ids.length), "uc_prep_cancel_batch");
  }

  prepareWatches(pairs: Int32Array): number {
    if (pairs.length === 0) return 0;
    return count(this.lib.uc_prep_watch_batch(this.live(), ptr(pairs), pairs.length >> 1), "uc_prep_watch_batch");
  }

  prepareUnwatches(tags: Int32Array): number {
    if (tags.length === 0) return 0;
    return count(this.lib.uc_prep_unwatch_batch(this.live(), ptr(tags), tags.length), "uc_prep_unwatch_batch");
  }

  prepareCloses(fds: Int32Array, reset: boolean): number {
    if (fds.length === 0) return 0;
    return count(this.lib.uc_prep_close_batch(this.live(), ptr(fds), fds.length, reset ? 1 : 0), "uc_prep_close_batch");
  }

  submit(): number {
    const ret = this.lib.uc_submit(this.live());
    if (ret >= 0 || ret === -Errno.EBUSY || ret === -Errno.EAGAIN) return ret;
    throw new RingError("io_uring_submit failed", -ret);
  }

  reap(settle: Settle, max: number): number {
    let total = 0;
    while (total < max) {
      // `| 0`: Math.min of doubles may be a double, and Bun's FFI does not
      // convert an integral double to i32 reliably (see the constructor's `>>> 0`).
      const want = Math.min(REAP_BATCH, max - total) | 0;
      const n = this.lib.uc_reap(this.live(), ptr(this.completions), want);
      const c = this.completions;
      for (let i = 0; i < n; i++) {
        const at = i * COMPLETION_WORDS;
        settle(c[at]!, c[at + 1]!, c[at + 2]!);
      }
      total += n;
      if (n < want) break;
    }
    return total;
  }

  closing(): number {
    return this.handle ? this.lib.uc_closes_pending(this.handle) : 0;
  }

  closeNow(fds: Int32Array, reset: boolean): void {
    if (fds.length > 0) this.sys.uc_close_now(ptr(fds), fds.length, reset ? 1 : 0);
  }

  shutdown(inKernel: readonly number[]): void {
    if (!this.handle) return;
    const ids = Int32Array.from(inKernel.length ? inKernel : [0]);
    this.lib.uc_ring_close(this.handle, ptr(ids), inKernel.length);
    this.handle = null;
    this.wakeSocket?.terminate();
  }

  private live(): RingHandle {
    if (!this.handle) throw new RingError("the ring is closed", Errno.EBADF);
    return this.handle;
  }
}

/** A shim call's count, or a RingError for its -errno (arguments were checked, so none is expected). */
function count(ret: number, call: string): number {
  if (ret < 0) throw new RingError(`${call} failed`, -ret);
  return ret;
}
