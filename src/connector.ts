/**
 * The public Connector: validates, queues, batches connects into the ring,
 * and settles each exactly once.
 *
 * Flow of one connect: validate -> (resolve the name) -> wait FIFO for a
 * free slot -> encode into the slot -> staged -> one batch prepares and
 * submits every staged slot -> the waker brings completions -> one reap
 * settles them all and frees their slots -> waiting requests take them.
 */
import type { Socket, SocketHandler } from "bun";
import { parseTarget, resolveName, type Endpoint, type Target } from "./address.ts";
import { adoptSocket } from "./adopt.ts";
import { ConnectError, ConnectorClosedError, completionErrno, invalidType } from "./errors.ts";
import {
  checkConnectOptions,
  checkConnectorOptions,
  checkSocketOptions,
  type CheckedOptions,
  type ConnectOptions,
  type ConnectorOptions,
} from "./options.ts";
import { BunFallbackDriver } from "./fallback.ts";
import { NativeUnavailableError } from "./native.ts";
import { Ring, type Driver, type RingInfo } from "./ring.ts";
import { SlotPool, SlotState, type SlotStats } from "./slots.ts";

/**
 * Bounds on the work done in one event-loop turn. On loopback the kernel
 * runs each connect's handshake inside the submit (~15 µs each), so a batch
 * of 256 holds the JS thread ~4 ms; bigger batches go out over several turns
 * so timers and other I/O keep their turn. Likewise at most a batch's worth
 * of completions is settled right after submits in one turn (a lone connect
 * loops inline; a storm yields); later ones arrive by wake-up.
 */
const MAX_BATCH = 256;
const INLINE_REAP_BUDGET = 256;

/**
 * The smallest submission queue a Connector opens, whatever `entries` asks
 * for. A connect with a timeout is two linked entries (CONNECT and its
 * LINK_TIMEOUT) that must enter the queue together: a queue of one could
 * never take the pair, and the connect would wait forever. With two, the
 * largest single item (that pair; a cancel or a close is one entry) always
 * fits once the queue has been submitted.
 */
export const MIN_RING_ENTRIES = 2;

/** One caller's connect, from validation to settlement. */
interface Request {
  endpoints: Endpoint[];
  /** Which endpoint is being tried; the next is tried when one fails. */
  attempt: number;
  options: CheckedOptions;
  slot: number;
  done: boolean;
  resolve: (fd: number) => void;
  reject: (error: unknown) => void;
  onAbort: (() => void) | undefined;
}

/** Counters for tests and tools: slots by state plus the FIFO backlog. */
export interface ConnectorStats extends SlotStats {
  /** Requests waiting for a free slot. */
  waiting: number;
}

/** Options for `connect`: connect options plus the Bun socket handlers. */
export interface SocketConnectOptions<Data> extends ConnectOptions {
  socket: SocketHandler<Data>;
  data?: Data;
}

/** What `connectMany` gives per target: an fd, or the error that target met. */
export type ConnectOutcome = number | Error;

/**
 * Opens TCP and unix connections through one io_uring, in batches.
 *
 * Notes: a Connector holds no event-loop reference while idle, so a process
 * with nothing in flight exits normally. `close()` (or `using`) rejects all
 * unfinished work and closes every fd it opened that was not handed out.
 */
export class Connector {
  private readonly pool: SlotPool<Request>;
  private readonly ring: Driver;
  /** Why io_uring is not used, when the Bun.connect fallback is. */
  readonly fallbackReason: string | undefined;
  private readonly waiting: Request[] = [];
  private waitingHead = 0;
  /** Pending slots, in order, to prepare in the next batch. */
  private readonly staged: Int32Array;
  private stagedCount = 0;
  /** In-flight slots whose callers gave up, to cancel in the next batch. */
  private readonly cancels: Int32Array;
  private cancelCount = 0;
  /** Connected fds of orphaned slots, closed after each reap. */
  private readonly orphanFds: Int32Array;
  private orphanFdCount = 0;
  private readonly resetCloses: number[] = [];
  private readonly plainCloses: number[] = [];
  private flushQueued = false;
  /** Completions settled right after a submit in this event-loop turn. */
  private inlineReaped = 0;
  private continueQueued = false;
  private submitBlocked = false;
  private isClosed = false;
  private readonly keepAlive: ReturnType<typeof setInterval>;
  private keepAliveRefd = false;

