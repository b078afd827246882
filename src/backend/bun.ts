/**
 * The Bun backend, for when io_uring cannot start (`new Connector({
 * fallback: "bun" })`): the same batch calls over Bun's node:net sockets
 * (Bun's own sockets underneath; unlike Bun.connect it can cancel a connect
 * in progress, so a timeout or abort closes the socket at once instead of
 * when the kernel gives up). Each slot's peer and local address come from
 * its owner as Endpoints, already parsed; flags and timeout from the slot
 * table. On success the fd is duplicated for the caller and Bun's socket
 * closed, so connectFd still hands out an fd the caller owns. Completions
 * are queued and delivered through the same reap-and-settle path as the
 * ring's, so exactly-once, FIFO, abort and close behave the same. A watch
 * adopts a duplicate of the fd as an unref'd Bun socket, whose events stand
 * in for the ring poll's; unlike the poll it reads data that arrives (the
 * watch then fires: a watched connection that gets data unasked is not
 * reused anyway). Bun's close() of it is epoll_ctl DEL and close(2) of the
 * duplicate only, so the peer sees nothing.
 */
import type { Socket } from "bun";
import { ptr } from "bun:ffi";
import net from "node:net";
import { AF_UNIX } from "../address.ts";
import { adoptSocket } from "../adopt.ts";
import { codeErrno, Errno, internalError } from "../errors.ts";
import { SLOT_WORDS, SocketFlag, Word } from "../layout.ts";
import { sysNative, type SysSymbols } from "../native.ts";
import type { Backend, BackendPool, RingInfo, Settle } from "./types.ts";

/** A connect this backend started and has not completed yet. */
interface Dial {
  generation: number;
  socket: net.Socket;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** A watch this backend armed: the adopted duplicate, once Bun has opened it. */
interface Watch {
  socket: Socket<unknown> | undefined;
}

/** The poll(2) events a watch reports, as the ring's poll would. */
const POLLIN = 0x1;
const POLLERR = 0x8;
const POLLHUP = 0x10;
const POLLRDHUP = 0x2000;

/** A Backend over Bun's sockets: no ring, nothing queued, closes done at once. */
export class BunBackend implements Backend {
  readonly kind = "bun" as const;
  private readonly sys: SysSymbols;
  private readonly dials = new Map<number, Dial>();
  private readonly watches = new Map<number, Watch>();
  /** Completed (slot, generation, res) triples, waiting to be reaped. */
  private completions: number[] = [];
  private onWake: (() => void) | undefined;
  private wakeQueued = false;
  private closed = false;

  /**
   * A backend for `pool`'s slots. `fallbackReason` says why io_uring is not
   * used. Throws NativeUnavailableError when native/sys.c cannot be built.
   */
  constructor(
    private readonly pool: BackendPool,
    readonly fallbackReason: string,
  ) {
    this.sys = sysNative();
  }

  startWaker(onWake: () => void): void {
    this.onWake = onWake;
  }

  info(): RingInfo {
    return { sqEntries: 0, cqEntries: 0, setupFlags: 0, features: 0, overflowFlushes: 0, lingerInRing: false };
  }

  /** Start a connect for each slot: all are consumed, since nothing is queued. */
  prepareConnects(ids: Int32Array): number {
    this.pool.checkIds(ids);
    for (const slot of ids) {
      if (!this.pool.owner(slot)) throw internalError(`slot ${slot} is prepared but has no owner`);
    }
    for (const slot of ids) this.dial(slot);
    return ids.length;
  }

