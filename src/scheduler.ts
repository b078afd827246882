/**
 * The scheduler: everything between a validated connect and its settlement.
 * Requests wait in FIFO order for a free slot, are encoded into it and
 * staged; once per tick one flush queues the tick's cancels, closes and
 * connects into the backend and submits them together (one io_uring_enter
 * while the queue has room). Work nobody waits on (closes, watches) waits
 * for the end of the event-loop turn unless a flush takes it along, so
 * many callbacks' closes share one submit. Completions, brought by the
 * backend's waker or found right after a submit, are reaped up to the
 * turn's budget, settle their requests exactly once and free their slots
 * for the next waiting requests.
 *
 *   connect ─> waiting (FIFO) ─> staged slot ─┐
 *   cancel ──> cancel of an in-flight slot ───┤
 *   closeFd ─> close (reset or plain) ────────┼─ flush: prepare all, submit once ─> kernel
 *   watch / unwatch of an idle socket ────────┘                                       │
 *   settle once <─ reap (slot, generation, res) <─ wake-up, or right after submit <────┘
 */
import type { Endpoint } from "./address.ts";
import { openBackend, type Backend, type BackendOptions, type SlotOwner } from "./backend/index.ts";
import { ConnectError, ConnectorClosedError, completionErrno } from "./errors.ts";
import { Coalesced } from "./coalesced.ts";
import { DEFAULT_CHECKED_OPTIONS, type CheckedOptions } from "./options.ts";
import { Fifo, IntQueue } from "./queues.ts";
import { ReapBudget, TURN_TARGET_MS } from "./reap-budget.ts";
import { SlotPool, SlotState, type SlotStats } from "./slots.ts";

/**
 * Bounds on the work done in one event-loop turn, so timers and other I/O
 * keep their turn during a storm. On loopback the kernel runs each
 * connect's handshake inside the submit (~15-25 µs each), so connects go
 * out in submits of up to MAX_BATCH until the turn has spent
 * TURN_TARGET_MS (reap-budget.ts); the rest wait until due timers have
 * run. (In a 2,000-connect storm the longest call was 3.8 ms with batches
 * of 128 against 5.7 ms with 256, at the same throughput within noise.)
 * Closes go at most MAX_BATCH per call. Completions are settled up to a
 * learnt budget per turn (reap-budget.ts), the rest in the next turn.
 */
const MAX_BATCH = 128;
/** Watch tags run through 0..2^31-1 before one is used again. */
const TAG_LIMIT = 2 ** 31;

/** Counters for tests and tools: slots by state, the FIFO backlog, and closes not yet done. */
export interface ConnectorStats extends SlotStats {
  /** Requests waiting for a free slot. */
  waiting: number;
  /**
   * Fds given to closeFd (or connected after their caller gave up) whose
   * close has not completed: queued for the next batch, or in a kernel
   * worker. Their fds count against RLIMIT_NOFILE until then.
   */
  closing: number;
}

/**
 * One connect, from hand-off to settlement; it owns its slot while it holds
 * one. `start` returns it, so its starter can `cancel` it.
 */
export class ConnectRequest implements SlotOwner {
  /** Which endpoint is being tried; the next is tried when one fails. */
  attempt = 0;
  /** The slot it holds, or -1 while it waits for one. */
  slot = -1;
  /** Settled (resolved or rejected): it never settles again. */
  done = false;
  onAbort: (() => void) | undefined = undefined;

  constructor(
    public endpoints: readonly Endpoint[],
    public options: CheckedOptions,
    readonly resolve: (fd: number) => void,
    readonly reject: (error: unknown) => void,
  ) {}

  get peer(): Endpoint {
    return this.endpoints[this.attempt]!;
  }

  get local(): Endpoint | undefined {
    return this.options.local;
  }
}

/** How `dial` settles a connect: `(null, fd)`, or `(error, -1)`. */
export type ConnectCallback = (error: unknown, fd: number) => void;

const NO_ENDPOINTS: readonly Endpoint[] = [];
const ignoreSettlement: ConnectCallback = () => {};