  /**
   * Throws TypeError/RangeError for bad options, and NativeUnavailableError
   * when io_uring or liburing is unavailable (the message says what to do).
   */
  constructor(options?: ConnectorOptions) {
    const { entries, maxInflight, fallback } = checkConnectorOptions(options);
    this.pool = new SlotPool<Request>(maxInflight);
    const pool = this.pool as SlotPool<unknown>;
    try {
      this.ring = new Ring(pool, { entries: Math.max(entries, MIN_RING_ENTRIES) });
    } catch (error) {
      if (fallback !== "bun" || !(error instanceof NativeUnavailableError)) throw error;
      this.ring = new BunFallbackDriver(pool);
      this.fallbackReason = error.message;
    }
    this.staged = new Int32Array(maxInflight);
    this.cancels = new Int32Array(maxInflight);
    this.orphanFds = new Int32Array(maxInflight);
    // A timer holds the event loop open only while work is in flight.
    this.keepAlive = setInterval(() => {}, 1 << 30);
    this.keepAlive.unref();
    this.ring.startWaker(() => this.onWake());
  }

  /**
   * Connect and return the connected fd; the caller owns it and must close it.
   * Rejects with ConnectError (code, errno, syscall, address, port), the
   * signal's reason on abort, ConnectorClosedError after close(), or a
   * TypeError/RangeError for bad input (before anything is opened).
   */
  connectFd(target: Target, options?: ConnectOptions): Promise<number> {
    try {
      const parsed = parseTarget(target);
      const checked = checkConnectOptions(options);
      if (this.isClosed) return Promise.reject(new ConnectorClosedError());
      if (checked.signal?.aborted) return Promise.reject(checked.signal.reason);
      if (parsed.kind === "endpoint") return this.start([parsed.endpoint], checked);
      return resolveName(parsed.host, parsed.port, checked.local?.family).then((endpoints) => {
        if (this.isClosed) throw new ConnectorClosedError();
        if (checked.signal?.aborted) throw checked.signal.reason;
        return this.start(endpoints, checked);
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Connect and adopt the fd as a Bun socket with `options.socket` handlers.
   * Rejects like connectFd, or with an error if this Bun cannot adopt fds.
   */
  async connect<Data = undefined>(target: Target, options: SocketConnectOptions<Data>): Promise<Socket<Data>> {
    checkSocketOptions(options);
    const { socket, data, ...connectOptions } = options;
    const fd = await this.connectFd(target, connectOptions);
    return adoptSocket(fd, socket, data as Data);
  }

  /**
   * Connect to every target at once. Resolves with one outcome per target,
   * in order: the fd (the caller owns it) or the Error that target met.
   * Bad input in any target rejects the whole call before anything is opened.
   */
  connectMany(targets: readonly Target[], options?: ConnectOptions): Promise<ConnectOutcome[]> {
    if (!Array.isArray(targets)) return Promise.reject(new TypeError("targets must be an array"));
    try {
      targets.forEach((target, i) => parseTarget(target, `targets[${i}]`));
      checkConnectOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.all(
      targets.map((target) => this.connectFd(target, options).catch((error: Error) => error)),
    );
  }

  /**
   * Close a connected fd this Connector handed out, batched with every other
   * close of the same tick (one native call). `reset: true` sends RST instead
   * of FIN, so the local port skips TIME_WAIT, as load generators need.
   * After `close()` there is no ring to batch into: the fd is closed at once.
   * Throws TypeError for an fd that is not a non-negative integer.
   */
  closeFd(fd: number, options?: { reset?: boolean }): void {
    if (!Number.isInteger(fd) || fd < 0) throw invalidType("fd", "a non-negative integer", fd);
    const reset = options?.reset === true;
    if (this.isClosed) {
      this.ring.closeFds(Int32Array.of(fd), 1, reset);
      return;
    }
    const batch = reset ? this.resetCloses : this.plainCloses;
    batch.push(fd);
    if (batch.length === 1) queueMicrotask(() => this.closeBatch(batch, reset));
  }

  private closeBatch(batch: number[], reset: boolean): void {
    if (batch.length === 0) return; // close() took them already
    const fds = Int32Array.from(batch);
    batch.length = 0;
    this.ring.closeFds(fds, fds.length, reset);
  }

  /** Slots by state and the FIFO backlog. */
  stats(): ConnectorStats {
    return { ...this.pool.stats(), waiting: this.waiting.length - this.waitingHead };
  }

  /** "io_uring", or "bun" when the Bun.connect fallback is in use (see fallbackReason). */
  get backend(): "io_uring" | "bun" {
    return this.ring.backend;
  }

  /** What the kernel gave this Connector's ring (zeros for the fallback). */
  ringInfo(): RingInfo {
    return this.ring.info();
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Reject all unfinished work with ConnectorClosedError, close every fd not
   * yet handed out, and release the ring. Safe to call twice.
   */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    const error = new ConnectorClosedError();
    for (let i = this.waitingHead; i < this.waiting.length; i++) this.fail(this.waiting[i]!, error);
    this.waiting.length = 0;
    this.waitingHead = 0;
    this.stagedCount = 0;
    this.cancelCount = 0;
    const inKernel = [...this.pool.slotsIn(SlotState.InFlight), ...this.pool.slotsIn(SlotState.Orphaned)];
    for (const slot of this.pool.slotsIn(SlotState.Pending)) this.release(slot, error);
    // Closes asked for this tick go out through the ring, which waits for them before it exits.
    this.closeBatch(this.resetCloses, true);
    this.closeBatch(this.plainCloses, false);
    this.ring.close(inKernel);
    for (const slot of inKernel) this.release(slot, error);
    clearInterval(this.keepAlive);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  private start(endpoints: Endpoint[], options: CheckedOptions): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const request: Request = { endpoints, attempt: 0, options, slot: -1, done: false, resolve, reject, onAbort: undefined };
      if (options.signal) {
        request.onAbort = () => this.abort(request);
        options.signal.addEventListener("abort", request.onAbort, { once: true });
      }
      this.enqueue(request);
    });
  }

  /** Stage the request if a slot is free and nobody is ahead of it; else wait (FIFO). */
  private enqueue(request: Request): void {
    if (this.waitingHead === this.waiting.length && this.stage(request)) return;
    this.waiting.push(request);
    this.holdLoop();
  }

  private stage(request: Request): boolean {
    const slot = this.pool.acquire(request);
    if (slot < 0) return false;
    const { options } = request;
    request.slot = slot;
    this.pool.write(slot, request.endpoints[request.attempt]!, options.local, options.flags, options.timeoutMs);
    this.staged[this.stagedCount++] = slot;
    this.queueFlush();
    return true;
  }

  /** Move waiting requests into free slots, oldest first. */
  private pump(): void {
    while (this.waitingHead < this.waiting.length) {
      const request = this.waiting[this.waitingHead]!;
      if (!request.done && !this.stage(request)) break;
      this.waiting[this.waitingHead++] = undefined as unknown as Request;
    }
    if (this.waitingHead === this.waiting.length) {
      this.waiting.length = 0;
      this.waitingHead = 0;
    } else if (this.waitingHead > 1024 && this.waitingHead * 2 > this.waiting.length) {
      this.waiting.splice(0, this.waitingHead);
      this.waitingHead = 0;
    }
  }

  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => this.flush());
  }

  /** One batch: prepare every staged slot, queue cancels, submit once. */
  private flush(): void {
    this.flushQueued = false;
    if (this.isClosed) return;
    this.prepareStaged();
    if (this.cancelCount > 0) {
      this.ring.cancel(this.cancels, this.cancelCount);
      this.cancelCount = 0;
    }
    const submitted = this.ring.submit();
    // EBUSY/EAGAIN: the kernel wants completions reaped first; the next wake
    // retries, or a timer does when nothing is in the kernel to wake us.
    this.submitBlocked = submitted < 0;
    const { inFlight, orphaned } = this.pool.stats();
    if (this.submitBlocked && inFlight + orphaned === 0) {
      setTimeout(() => this.flush(), 1);
    }
    // On loopback a connect often completes before io_uring_enter returns
    // (its task work runs on the way out): settle those now rather than a
    // thread hop later. Only a few rounds per event-loop turn, though: each
    // round's callers start new connects in microtasks, and an unbounded
    // chain would starve timers and I/O; later completions come by wake-up.
    if (submitted > 0 && this.inlineReaped < INLINE_REAP_BUDGET) {
      if (this.inlineReaped === 0) setImmediate(() => (this.inlineReaped = 0));
      this.inlineReaped += this.reapCompletions() || 1;
    }
    this.holdLoop();
  }

  private prepareStaged(): void {
    // Drop slots whose callers gave up before the batch went out.
    let kept = 0;
    for (let i = 0; i < this.stagedCount; i++) {
      const slot = this.staged[i]!;
      if (this.pool.owner(slot)!.done) this.pool.move(slot, SlotState.Free);
      else this.staged[kept++] = slot;
    }
    this.stagedCount = kept;
    if (kept === 0) return;
    const batch = Math.min(kept, MAX_BATCH);
    const consumed = this.ring.prepare(this.staged, batch);
    for (let i = 0; i < consumed; i++) {
      const slot = this.staged[i]!;
      const result = this.pool.prepResult(slot);
      if (result < 0) this.completeFailed(slot, -result);
      else this.pool.move(slot, SlotState.InFlight);
    }
    // What the queue could not take stays staged, in order, for the next batch.
    this.staged.copyWithin(0, consumed, kept);
    this.stagedCount = kept - consumed;
    if (consumed < batch) this.submitBlocked = true;
    else if (this.stagedCount > 0) this.continueNextTurn();
  }

  /** More than a batch is staged: submit the rest after the event loop has had a turn. */
  private continueNextTurn(): void {
    if (this.continueQueued) return;
    this.continueQueued = true;
    setImmediate(() => {
      this.continueQueued = false;
      if (this.stagedCount > 0) this.flush();
    });
  }

  private onWake(): void {
    if (this.isClosed) return;
    this.reapCompletions();
    if (this.stagedCount > 0 || this.submitBlocked) this.flush();
    this.holdLoop();
  }

  /** Settle every posted completion in one batch and give freed slots to waiters; returns how many. */
  private reapCompletions(): number {
    const reaped = this.ring.reap(this.settleCompletion);
    if (reaped === 0) return 0;
    if (this.orphanFdCount > 0) {
      this.ring.closeFds(this.orphanFds, this.orphanFdCount, true);
      this.orphanFdCount = 0;
    }
    this.pump();
    return reaped;
  }

  private readonly settleCompletion = (slot: number, generation: number, res: number): void => {
    if (generation !== this.pool.generation(slot)) return;
    const state = this.pool.state(slot);
    if (state === SlotState.Orphaned) {
      // The caller gave up; a socket that connected anyway is closed here.
      const fd = this.pool.takeFd(slot);
      if (res >= 0 && fd >= 0) this.orphanFds[this.orphanFdCount++] = fd;
      this.pool.move(slot, SlotState.Free);
      return;
    }
    if (state !== SlotState.InFlight) return;
    if (res >= 0) {
      const request = this.pool.owner(slot)!;
      const fd = this.pool.takeFd(slot);
      this.pool.move(slot, SlotState.Free);
      this.succeed(request, fd);
    } else {
      this.completeFailed(slot, completionErrno(res, this.pool.owner(slot)!.options.timeoutMs > 0));
    }
  };

  /** A slot's connect failed with `errno`: try the next endpoint or reject. */
  private completeFailed(slot: number, errno: number): void {
    const request = this.pool.owner(slot)!;
    this.pool.move(slot, SlotState.Free);
    request.slot = -1;
    if (request.done) return;
    if (request.attempt + 1 < request.endpoints.length) {
      request.attempt++;
      this.enqueue(request);
      return;
    }
    const endpoint = request.endpoints[request.attempt]!;
    this.fail(request, new ConnectError({ errno, address: endpoint.address, port: endpoint.port }));
  }

  /** The caller's signal fired: settle now, and make sure the slot's socket is closed. */
  private abort(request: Request): void {
    if (request.done) return;
    this.fail(request, request.options.signal!.reason);
    const slot = request.slot;
    if (slot < 0 || this.pool.owner(slot) !== request) return; // waiting: pump skips it
    if (this.pool.state(slot) === SlotState.InFlight) {
      this.pool.move(slot, SlotState.Orphaned);
      this.cancels[this.cancelCount++] = slot;
      this.queueFlush();
    }
    // Pending: the next batch frees the slot without opening anything.
  }

  /** Reject a request that holds `slot` and free the slot (close only). */
  private release(slot: number, error: Error): void {
    const request = this.pool.owner(slot);
    if (this.pool.state(slot) === SlotState.InFlight) this.pool.move(slot, SlotState.Orphaned);
    this.pool.move(slot, SlotState.Free);
    if (request) this.fail(request, error);
  }

  private succeed(request: Request, fd: number): void {
    if (request.done) {
      this.ring.closeFds(Int32Array.of(fd), 1, true);
      return;
    }
    this.finish(request);
    request.resolve(fd);
  }

  private fail(request: Request, error: unknown): void {
    if (request.done) return;
    this.finish(request);
    request.reject(error);
  }

  /** The one place a request becomes settled: it can never settle twice. */
  private finish(request: Request): void {
    request.done = true;
    if (request.onAbort) request.options.signal!.removeEventListener("abort", request.onAbort);
    request.onAbort = undefined;
  }

  /** Hold the event loop open exactly while anything is queued or in the kernel. */
  private holdLoop(): void {
    const active = !this.isClosed && (this.pool.busy > 0 || this.waiting.length > this.waitingHead);
    if (active === this.keepAliveRefd) return;
    this.keepAliveRefd = active;
    if (active) this.keepAlive.ref();
    else this.keepAlive.unref();
  }
}
