/**
 * The Bun fallback: a Driver with the Ring's batch calls, for when io_uring
 * cannot start (`new Connector({ fallback: "bun" })`). Each slot's connect
 * goes through Bun's node:net (Bun's own sockets underneath; unlike
 * Bun.connect it can cancel a connect in progress, so a timeout or abort
 * closes the socket at once instead of when the kernel gives up). On success
 * the fd is duplicated for the caller and Bun's socket closed, so connectFd
 * still hands out an fd the caller owns. Completions are queued and delivered through the same
 * reap-and-settle path as the ring's, so exactly-once, FIFO, abort and close
 * behave the same.
 */
import { ptr } from "bun:ffi";
import net from "node:net";
import { decodeSockaddr } from "./address.ts";
import { codeErrno, Errno } from "./errors.ts";
import { ADDR_BYTES, LOCAL_OFFSET, SLOT_WORDS, SocketFlag, Word } from "./layout.ts";
import { sysNative, type SysSymbols } from "./native.ts";
import type { Driver, RingInfo, WakeHandler } from "./ring.ts";
import type { SlotPool } from "./slots.ts";

/** A connect this driver started and has not completed yet. */
interface Dial {
  generation: number;
  socket: net.Socket;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class BunFallbackDriver implements Driver {
  readonly backend = "bun" as const;
  private readonly sys: SysSymbols;
  private readonly dials = new Map<number, Dial>();
  /** Completed (slot, generation, res) triples, waiting to be reaped. */
  private completions: number[] = [];
  private onWake: WakeHandler | undefined;
  private wakeQueued = false;
  private closed = false;

  constructor(private readonly pool: SlotPool<unknown>) {
    this.sys = sysNative();
  }

  startWaker(onWake: WakeHandler): void {
    this.onWake = onWake;
  }

  info(): RingInfo {
    return { sqEntries: 0, cqEntries: 0, setupFlags: 0, features: 0, overflowFlushes: 0 };
  }

  /** Start a connect for each slot; all are consumed. */
  prepare(ids: Int32Array, n: number): number {
    for (let i = 0; i < n; i++) this.dial(ids[i]!);
    return n;
  }

  private dial(slot: number): void {
    const table = this.pool.table;
    const row = slot * SLOT_WORDS;
    table[row + Word.fd] = -1;
    table[row + Word.result] = 0;
    const base = slot * ADDR_BYTES;
    const where = decodeSockaddr(this.pool.addrs.subarray(base, base + table[row + Word.addrlen]!));
    const localLen = table[row + Word.localLen]!;
    const local = localLen > 0 ? decodeSockaddr(this.pool.addrs.subarray(base + LOCAL_OFFSET, base + LOCAL_OFFSET + localLen)) : undefined;
    const flags = table[row + Word.flags]!;
    const timeoutMs = table[row + Word.timeoutMs]!;
    const socket =
      "unix" in where
        ? net.connect({ path: where.unix })
        : net.connect({
            host: where.host,
            port: where.port,
            localAddress: local && "host" in local ? local.host : undefined,
            noDelay: (flags & SocketFlag.noDelay) !== 0,
            keepAlive: (flags & SocketFlag.keepAlive) !== 0,
          });
    const dial: Dial = { generation: table[row + Word.generation]!, socket, timer: undefined };
    this.dials.set(slot, dial);
    if (timeoutMs > 0) dial.timer = setTimeout(() => this.complete(slot, dial, -Errno.ETIMEDOUT), timeoutMs);
    socket.once("connect", () => {
      // node:net sockets carry their fd on the handle; the duplicate is the caller's.
      const fd = this.sys.uc_dup_fd((socket as unknown as { _handle: { fd: number } })._handle.fd);
      socket.destroy();
      if (fd >= 0) table[row + Word.fd] = fd;
      this.complete(slot, dial, fd >= 0 ? 0 : fd);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => this.complete(slot, dial, -(codeErrno(error.code ?? "") ?? Errno.EIO)));
  }

  /** The one place a dial ends; a failed or abandoned one's socket is destroyed (its fd closed). */
  private complete(slot: number, dial: Dial, res: number): void {
    if (this.dials.get(slot) !== dial) return;
    this.dials.delete(slot);
    clearTimeout(dial.timer);
    if (res < 0) dial.socket.destroy();
    this.completions.push(slot, dial.generation, res);
    if (this.wakeQueued || this.closed) return;
    this.wakeQueued = true;
    queueMicrotask(() => {
      this.wakeQueued = false;
      if (!this.closed) this.onWake?.();
    });
  }

  /** Connects already started are in flight; nothing is queued. */
  submit(): number {
    return 0;
  }

  reap(settle: (slot: number, generation: number, res: number) => void): number {
    const done = this.completions;
    this.completions = [];
    for (let i = 0; i < done.length; i += 3) settle(done[i]!, done[i + 1]!, done[i + 2]!);
    return done.length / 3;
  }

  /** Complete each slot's connect with ECANCELED now; a socket that connects later is dropped. */
  cancel(ids: Int32Array, n: number): void {
    for (let i = 0; i < n; i++) {
      const dial = this.dials.get(ids[i]!);
      if (dial) this.complete(ids[i]!, dial, -Errno.ECANCELED);
    }
  }

  closeFds(fds: Int32Array, n: number, rst: boolean): number {
    return this.sys.uc_close_now(ptr(fds), n, rst ? 1 : 0);
  }

  /** Drop every dial and close the fds of completions never reaped. */
  close(inFlight: number[]): number {
    this.closed = true;
    for (const dial of this.dials.values()) {
      clearTimeout(dial.timer);
      dial.socket.destroy();
    }
    this.dials.clear();
    const fds = Int32Array.from(inFlight.map((slot) => this.pool.table[slot * SLOT_WORDS + Word.fd]!));
    this.completions = [];
    return fds.length ? this.closeFds(fds, fds.length, false) : 0;
  }
}