/**
 * Settled dials' callbacks, run together in one microtask after the reap or
 * flush that settled them, never inside the scheduler's own loops (a
 * callback may dial, close fds, close the Connector or throw). Reused
 * arrays: nothing is allocated per connect.
 */
class SettledCallbacks {
  private readonly callbacks: ConnectCallback[] = [];
  private readonly errors: unknown[] = [];
  private readonly fds: number[] = [];
  private length = 0;
  private readonly drainSoon = new Coalesced("tick", () => this.drain());

  push(callback: ConnectCallback, error: unknown, fd: number): void {
    this.callbacks[this.length] = callback;
    this.errors[this.length] = error;
    this.fds[this.length] = fd;
    this.length++;
    this.drainSoon.queue();
  }

  /** Run them in order; one that throws is reported as an uncaught error, and the rest still run. */
  private drain(): void {
    // Callbacks run here may settle more (a close() rejects what was pending): they join this loop.
    for (let i = 0; i < this.length; i++) {
      const callback = this.callbacks[i]!;
      const error = this.errors[i];
      this.callbacks[i] = ignoreSettlement;
      this.errors[i] = null;
      try {
        callback(error, this.fds[i]!);
      } catch (thrown) {
        queueMicrotask(() => {
          throw thrown;
        });
      }
    }
    this.length = 0;
  }
}

/**
 * A request of `dial`, settling through one callback. One without a signal
 * (nothing outside the scheduler holds it) goes back to its scheduler's
 * spares as it settles, so a hot loop of dials allocates nothing: its two
 * settle functions are made once per object, not per connect.
 */
class DialRequest extends ConnectRequest {
  callback: ConnectCallback = ignoreSettlement;
  /** In its scheduler's spares, waiting for its next dial. */
  private spare = false;

  constructor(
    private readonly settled: SettledCallbacks,
    private readonly spares: DialRequest[] | undefined,
  ) {
    super(
      NO_ENDPOINTS,
      DEFAULT_CHECKED_OPTIONS,
      (fd) => this.settle(null, fd),
      (error) => this.settle(error, -1),
    );
  }

  /** Ready for a new connect. */
  reuse(endpoints: readonly Endpoint[], options: CheckedOptions, callback: ConnectCallback): this {
    this.endpoints = endpoints;
    this.options = options;
    this.callback = callback;
    this.attempt = 0;
    this.slot = -1;
    this.done = false;
    this.spare = false;
    return this;
  }

  /**
   * Called once the scheduler is done with it (its slot freed, out of the
   * FIFO): back to the spares, its callback queued to run after the
   * scheduler's work. (Were it ever called twice, the callback would hear
   * it twice, as the soak's count of settlements would show; the spares
   * would not.)
   */
  private settle(error: unknown, fd: number): void {
    if (this.spares && !this.spare && this.spares.length < MAX_SPARE_REQUESTS) {
      this.spare = true;
      this.spares.push(this);
    }
    this.settled.push(this.callback, error, fd);
  }
}

/** Spare dial requests kept per scheduler: more than any burst needs, bounded. */
const MAX_SPARE_REQUESTS = 4096;

/**
 * Runs connects on one backend: FIFO admission to a fixed pool of slots,
 * one flush per tick, reaping, settling each request exactly once, and
 * holding the event loop open exactly while work is queued or in flight.
 */
