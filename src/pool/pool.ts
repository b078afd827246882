/**
 * A warm pool of connections to one target, opened in batches through a
 * Connector: `min` at once when the pool starts, and on a burst the whole
 * deficit in one submit, instead of one connect per request.
 *
 *   plan (once per tick) ─ connects: the deficit, in one batch ─> connected ─┬─> a waiting acquire
 *                                                                            └─> idle (watched) ─> acquire
 *   release ─> a waiting acquire, or idle;  ended / dead / past maxLifetime ─> closed
 *   failure ─> waiters without a connect on its way and ready() reject with it;
 *              back off, then probe one connect at a time (backoff.ts)
 *
 * Sizing: the pool wants `target` connections open (idle, busy and
 * connecting): busy + waiting + ceil(preconnect x recent demand), at least
 * `min`, at most `max`. Recent demand is the most connections wanted at
 * once (busy + waiting) over the last one to two seconds (demand.ts), so
 * `preconnect` keeps that many idle connections ready per connection in
 * recent use, as Envoy's preconnect ratio does (Envoy's ratio is 1 + this).
 * Whatever is missing is opened in one batch per tick; idle connections
 * beyond `target` close after `idleTimeout`.
 */
import type { Socket } from "bun";
import type net from "node:net";
import { parseTarget, type Target } from "../address.ts";
import { Coalesced } from "../coalesced.ts";
import type { Connector } from "../connector.ts";
import { codeErrno, ConnectError, invalidValue, PoolClosedError, PoolQueueFullError } from "../errors.ts";
import { sharedConnector } from "../index.ts";
import { Alarm } from "./alarm.ts";
import { Backoff } from "./backoff.ts";
import { PooledConnection } from "./connection.ts";
import { DEMAND_WINDOW_MS, RecentDemand } from "./demand.ts";
import { IdleConnections } from "./idle.ts";
import { leaseBunSocket, leaseNetSocket, type Lease } from "./lease.ts";
import { Loans } from "./loans.ts";
import {
  checkAcquireOptions,
  checkNetAcquireOptions,
  checkPoolOptions,
  checkSocketAcquireOptions,
  type AcquireOptions,
  type CheckedPoolOptions,
  type NetAcquireOptions,
  type PoolOptions,
  type SocketAcquireOptions,
} from "./options.ts";
import { WaitQueue } from "./waiters.ts";

/** A Pool's counters: connections by state now, and totals since it started. */
export interface PoolStats {
  /** Open and not handed out. */
  idle: number;
  /** Handed out and not yet released. */
  busy: number;
  /** Connects in flight. */
  connecting: number;
  /** Acquires waiting for a connection. */
  waiting: number;
  /** Connects that succeeded. */
  opened: number;
  /** Connections the pool closed (released ended, died idle, past a limit, trimmed, at close()). */
  closed: number;
  /** Connects that failed, and new connections the peer closed at once (see Pool). */
  failed: number;
}

/** What the pool hands out and takes back: an fd from acquireFd, or a socket from acquire/acquireNet. */
export type PoolHandle = number | Socket<any> | net.Socket;

/** A connection the peer closes this soon after it opened, unused, counts as a failed connect. */
const CHURN_AGE_MS = 1000;
/** Each connection's lifetime is maxLifetime less up to this fraction, at random. */
const LIFETIME_JITTER = 0.1;

/**
 * A warm pool of connections to one target.
 *
 * Notes: connections are opened through a Connector, `min` at once and each
 * burst's deficit in one batch (up to 128 per submit); handed out as the fd
 * (`acquireFd`), a Bun socket (`acquire`) or a net.Socket (`acquireNet`);
 * and taken back by `release` for reuse. An idle connection is watched
 * through the Connector's ring (one poll each, armed and removed in the
 * batch at the end of the event-loop turn; no extra fd), so one its peer
 * closed is dropped as soon as that is seen and never handed out. When the
 * target fails, ready() and acquires with no connect on its way reject at
 * once with the ConnectError, and the
 * pool backs off (exponentially, with jitter) before it tries again, one
 * connect at a time; a target that accepts and at once closes new
 * connections counts as failing (ECONNRESET). Nothing the pool holds keeps
 * the process alive while no acquire waits. Bun turns TCP_NODELAY on for
 * every socket it adopts, so connections handed out as Bun sockets or
 * net.Sockets have it on whatever `noDelay` says.
 */