  private dial(slot: number): void {
    const table = this.pool.table;
    const row = slot * SLOT_WORDS;
    table[row + Word.fd] = -1;
    table[row + Word.result] = 0;
    const { peer, local } = this.pool.owner(slot)!;
    const flags = table[row + Word.flags]!;
    const timeoutMs = table[row + Word.timeoutMs]!;
    const socket =
      peer.family === AF_UNIX
        ? net.connect({ path: peer.address })
        : net.connect({
            host: peer.address,
            port: peer.port!,
            localAddress: local?.address,
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
    this.post(slot, dial.generation, res);
  }

  /** Queue a completion for the next reap, and a wake-up for it. */
  private post(slot: number, generation: number, res: number): void {
    this.completions.push(slot, generation, res);
    if (this.wakeQueued || this.closed) return;
    this.wakeQueued = true;
    queueMicrotask(() => {
      this.wakeQueued = false;
      if (!this.closed) this.onWake?.();
    });
  }

  /** Complete each slot's connect with ECANCELED now; a socket that connects later is dropped. */
  prepareCancels(ids: Int32Array): number {
    this.pool.checkIds(ids);
    for (const slot of ids) {
      const dial = this.dials.get(slot);
      if (dial) this.complete(slot, dial, -Errno.ECANCELED);
    }
    return ids.length;
  }

  /** Arm every watch now: nothing is queued. */
  prepareWatches(pairs: Int32Array): number {
    for (let i = 0; i < pairs.length; i += 2) this.watch(pairs[i]!, pairs[i + 1]!);
    return pairs.length / 2;
  }

  private watch(fd: number, tag: number): void {
    const duplicate = this.sys.uc_dup_fd(fd);
    if (duplicate < 0) return this.post(-1, tag, duplicate);
    const watch: Watch = { socket: undefined };
    this.watches.set(tag, watch);
    const fire = (events: number) => this.endWatch(tag, watch, events);
    adoptSocket(duplicate, {
      // Bun calls open within Bun.connect({ fd }), before any other handler.
      open: (socket) => {
        if (this.watches.get(tag) !== watch) return socket.close();
        socket.unref();
        watch.socket = socket;
      },
      data: () => fire(POLLIN),
      end: () => fire(POLLIN | POLLRDHUP),
      error: () => fire(POLLERR),
      close: () => fire(POLLHUP),
    }).catch(() => fire(-Errno.EIO));
  }

  /** The one place a watch ends: it completes with `res` and its duplicate is closed. */
  private endWatch(tag: number, watch: Watch, res: number): void {
    if (this.watches.get(tag) !== watch) return;
    this.watches.delete(tag);
    this.post(-1, tag, res);
    // Last: Bun runs pending microtasks inside a socket's close().
    watch.socket?.close();
  }

  prepareUnwatches(tags: Int32Array): number {
    for (const tag of tags) {
      const watch = this.watches.get(tag);
      if (watch) this.endWatch(tag, watch, -Errno.ECANCELED);
    }
    return tags.length;
  }

  /** Nothing to queue them in: the fds are closed now. */
  prepareCloses(fds: Int32Array, reset: boolean): number {
    this.closeNow(fds, reset);
    return fds.length;
  }

  /** Connects already started are in flight; nothing is queued. */
  submit(): number {
    return 0;
  }

  reap(settle: Settle, max: number): number {
    const done = this.completions.splice(0, max * 3);
    for (let i = 0; i < done.length; i += 3) settle(done[i]!, done[i + 1]!, done[i + 2]!);
    return done.length / 3;
  }

  /** Every close is done by the time prepareCloses returns. */
  closing(): number {
    return 0;
  }

  closeNow(fds: Int32Array, reset: boolean): void {
    if (fds.length > 0) this.sys.uc_close_now(ptr(fds), fds.length, reset ? 1 : 0);
  }

  /** Drop every dial and close the fds of completions never reaped. */
  shutdown(inKernel: readonly number[]): void {
    if (this.closed) return;
    this.closed = true;
    for (const dial of this.dials.values()) {
      clearTimeout(dial.timer);
      dial.socket.destroy();
    }
    this.dials.clear();
    for (const [tag, watch] of [...this.watches]) this.endWatch(tag, watch, -Errno.ECANCELED);
    this.completions = [];
    const fds = Int32Array.from(inKernel, (slot) => this.pool.table[slot * SLOT_WORDS + Word.fd]!);
    for (const slot of inKernel) this.pool.table[slot * SLOT_WORDS + Word.fd] = -1;
    this.closeNow(fds, false);
  }
}