export class Scheduler {
  private readonly pool: SlotPool<ConnectRequest>;
  /** The backend the slots' connects run on. */
  readonly backend: Backend;
  /** Requests waiting for a free slot, oldest first. */
  private readonly waiting = new Fifo<ConnectRequest>();
  /** Pending slots, in order, to prepare in the next flush. */
  private readonly staged: IntQueue;
  /** In-flight slots whose callers gave up, to cancel in the next flush. */
  private readonly cancels: IntQueue;
  /** Fds to close in the next flush, with RST and with FIN. */
  private readonly resetCloses = new IntQueue(256);
  private readonly plainCloses = new IntQueue(256);
  /** Watches to arm in the next flush, as (fd, tag) pairs; and those to end. */
  private readonly watchQueue = new IntQueue(256);
  private readonly unwatchQueue = new IntQueue(256);
  /** Each watch not yet ended, by tag: what its event goes to, and whether its poll went to the backend. */
  private readonly watches = new Map<number, { onEvent: (res: number) => void; armed: boolean }>();
  private nextTag = 0;
  /**
   * The tick's one flush; and a flush at the end of the event-loop turn, for
   * work that is not urgent (closes, watches) and for what a flush left
   * (more than a batch staged, or the queue stayed full). An earlier flush
   * takes that work along.
   */
  private readonly flushSoon = new Coalesced("tick", () => this.flush());
  private readonly flushLater = new Coalesced("turn", () => {
    this.beginTurn(performance.now());
    if (this.hasQueuedWork()) this.flush();
  });
  /**
   * When this turn's connect work began (ms; 0: not yet). A flush reaps,
   * its callers connect again in microtasks, and that flush reaps in turn:
   * the chain never yields to the event loop on its own, so once a turn
   * has spent TURN_TARGET_MS, staged connects wait until timers have run
   * (in Bun an immediate queued from an immediate's microtasks can run
   * before due timers do; a timer queued now runs behind them). A batch
   * or less, the first of its turn, goes out whatever the clock says:
   * connects started together go out together.
   */
  private turnStartedAt = 0;
  private turnSubmittedConnects = false;
  /** A flush for the connects a turn had no room for, once due timers have run. */
  private readonly flushAfterTimers = new Coalesced("timers", () => {
    this.beginTurn(performance.now());
    this.flush();
  });
  /** After a turn that reaped: learn from it, and settle what it left. */
  private readonly turnEnd = new Coalesced("turn", () => this.endTurn());
  /** The kernel refused the last submit (EBUSY, EAGAIN): what is queued goes at the next flush. */
  private submitBlocked = false;
  private readonly reapBudget = new ReapBudget();
  /** Settled dial requests, ready for the next dial (see DialRequest). */
  private readonly spareRequests: DialRequest[] = [];
  private readonly settledCallbacks = new SettledCallbacks();
  /** A reap stopped at the turn's budget: completions wait for the next turn. */
  private reapCutShort = false;
  private isClosed = false;
  private readonly keepAlive: ReturnType<typeof setInterval>;
  private keepAliveRefd = false;