export class Pool {
  /** The target every connection goes to. */
  readonly target: Target;
  private readonly options: CheckedPoolOptions;
  private readonly connector: () => Connector;
  private readonly idle = new IdleConnections((dead) => this.idleDied(dead));
  private readonly loans = new Loans();
  private connecting = 0;
  private readonly waiters = new WaitQueue();
  private readyWaiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  private readonly counts = { opened: 0, closed: 0, failed: 0 };
  private readonly backoff = new Backoff();
  private readonly demand = new RecentDemand();
  private readonly sweepAlarm = new Alarm(() => this.sweep());
  private readonly probeAlarm = new Alarm(() => this.plan());
  /** Cancels every connect in flight at close(). */
  private readonly abort = new AbortController();
  /** A plan at the end of this tick (acquires wait), or of this event-loop turn (a refill). */
  private readonly planSoon = new Coalesced("tick", () => this.plan());
  private readonly planLater = new Coalesced("turn", () => this.plan());
  private isClosed = false;

  /**
   * Starts opening `min` connections (in the next microtask, as one batch).
   *
   * Throws TypeError/RangeError for a bad target or option (before anything
   * is opened), and NativeUnavailableError when the shared Connector cannot
   * start.
   */
  constructor(target: Target, options?: PoolOptions) {
    parseTarget(target);
    this.options = checkPoolOptions(options);
    this.target = "unix" in target ? { unix: target.unix } : { host: target.host, port: target.port };
    this.connector = this.options.connector ?? sharedConnector;
    // Start the shared Connector now, so a machine without io_uring fails here, not at the first acquire.
    this.connector();
    this.queuePlan();
  }

