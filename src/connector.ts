/**
 * The public Connector: validates what callers pass, resolves host names,
 * and hands each connect to its scheduler (scheduler.ts), which batches it
 * into the backend and settles it exactly once.
 *
 * Flow of one connect: validate -> (resolve the name; a name with both
 * IPv6 and IPv4 addresses is raced, happy-eyeballs.ts) -> scheduler: wait
 * FIFO for a free slot -> encode into the slot -> one flush per tick
 * prepares and submits -> completions are reaped and settle -> `connect()`
 * adopts the fd as a Bun socket.
 */
import type { Socket, SocketHandler } from "bun";
import { hasBothFamilies, parseTarget, resolveName, type Endpoint, type Target } from "./address.ts";
import { adoptSocket } from "./adopt.ts";
import type { BackendKind, RingInfo } from "./backend/index.ts";
import { ConnectorClosedError, invalidType } from "./errors.ts";
import { raceConnect } from "./happy-eyeballs.ts";
import {
  checkConnectOptions,
  checkConnectorOptions,
  checkSocketOptions,
  type CheckedOptions,
  type ConnectOptions,
  type ConnectorOptions,
} from "./options.ts";
import { Scheduler, type ConnectCallback, type ConnectorStats } from "./scheduler.ts";

export type { ConnectCallback } from "./scheduler.ts";

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
  private readonly scheduler: Scheduler;

  /**
   * Throws TypeError/RangeError for bad options, and NativeUnavailableError
   * when io_uring or liburing is unavailable (the message says what to do)
   * and `fallback` is not "bun".
   */
  constructor(options?: ConnectorOptions) {
    const { entries, maxInflight, fallback } = checkConnectorOptions(options);
    this.scheduler = new Scheduler(maxInflight, { entries, fallback });
  }

  /**
   * Connect and return the connected fd; the caller owns it and must close it.
   *
   * Returns a promise of the fd. Rejects with ConnectError (code, errno,
   * syscall, address, port), a DNS error (`getaddrinfo ENOTFOUND host`), the
   * signal's reason on abort, ConnectorClosedError after close(), or a
   * TypeError/RangeError for bad input (before anything is opened).
   *
   * Notes: a host name's addresses are tried one after another, in DNS
   * order, each with the whole `timeout`; a name with both IPv6 and IPv4
   * addresses is raced instead (Happy Eyeballs, `autoSelectFamily`), with
   * `timeout` as one budget for the whole race, and rejects with the
   * ConnectError of the attempt that failed last.
   */
  connectFd(target: Target, options?: ConnectOptions): Promise<number> {
    try {
      const parsed = parseTarget(target);
      const checked = checkConnectOptions(options);
      const refused = this.refusal(checked);
      if (refused) return refused;
      if (parsed.kind === "endpoint") return this.scheduler.connect(parsed.endpoints, checked);
      return this.connectName(parsed.host, parsed.port, checked);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * connectFd with a callback instead of a promise, for hot loops:
   * `callback(null, fd)` or `callback(error, -1)` with the errors connectFd
   * rejects with, exactly once, never before this returns. Callbacks run
   * in a microtask after the Connector's own work, so one may connect
   * again, close fds or close the Connector; one that throws is reported
   * as an uncaught error, and the others still run. Bad input throws here,
   * before anything is opened. With a target object used again and no
   * options (or one frozen options object) and no signal, a connect to an
   * IP literal or unix path allocates nothing.
   */
  connectFdCallback(target: Target, options: ConnectOptions | undefined, callback: ConnectCallback): void {
    if (typeof callback !== "function") throw invalidType("callback", "a function", callback);
    const parsed = parseTarget(target);
    const checked = checkConnectOptions(options);
    const refused = this.refusalReason(checked);
    if (refused !== undefined) return queueMicrotask(() => callback(refused, -1));
    if (parsed.kind === "endpoint") return this.scheduler.dial(parsed.endpoints, checked, callback);
    this.connectName(parsed.host, parsed.port, checked).then(
      (fd) => callback(null, fd),
      (error: unknown) => callback(error, -1),
    );
  }

  /**
   * Connect and adopt the fd as a Bun socket with `options.socket` handlers.
   * Rejects like connectFd, with a TypeError for bad handlers before
   * anything is opened, or with AdoptUnsupportedError if this Bun cannot
   * adopt fds.
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
    try {
      if (!Array.isArray(targets)) throw invalidType("targets", "an array", targets);
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
   * close and connect of the same event-loop turn (one system call). `reset: true`
   * sends RST instead of FIN, so the local port skips TIME_WAIT, as load
   * generators need. After `close()` there is no ring to batch into: the fd
   * is closed before this returns.
   * Throws TypeError for an fd that is not a non-negative integer.
   */
  closeFd(fd: number, options?: { reset?: boolean }): void {
    if (!Number.isInteger(fd) || fd < 0) throw invalidType("fd", "a non-negative integer", fd);
    this.scheduler.closeFd(fd, options?.reset === true);
  }

  /**
   * Watch a connected fd through the ring (one poll, batched with the
   * turn's other work; it reads nothing; on the Bun fallback a watch socket
   * reads what arrives before it fires): `onEvent` is called once,
   * with poll revents (> 0) when it becomes readable, its peer closes it or
   * it fails, or -errno when the watch could not be set up. Returns a tag
   * for `unwatchFd` (-1 after close(): no watch). Keep the fd open until the
   * watch is unwatched or has fired: an armed watch holds the socket.
   * The Pool watches its idle connections with it.
   */
  watchFd(fd: number, onEvent: (res: number) => void): number {
    return this.scheduler.watch(fd, onEvent);
  }

  /** End a watch from watchFd: its event is never delivered. Unknown or ended tags are ignored. */
  unwatchFd(tag: number): void {
    this.scheduler.unwatch(tag);
  }

  /**
   * Counters: slots by state, requests waiting for a slot, and fds whose
   * close has not completed yet (`closing`: queued, or in a kernel worker).
   */
  stats(): ConnectorStats {
    return this.scheduler.stats();
  }

  /**
   * Fds handed to `closeFd` whose close has not completed (queued, or in a
   * kernel worker): `stats().closing` without building the snapshot, for
   * callers that check it per connect.
   */
  get closing(): number {
    return this.scheduler.closing;
  }

  /** "io_uring", or "bun" when the Bun.connect fallback is in use (see fallbackReason). */
  get backend(): BackendKind {
    return this.scheduler.backend.kind;
  }

  /** Why io_uring is not used, when the Bun fallback is; undefined on io_uring. */
  get fallbackReason(): string | undefined {
    return this.scheduler.backend.fallbackReason;
  }

  /** What the kernel gave this Connector's ring (zeros for the fallback). Throws RingError after close(). */
  ringInfo(): RingInfo {
    return this.scheduler.backend.info();
  }

  /** Whether close() was called: every later connect rejects with ConnectorClosedError. */
  get closed(): boolean {
    return this.scheduler.closed;
  }

  /**
   * Reject all unfinished work with ConnectorClosedError, close every fd not
   * yet handed out, and release the ring. Safe to call twice.
   */
  close(): void {
    this.scheduler.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** Resolve a host name, then connect to its addresses; the Connector may close, or the signal fire, while it resolves. */
  private connectName(host: string, port: number, options: CheckedOptions): Promise<number> {
    return resolveName(host, port, options.local?.family).then((endpoints) => this.refusal(options) ?? this.connectResolved(endpoints, options));
  }

  /**
   * A name's addresses: raced when both families are there and the caller
   * did not turn that off; otherwise tried one after another, in DNS order.
   */
  private connectResolved(endpoints: readonly Endpoint[], options: CheckedOptions): Promise<number> {
    if (options.autoSelectFamily && hasBothFamilies(endpoints)) return raceConnect(this.scheduler, endpoints, options);
    return this.scheduler.connect(endpoints, options);
  }

  /** A rejection when no connect may start now: the Connector is closed, or the signal has fired. */
  private refusal(options: CheckedOptions): Promise<never> | undefined {
    const reason = this.refusalReason(options);
    return reason === undefined ? undefined : Promise.reject(reason);
  }

  /** Why no connect may start now (ConnectorClosedError, or the signal's reason), or undefined. */
  private refusalReason(options: CheckedOptions): unknown {
    if (this.scheduler.closed) return new ConnectorClosedError();
    if (options.signal?.aborted) return options.signal.reason; // never undefined: abort() without one sets an AbortError
    return undefined;
  }
}