  /**
   * A scheduler of `capacity` slots over a backend opened with `options`.
   * Throws NativeUnavailableError when no backend can run.
   */
  constructor(capacity: number, options: BackendOptions) {
    this.pool = new SlotPool<ConnectRequest>(capacity);
    this.backend = openBackend(this.pool, options);
    this.staged = new IntQueue(capacity);
    this.cancels = new IntQueue(capacity);
    // A timer holds the event loop open only while work is in flight.
    this.keepAlive = setInterval(() => {}, 1 << 30);
    this.keepAlive.unref();
    this.backend.startWaker(() => this.onWake());
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Connect to the first of `endpoints` that accepts, in order; resolves
   * with the connected fd. Rejects with ConnectError for the last endpoint's
   * failure, the signal's reason on abort, or ConnectorClosedError.
   */
  connect(endpoints: readonly Endpoint[], options: CheckedOptions): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.start(endpoints, options, resolve, reject);
    });
  }

  /**
   * Start a connect as `connect` does, settling through callbacks instead
   * of a promise: exactly one of them is called, once, never before this
   * returns. Returns the request, for `cancel`.
   */
  start(endpoints: readonly Endpoint[], options: CheckedOptions, resolve: (fd: number) => void, reject: (error: unknown) => void): ConnectRequest {
    return this.begin(new ConnectRequest(endpoints, options, resolve, reject));
  }

  /**
   * Start a connect as `start` does, settling through `callback` (see
   * ConnectCallback): exactly once, never before this returns. Without a
   * signal nothing outside holds the request, so it is reused once settled.
   */
  dial(endpoints: readonly Endpoint[], options: CheckedOptions, callback: ConnectCallback): void {
    const spares = options.signal ? undefined : this.spareRequests;
    const request = spares?.pop() ?? new DialRequest(this.settledCallbacks, spares);
    this.begin(request.reuse(endpoints, options, callback));
  }

  /** Cancel `request` when its signal fires, and queue it for a slot. */
  private begin<R extends ConnectRequest>(request: R): R {
    const signal = request.options.signal;
    if (signal) {
      request.onAbort = () => this.cancel(request, signal.reason);
      signal.addEventListener("abort", request.onAbort, { once: true });
    }
    this.enqueue(request);
    return request;
  }

  /**
   * Give up on a started request: it rejects with `reason` now, and its
   * connect is cancelled through the ring (a socket that connects anyway is
   * closed when its completion arrives). Nothing happens once it has settled.
   */
  cancel(request: ConnectRequest, reason: unknown): void {
    if (request.done) return;
    this.reject(request, reason);
    const slot = request.slot;
    if (slot < 0 || this.pool.owner(slot) !== request) return; // waiting: pump skips it
    if (this.pool.state(slot) === SlotState.InFlight) {
      this.pool.move(slot, SlotState.Orphaned);
      this.cancels.push(slot);
      this.flushSoon.queue();
    }
    // Pending: the next flush frees the slot without opening anything.
  }

  /**
   * Close `fd` in the next flush, or here and now once closed. A close is
   * not urgent: it waits for the end of the event-loop turn (or rides with
   * an earlier flush), so the closes of many callbacks share one submit.
   */
  closeFd(fd: number, reset: boolean): void {
    if (this.isClosed) {
      this.backend.closeNow(Int32Array.of(fd), reset);
      return;
    }
    (reset ? this.resetCloses : this.plainCloses).push(fd);
    this.flushLater.queue();
  }

  /**
   * Watch the connected socket `fd` (see Backend.prepareWatches): `onEvent` is
   * called once, with poll revents (> 0) when it becomes readable, its peer
   * closes it or it fails, or with -errno when the watch could not be set
   * up. Returns the watch's tag, for `unwatch`; -1 once closed (no watch).
   * The fd must stay open until the watch is unwatched or has fired.
   */
  watch(fd: number, onEvent: (res: number) => void): number {
    if (this.isClosed) return -1;
    const tag = this.nextTag;
    this.nextTag = (this.nextTag + 1) % TAG_LIMIT;
    this.watches.set(tag, { onEvent, armed: false });
    this.watchQueue.push(fd);
    this.watchQueue.push(tag);
    // Not urgent either: the watch goes out at the end of the turn, like a close.
    this.flushLater.queue();
    return tag;
  }

  /** End a watch: its event is never delivered. A poll's removal goes ahead of the closes of its batch. */
  unwatch(tag: number): void {
    const watch = this.watches.get(tag);
    if (!watch) return;
    this.watches.delete(tag);
    if (!watch.armed) {
      // Never armed: the flush skips it. Taken off the queue now when it is
      // the last one queued (an acquire right after a release), so a loop
      // that never yields to the event loop does not grow the queue.
      const queued = this.watchQueue.head();
      if (queued[queued.length - 1] === tag) this.watchQueue.length -= 2;
      return;
    }
    // Armed: its poll is removed (an armed poll reads nothing, so this too
    // can wait for the turn's end).
    this.unwatchQueue.push(tag);
    this.flushLater.queue();
  }

  stats(): ConnectorStats {
    return { ...this.pool.stats(), waiting: this.waiting.length, closing: this.closing };
  }

  /** Fds whose close has not completed: queued here, or in the backend. */
  get closing(): number {
    return this.resetCloses.length + this.plainCloses.length + this.backend.closing();
  }

  /**
   * Reject all unfinished work with ConnectorClosedError, close every fd
   * not handed out and every fd queued for closing, and shut the backend
   * down (which waits for the closes already in the kernel). Safe to call twice.
   */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    const error = new ConnectorClosedError();
    for (const request of this.waiting.drain()) this.reject(request, error);
    this.staged.clear();
    this.cancels.clear();
    for (const slot of this.pool.slotsIn(SlotState.Pending)) this.release(slot, error);
    // No flush comes after this one: the closes of this tick happen now.
    this.backend.closeNow(this.resetCloses.head(), true);
    this.backend.closeNow(this.plainCloses.head(), false);
    this.resetCloses.clear();
    this.plainCloses.clear();
    this.watches.clear();
    this.watchQueue.clear();
    this.unwatchQueue.clear();
    const inKernel = [...this.pool.slotsIn(SlotState.InFlight), ...this.pool.slotsIn(SlotState.Orphaned)];
    this.backend.shutdown(inKernel);
    for (const slot of inKernel) this.release(slot, error);
    clearInterval(this.keepAlive);
  }

  /** Stage the request if a slot is free and nobody is ahead of it; else wait (FIFO). */
  private enqueue(request: ConnectRequest): void {
    if (this.waiting.length === 0 && this.stage(request)) return;
    this.waiting.push(request);
    this.holdLoop();
  }

  private stage(request: ConnectRequest): boolean {
    const slot = this.pool.acquire(request);
    if (slot < 0) return false;
    const { options } = request;
    request.slot = slot;
    this.pool.write(slot, request.peer, options.local, options.flags, options.timeoutMs);
    this.staged.push(slot);
    this.startTurn();
    this.flushSoon.queue();
    return true;
  }

  /** Move waiting requests into free slots, oldest first; those settled while waiting are dropped. */
  private pump(): void {
    for (let request = this.waiting.peek(); request; request = this.waiting.peek()) {
      if (!request.done && !this.stage(request)) break;
      this.waiting.shift();
    }
  }

  /**
   * The tick's one flush: queue the cancels, the closes and a batch of
   * connects, then submit them all at once. It submits again while the
   * queue was full, or while connects are staged and the turn has room.
   */
  private flush(): void {
    if (this.isClosed) return;
    this.staged.retain(this.keepUnsettled);
    this.dropEndedWatches();
    let unsubmitted = this.submitBlocked;
    let submitted = 0;
    for (;;) {
      // Cancels and closes first: they free kernel work and fds the connects
      // may need; unwatches before closes, so no poll holds a closed socket.
      let queued = this.cancels.feed(this.prepareCancels);
      queued += this.unwatchQueue.feed(this.prepareUnwatches);
      // At most a batch per call: where the ring cannot set SO_LINGER, each
      // reset close calls setsockopt first, and a turn's closes in one call
      // held the thread ~10 ms in a storm.
      queued += this.resetCloses.feed(this.prepareResetCloses, MAX_BATCH);
      queued += this.plainCloses.feed(this.preparePlainCloses, MAX_BATCH);
      queued += this.prepareWatches();
      if (this.mayPrepareConnects()) {
        const connects = this.prepareConnects(Math.min(this.staged.length, MAX_BATCH));
        if (connects > 0) this.turnSubmittedConnects = true;
        queued += connects;
      }
      if (queued > 0) unsubmitted = true;
      if (!unsubmitted) break;
      const ret = this.backend.submit();
      // EBUSY/EAGAIN: the kernel wants completions reaped first; the next
      // wake-up flushes again, or a timer does when nothing is in the kernel.
      this.submitBlocked = ret < 0;
      if (this.submitBlocked) break;
      submitted += ret;
      unsubmitted = false;
      if (queued === 0) break;
      if (!this.hasQueuedWork(false) && !this.mayPrepareConnects()) break;
    }
    if (this.submitBlocked) {
      const { inFlight, orphaned } = this.pool.stats();
      if (inFlight + orphaned === 0) setTimeout(() => this.flush(), 1);
    } else if (this.staged.length > 0) {
      // Left only when the turn had no room for them.
      this.flushAfterTimers.queue();
    } else if (this.hasQueuedWork()) {
      this.flushLater.queue();
    }
    // On loopback a connect often completes before io_uring_enter returns
    // (its task work runs on the way out): settle those now rather than a
    // thread hop later, within the turn's budget (each round's callers
    // start new connects in microtasks; an unbounded chain would starve
    // timers and I/O). An empty round counts one, so the chain ends.
    if (submitted > 0) this.reapInTurn(1);
    this.holdLoop();
  }

  /**
   * A turn's clock starts with its first staged connect: a caller that
   * starts thousands in one loop has held the thread already, and their
   * submits wait until timers have run.
   */
  private startTurn(): void {
    if (this.turnStartedAt !== 0) return;
    this.beginTurn(performance.now());
    this.turnEnd.queue();
  }

  /** A new turn's clock (`now`), or none yet (0): nothing submitted in it so far. */
  private beginTurn(now: number): void {
    this.turnStartedAt = now;
    this.turnSubmittedConnects = false;
  }

  /**
   * Whether staged connects may go out now: while the turn has room, or a
   * batch or less as the turn's first.
   */
  private mayPrepareConnects(): boolean {
    if (this.staged.length === 0) return false;
    this.startTurn();
    if (performance.now() - this.turnStartedAt < TURN_TARGET_MS) return true;
    return !this.turnSubmittedConnects && this.staged.length <= MAX_BATCH;
  }

  // The flush's calls into the backend, made once (a closure per flush would allocate each time).
  private readonly prepareCancels = (ids: Int32Array) => this.backend.prepareCancels(ids);
  private readonly prepareUnwatches = (tags: Int32Array) => this.backend.prepareUnwatches(tags);
  private readonly prepareResetCloses = (fds: Int32Array) => this.backend.prepareCloses(fds, true);
  private readonly preparePlainCloses = (fds: Int32Array) => this.backend.prepareCloses(fds, false);

  /** Slots whose callers gave up before the batch went out are freed unopened. */
  private readonly keepUnsettled = (slot: number): boolean => {
    if (!this.pool.owner(slot)!.done) return true;
    this.pool.move(slot, SlotState.Free);
    return false;
  };

  /**
   * Prepare up to `limit` staged slots; returns how many the backend took.
   * Each taken slot is in flight, or failed before reaching the kernel (its
   * socket could not open) and then tries its request's next endpoint.
   */
  private prepareConnects(limit: number): number {
    if (limit === 0) return 0;
    const ids = this.staged.head(limit);
    const taken = this.backend.prepareConnects(ids);
    let failed: number[] | undefined;
    for (let i = 0; i < taken; i++) {
      const slot = ids[i]!;
      if (this.pool.prepResult(slot) < 0) (failed ??= []).push(slot);
      else this.pool.move(slot, SlotState.InFlight);
    }
    // Off the staged queue before a failed request retries: a retry stages again.
    this.staged.drop(taken);
    if (failed) for (const slot of failed) this.completeFailed(slot, -this.pool.prepResult(slot));
    return taken;
  }

  /** Arm the queued watches; returns how many the backend took. */
  private prepareWatches(): number {
    if (this.watchQueue.length === 0) return 0;
    const pairs = this.watchQueue.head();
    const taken = this.backend.prepareWatches(pairs);
    for (let i = 1; i < 2 * taken; i += 2) {
      const watch = this.watches.get(pairs[i]!);
      if (watch) watch.armed = true;
    }
    this.watchQueue.drop(taken * 2);
    return taken;
  }

  /** Watches ended before they were armed leave the queue unarmed: their fd may be closed, or another socket's by now. */
  private dropEndedWatches(): void {
    const pairs = this.watchQueue.head();
    let kept = 0;
    for (let i = 0; i < pairs.length; i += 2) {
      if (!this.watches.has(pairs[i + 1]!)) continue;
      pairs[kept++] = pairs[i]!;
      pairs[kept++] = pairs[i + 1]!;
    }
    this.watchQueue.length = kept;
  }

  /** Anything queued for the backend; `staged`: connects count too. */
  private hasQueuedWork(staged = true): boolean {
    const queued = this.cancels.length + this.unwatchQueue.length + this.resetCloses.length + this.plainCloses.length + this.watchQueue.length;
    return queued + (staged ? this.staged.length : 0) > 0;
  }

  private onWake(): void {
    if (this.isClosed) return;
    this.beginTurn(performance.now());
    this.reapInTurn(0);
    // Settled callers' next connects and closes join this flush: it runs after their microtasks.
    if (this.submitBlocked) this.flushSoon.queue();
    this.holdLoop();
  }

  /**
   * Settle posted completions, as many as the turn's budget has room for,
   * and give freed slots to waiters; what is left waits for the next turn.
   * A reap that finds nothing counts `emptyCost` against the budget.
   */
  private reapInTurn(emptyCost: number): void {
    const room = this.reapBudget.room();
    const reaped = room > 0 ? this.backend.reap(this.settleCompletion, room) : 0;
    if (reaped > 0) this.pump();
    this.reapBudget.add(reaped || emptyCost, performance.now());
    if (reaped === room) this.reapCutShort = true;
    this.turnEnd.queue();
  }

  /** The turn ended: the budget learns from it, and what it left is settled now. */
  private endTurn(): void {
    this.beginTurn(0);
    const cutShort = this.reapCutShort;
    this.reapCutShort = false;
    this.reapBudget.endTurn(cutShort, performance.now());
    if (cutShort && !this.isClosed) this.onWake();
  }

  private readonly settleCompletion = (slot: number, generation: number, res: number): void => {
    if (slot < 0) return this.settleWatch(generation, res);
    if (generation !== this.pool.generation(slot)) return;
    const state = this.pool.state(slot);
    if (state === SlotState.Orphaned) {
      // The caller gave up; a socket that connected anyway is closed in the next flush.
      const fd = this.pool.takeFd(slot);
      if (res >= 0 && fd >= 0) this.closeFd(fd, true);
      this.pool.move(slot, SlotState.Free);
      return;
    }
    if (state !== SlotState.InFlight) return;
    // In flight means its request has not settled: cancel and close take the
    // slot out of InFlight in the same step as they settle the request.
    const request = this.pool.owner(slot)!;
    if (res >= 0) {
      const fd = this.pool.takeFd(slot);
      this.pool.move(slot, SlotState.Free);
      this.finish(request);
      request.resolve(fd);
    } else {
      this.completeFailed(slot, completionErrno(res, request.options.timeoutMs > 0));
    }
  };

  /** A watch's completion: its event, once, unless it was unwatched first. */
  private settleWatch(tag: number, res: number): void {
    const watch = this.watches.get(tag);
    if (!watch) return;
    this.watches.delete(tag);
    watch.onEvent(res);
  }

  /** A slot's connect failed with `errno`: free the slot, then try the next endpoint or reject. */
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
    const endpoint = request.peer;
    this.reject(request, new ConnectError({ errno, address: endpoint.address, port: endpoint.port }));
  }

  /** Reject a request that holds `slot` and free the slot (close only). */
  private release(slot: number, error: Error): void {
    const request = this.pool.owner(slot);
    if (this.pool.state(slot) === SlotState.InFlight) this.pool.move(slot, SlotState.Orphaned);
    this.pool.move(slot, SlotState.Free);
    if (request) this.reject(request, error);
  }

  /** Reject unless already settled: the one path for every rejection. */
  private reject(request: ConnectRequest, error: unknown): void {
    if (request.done) return;
    this.finish(request);
    request.reject(error);
  }

  /** The one place a request becomes settled: it can never settle twice. */
  private finish(request: ConnectRequest): void {
    request.done = true;
    if (request.onAbort) request.options.signal!.removeEventListener("abort", request.onAbort);
    request.onAbort = undefined;
  }

  /** Hold the event loop open exactly while anything is queued or in the kernel. */
  private holdLoop(): void {
    const active = !this.isClosed && (this.pool.busy > 0 || this.waiting.length > 0);
    if (active === this.keepAliveRefd) return;
    this.keepAliveRefd = active;
    if (active) this.keepAlive.ref();
    else this.keepAlive.unref();
  }
}