  /**
   * Resolves once `min` connections are open. Rejects with the ConnectError
   * (or DNS error) of a failed connect, at once while the pool is backing
   * off, and with PoolClosedError after close().
   */
  ready(): Promise<void> {
    if (this.isClosed) return Promise.reject(new PoolClosedError());
    if (this.open >= this.options.min) return Promise.resolve();
    if (this.backoff.failingFast(performance.now())) return Promise.reject(this.backoff.error);
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /**
   * A connection's fd, the caller's to use until it gives it back with
   * `release(fd)` (or `destroy(fd)`); it must not close it. The fd is
   * non-blocking (Bun sets O_NONBLOCK when it adopts a duplicate).
   *
   * Rejects with: the target's ConnectError when no connection is idle, the
   * target is failing and no connect is on its way (fail-fast);
   * PoolAcquireTimeoutError (code ETIMEDOUT) after `acquireTimeout`;
   * PoolQueueFullError when `maxWaiting` acquires wait already; the signal's
   * reason on abort; PoolClosedError; a TypeError for bad options.
   */
  acquireFd(options?: AcquireOptions): Promise<number> {
    try {
      return this.checkout(checkAcquireOptions(options)).then((connection) => {
        this.loans.lend(connection, connection.fd, undefined);
        return connection.fd;
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * A connection as a Bun socket with `options.socket` handlers (its `open`
   * handler runs, as for `Connector.connect`). `release(socket)` closes the
   * socket object (its close handler runs) and keeps the connection; a
   * socket that closes first (`end()`, or its peer ended it) is dropped.
   *
   * Rejects as acquireFd does, with a TypeError for bad handlers before
   * anything is taken, and AdoptUnsupportedError when this Bun cannot adopt.
   */
  async acquire<Data = undefined>(options: SocketAcquireOptions<Data>): Promise<Socket<Data>> {
    const connection = await this.checkout(checkSocketAcquireOptions(options));
    try {
      return await leaseBunSocket(
        connection.fd,
        options.socket,
        options.data,
        (lease) => this.loans.lend(connection, lease.wrapper, lease),
        () => this.lost(connection),
      );
    } catch (error) {
      // Not adopted: the connection itself is untouched.
      if (connection.leaseKey === undefined) this.checkin(connection, true);
      throw error;
    }
  }

  /**
   * A connection as a connected net.Socket (`connecting` false): a new one,
   * or `options.into` (unconnected; it emits 'connect' and 'ready'). It is
   * the caller's until `release(socket)`, which destroys the socket object
   * and keeps the connection; a socket ended or destroyed first is dropped.
   *
   * Rejects as acquireFd does, and with the dup's error (EMFILE) when no fd
   * is free for the socket.
   */
  async acquireNet(options?: NetAcquireOptions): Promise<net.Socket> {
    const { signal, into } = checkNetAcquireOptions(options);
    const connection = await this.checkout(signal);
    let lease: Lease<net.Socket>;
    try {
      lease = leaseNetSocket(connection.fd, () => this.lost(connection), into);
    } catch (error) {
      this.checkin(connection, true);
      throw error;
    }
    this.loans.lend(connection, lease.wrapper, lease);
    return lease.wrapper;
  }

  /**
   * Take back what an acquire gave, for reuse; the caller vouches that the
   * connection is between requests. A socket that was ended, destroyed or
   * failed, a connection past `maxLifetime` or seen dead, and anything after
   * close(), is closed instead. Releasing a socket already dropped or
   * released is a no-op.
   * Throws TypeError for an fd or object this pool has not handed out.
   */
  release(handle: PoolHandle): void {
    this.giveBack(handle, true);
  }

  /**
   * Take back what an acquire gave and close the connection (after a
   * protocol error, say). Same rules as release otherwise.
   */
  destroy(handle: PoolHandle): void {
    this.giveBack(handle, false);
  }

  /** Counters: connections idle, busy and connecting, acquires waiting, and totals opened, closed and failed. */
  stats(): PoolStats {
    return {
      idle: this.idle.length,
      busy: this.loans.count,
      connecting: this.connecting,
      waiting: this.waiters.length,
      ...this.counts,
    };
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Reject every waiting acquire and ready() with PoolClosedError, cancel
   * the connects in flight (the Connector closes their sockets) and close
   * every idle connection. Busy connections stay with their holders and
   * are closed when released. Safe to call twice.
   */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    const error = new PoolClosedError();
    this.abort.abort(error);
    this.sweepAlarm.cancel();
    this.probeAlarm.cancel();
    this.waiters.rejectAll(error);
    this.settleReady(error);
    for (const connection of this.idle.drain()) this.closeConnection(connection);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** Connections open: idle and busy. */
  private get open(): number {
    return this.idle.length + this.loans.count;
  }

  /** How many connections the pool wants open now (see the file comment). */
  private targetSize(now: number): number {
    const { min, max, preconnect } = this.options;
    const headroom = Math.ceil(preconnect * this.demand.peak(now));
    return Math.min(max, Math.max(min, this.loans.count + this.waiters.length + headroom));
  }

  /** A connection for an acquire: an idle one now, or a wait for one. */
  private checkout(signal: AbortSignal | undefined): Promise<PooledConnection> {
    if (this.isClosed) return Promise.reject(new PoolClosedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    const now = performance.now();
    const idle = this.waiters.length === 0 ? this.takeIdle(now) : undefined;
    if (idle) {
      this.demand.observe(this.loans.count, now);
      this.queuePlan();
      return Promise.resolve(idle);
    }
    // Fail fast: nothing idle, the target failing, and no connect on its way for this acquire.
    if (this.backoff.failingFast(now) && this.connecting <= this.waiters.length) return Promise.reject(this.backoff.error);
    const { maxWaiting, acquireTimeout } = this.options;
    if (this.waiters.length >= maxWaiting) return Promise.reject(new PoolQueueFullError(maxWaiting));
    const waiting = this.waiters.wait(acquireTimeout, signal);
    this.demand.observe(this.loans.count + this.waiters.length, now);
    this.queuePlan();
    if (!signal) return waiting;
    // Served, then aborted before the acquire resumed: the caller has gone, the connection goes back.
    return waiting.then((connection) => {
      if (!signal.aborted) return connection;
      this.checkin(connection, true);
      throw signal.reason;
    });
  }

  /** The most recently idle connection still within its lifetime, marked busy. */
  private takeIdle(now: number): PooledConnection | undefined {
    const connection = this.idle.take(now, (expired) => {
      this.closeConnection(expired);
      this.queuePlan();
    });
    if (!connection) return undefined;
    this.markBusy(connection);
    connection.unwatch();
    return connection;
  }

  private markBusy(connection: PooledConnection): void {
    this.loans.checkOut(connection);
    this.backoff.proven();
  }

  private giveBack(handle: PoolHandle, reuse: boolean): void {
    const loan = this.loans.takeBack(handle);
    if (loan === "returned") return;
    if (!loan) throw invalidValue("handle", "an fd or socket this Pool handed out and has not taken back", handle);
    const reusable = loan.lease ? loan.lease.end() : true;
    this.checkin(loan.connection, reuse && reusable);
  }

  /** The wrapper closed by itself (the caller or the peer ended it): the connection goes. */
  private lost(connection: PooledConnection): void {
    if (this.loans.close(connection)) this.checkin(connection, false);
  }

  /** A busy connection comes back: reused when it may be, else closed. */
  private checkin(connection: PooledConnection, reusable: boolean): void {
    this.loans.checkIn();
    if (this.isClosed || !reusable || connection.dead || performance.now() >= connection.expiresAt) {
      this.closeConnection(connection);
      this.queuePlan();
      return;
    }
    this.offer(connection);
  }

  /** An open connection is free: the oldest waiting acquire gets it, or it goes idle, watched. */
  private offer(connection: PooledConnection): void {
    if (this.waiters.length > 0) {
      this.markBusy(connection);
      this.waiters.serve(connection);
      return;
    }
    const now = performance.now();
    this.idle.push(connection, now);
    // Earlier idle connections' deadlines are already set; this one's are the latest.
    const { idleTimeout } = this.options;
    this.sweepAlarm.setBy(Math.min(connection.expiresAt, idleTimeout > 0 ? now + idleTimeout : Infinity));
  }

  /** The watch saw the peer close (or write to) an idle connection, now out of the idle stack. */
  private idleDied(connection: PooledConnection): void {
    this.closeConnection(connection);
    const now = performance.now();
    // A target that accepts and at once closes must not be reconnected in a loop.
    if (!connection.used && now - connection.openedAt < CHURN_AGE_MS) {
      this.counts.failed++;
      const where = "unix" in this.target ? { address: this.target.unix } : { address: this.target.host, port: this.target.port };
      this.failed(new ConnectError({ errno: codeErrno("ECONNRESET")!, ...where }), connection.round);
    }
    this.queuePlan();
  }

  private closeConnection(connection: PooledConnection): void {
    connection.close();
    this.counts.closed++;
  }

  /**
   * Plan after every acquire and release of the tick: one batch of connects.
   * With acquires waiting, at the end of this tick; otherwise (a refill to
   * keep idle connections ready) at the end of the event-loop turn, so the
   * refills of many callbacks go out as one batch.
   */
  private queuePlan(): void {
    if (this.isClosed) return;
    (this.waiters.length > 0 ? this.planSoon : this.planLater).queue();
  }

  /** Open what the pool lacks: the whole deficit when healthy, one probe at a time after the backoff when not. */
  private plan(): void {
    if (this.isClosed) return;
    const now = performance.now();
    this.demand.observe(this.loans.count + this.waiters.length, now);
    const missing = this.targetSize(now) - (this.open + this.connecting);
    if (missing <= 0) return;
    if (!this.backoff.failing) return this.connect(missing);
    if (now < this.backoff.until) return this.probeAlarm.setBy(this.backoff.until);
    if (this.connecting === 0) this.connect(1);
  }

  /** Start `n` connects in this tick, so the Connector submits them together. */
  private connect(n: number): void {
    const round = this.backoff.round;
    let connector: Connector;
    try {
      connector = this.connector();
    } catch (error) {
      this.counts.failed++;
      return this.failed(error as Error, round);
    }
    const options = { ...this.options.connect, timeout: this.options.connectTimeout, signal: this.abort.signal };
    this.connecting += n;
    for (let i = 0; i < n; i++) {
      connector.connectFd(this.target, options).then(
        (fd) => this.connected(fd, connector, round),
        (error: Error) => this.connectFailed(error, round),
      );
    }
  }

  private connected(fd: number, connector: Connector, round: number): void {
    this.connecting--;
    if (this.isClosed) return connector.closeFd(fd);
    this.counts.opened++;
    this.backoff.connected();
    this.probeAlarm.cancel();
    const now = performance.now();
    const { maxLifetime } = this.options;
    const expiresAt = maxLifetime > 0 ? now + maxLifetime * (1 - LIFETIME_JITTER * Math.random()) : Infinity;
    this.offer(new PooledConnection(fd, connector, round, now, expiresAt));
    if (this.open >= this.options.min) this.settleReady(undefined);
    // After a recovery, the rest of the deficit goes out in one batch.
    this.queuePlan();
  }

  private connectFailed(error: Error, round: number): void {
    this.connecting--;
    // After close() the connects fail with its PoolClosedError: nothing to report.
    if (this.isClosed) return;
    this.counts.failed++;
    this.failed(error, round);
  }

  /** The target failed: back off, and reject ready() and every waiter no connect in flight can serve. */
  private failed(error: Error, round: number): void {
    if (this.backoff.fail(round, error, performance.now()) !== undefined) this.probeAlarm.setBy(this.backoff.until);
    this.settleReady(error);
    while (this.waiters.length > this.connecting && this.waiters.rejectOldest(error));
  }

  /** Resolve every waiting ready(), or reject them with `error`. */
  private settleReady(error: Error | undefined): void {
    if (this.readyWaiters.length === 0) return;
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const waiter of waiters) {
      if (error) waiter.reject(error);
      else waiter.resolve();
    }
  }

  /** Close idle connections past their lifetime, and those idle past idleTimeout beyond the target size. */
  private sweep(): void {
    if (this.isClosed) return;
    const now = performance.now();
    for (const connection of this.idle.expired(now)) this.closeConnection(connection);
    const { idleTimeout, min } = this.options;
    if (idleTimeout > 0) {
      const excess = this.open + this.connecting - this.targetSize(now);
      for (const connection of this.idle.trim(now, idleTimeout, excess)) this.closeConnection(connection);
    }
    this.queuePlan();
    let next = this.idle.nextExpiry();
    if (idleTimeout > 0 && this.open > min) {
      const due = this.idle.longestIdleSince() + idleTimeout;
      // Due, yet kept for recent demand: look again when the demand window has turned.
      next = Math.min(next, due > now ? due : now + DEMAND_WINDOW_MS);
    }
    if (next < Infinity) this.sweepAlarm.setBy(next);
  }
}
