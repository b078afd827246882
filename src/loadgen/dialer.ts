/**
 * Dialers: how the load generator opens, uses and closes one connection,
 * through uring-connect or through Bun.connect (for comparison runs).
 * Both take the same plan and report the same outcomes, so the engine
 * measures the client, not differences in what each was asked to do.
 */
import type { Socket, SocketHandler } from "bun";
import type { Target } from "../address.ts";
import { Connector } from "../connector.ts";
import type { ConnectOptions } from "../options.ts";
import { ConnectError, Errno, exchangeFailed, runStopped } from "../errors.ts";
import { closeNow } from "./limits.ts";

/** Bun.connect has no connect timeout: ours fails the same way the Connector's does. */
const timedOut = (target: Target) =>
  "unix" in target
    ? new ConnectError({ errno: Errno.ETIMEDOUT, address: target.unix })
    : new ConnectError({ errno: Errno.ETIMEDOUT, address: target.host, port: target.port });

export type EngineName = "uring-connect" | "Bun.connect";

/** What every connection of a run does. */
export interface DialPlan {
  target: Target;
  /** Connect timeout, ms (0 = none). */
  timeoutMs: number;
  /** Time for the exchange (send the payload, receive `expectBytes`), ms (0 = none). */
  exchangeTimeoutMs: number;
  /** rst: SO_LINGER 0 (no TIME_WAIT); fin: an orderly close. */
  closeWith: "rst" | "fin";
  /** Sent once connected, before waiting for `expectBytes`. */
  payload?: Uint8Array;
  /** Reply bytes to wait for before closing (0 = close at once). */
  expectBytes: number;
  /** SO_KEEPALIVE, for held connections. */
  keepAlive: boolean;
  /** Most connections open or opening at once (sizes the ring). */
  maxOpen: number;
}

/**
 * How a cycle ends, times from performance.now():
 * - the connect failed: `(error)`;
 * - connected, then the exchange failed: `(error, establishedAt)`;
 * - done: `(undefined, establishedAt, exchangedAt)`, `exchangedAt` only when there was an exchange.
 * Positional arguments, not an object: the hot path allocates nothing per connect.
 */
export type CycleDone = (error: unknown, establishedAt?: number, exchangedAt?: number) => void;

/** A connection being held open until `close()`. */
export interface HeldConnection {
  close(): void;
}

export interface Dialer {
  readonly name: EngineName;
  /** Set when the dialer could not do what was asked and does something else (said as a note). */
  readonly notice?: string;
  /**
   * Connect, exchange the payload when there is one, close; then call
   * `done` as CycleDone says, errors carrying a `code`. A callback, not a
   * promise: on the hot path every promise layer is a microtask per connect.
   */
  cycle(localAddress: string | undefined, done: CycleDone): void;
  /** Connect and hold; `dropped` runs if the peer closes first. */
  hold(localAddress: string | undefined, dropped: () => void): Promise<HeldConnection>;
  /**
   * Give up everything in progress: pending cycles and holds reject with
   * code ABORTED and their sockets close. No new work is taken after this.
   */
  abortAll(): void;
  close(): void;
}

/** Whether connections of this plan exchange data before closing. */
export const hasExchange = (plan: DialPlan): boolean => plan.payload !== undefined || plan.expectBytes > 0;

/**
 * Exchanges in progress, so abortAll can end them. A Set, not a listener per
 * connection on one AbortSignal: removing one of thousands of listeners
 * costs a scan each time.
 */
class Exchanges {
  private readonly active = new Set<Socket<Conn>>();
  private stopped = false;

  /**
   * Send the payload, wait for the expected reply, close the way the plan
   * says. Resolves with the time the exchange completed; rejects with code
   * ETIMEDOUT when it took longer than the plan's exchange timeout, EOF when
   * the peer closed (FIN) before the reply was complete, or the socket error.
   */
  run(socket: Socket<Conn>, plan: DialPlan): Promise<number> {
    if (this.stopped) {
      shut(socket, "rst");
      return Promise.reject(runStopped());
    }
    return new Promise<number>((resolve, reject) => {
      const conn = socket.data;
      this.active.add(socket);
      // One timer covers the whole exchange: a peer that never reads blocks the send as surely as one that never replies.
      const timer = plan.exchangeTimeoutMs > 0 ? setTimeout(() => conn.settle?.("ETIMEDOUT"), plan.exchangeTimeoutMs) : undefined;
      conn.settle = (code) => {
        const at = performance.now();
        conn.settle = undefined;
        clearTimeout(timer);
        this.active.delete(socket);
        // A failed exchange always resets: nothing more is owed to the peer.
        shut(socket, code ? "rst" : plan.closeWith);
        if (code) reject(exchangeFailed(code));
        else resolve(at);
      };
      writeSome(socket);
      settleIfComplete(conn);
    });
  }

  abortAll(): void {
    this.stopped = true;
    for (const socket of [...this.active]) socket.data.settle?.("ABORTED");
  }
}

/** Per-socket state; one handler object serves every socket. */
interface Conn {
  unsent: Uint8Array;
  need: number;
  got: number;
  closing: boolean;
  /** Settles the exchange: undefined = done, else the error code. Unset once settled. */
  settle?: (code?: string) => void;
  dropped?: () => void;
}

function writeSome(socket: Socket<Conn>): void {
  const conn = socket.data;
  if (conn.unsent.length === 0) return;
  conn.unsent = conn.unsent.subarray(socket.write(conn.unsent));
}

/** The exchange is complete when the whole payload is written and the reply has arrived. */
function settleIfComplete(conn: Conn): void {
  if (conn.settle && conn.unsent.length === 0 && conn.got >= conn.need) conn.settle();
}

function shut(socket: Socket<Conn>, closeWith: "rst" | "fin"): void {
  socket.data.closing = true;
  if (closeWith === "rst") socket.terminate();
  else socket.end();
}

const handlers: SocketHandler<Conn> = {
  data(socket, chunk) {
    socket.data.got += chunk.length;
    settleIfComplete(socket.data);
  },
  drain(socket) {
    writeSome(socket);
    settleIfComplete(socket.data);
  },
  // The peer's FIN (Bun calls end, then close): the reply will not grow any more.
  end(socket) {
    socket.data.settle?.("EOF");
  },
  close(socket, error) {
    const conn = socket.data;
    if (conn.closing) return;
    conn.closing = true;
    conn.settle?.((error as NodeJS.ErrnoException | undefined)?.code ?? "ECONNRESET");
    conn.dropped?.();
  },
  error(socket, error) {
    socket.data.settle?.((error as NodeJS.ErrnoException).code ?? "ECONNRESET");
  },
};

function newConn(plan: DialPlan): Conn {
  return { unsent: plan.payload ?? new Uint8Array(0), need: plan.expectBytes, got: 0, closing: false };
}

/**
 * Ring entries for `concurrency` connections at once, so no connect waits
 * for an entry: at least 64, since a reset close is two entries (SO_LINGER
 * through the ring) and a ring of 2 (concurrency 1) split each cycle's
 * submit in two; at most 4096.
 */
export function ringEntriesFor(concurrency: number): number {
  return Math.min(4096, Math.max(64, concurrency));
}

/** Through uring-connect: plain connects stay fds (closed in batches); payloads go through adopted sockets. */
export class UringDialer implements Dialer {
  readonly name = "uring-connect" as const;
  readonly notice: string | undefined;
  private readonly connector: Connector;
  private readonly reset: boolean;
  private readonly exchanges = new Exchanges();
  /** The same options object for every connect without a local address. */
  private readonly options: ConnectOptions;

  constructor(private readonly plan: DialPlan) {
    this.reset = plan.closeWith === "rst";
    // Frozen: the Connector checks it once, not on every connect.
    this.options = Object.freeze(plan.keepAlive ? { timeout: plan.timeoutMs, keepAlive: true } : { timeout: plan.timeoutMs });
    // Without io_uring the run still happens, through Bun's sockets, and says so.
    this.connector = new Connector({
      maxInflight: Math.max(1, Math.min(plan.maxOpen, 65536)),
      entries: ringEntriesFor(plan.maxOpen),
      fallback: "bun",
    });
    if (this.connector.fallbackReason) this.notice = `io_uring unavailable, connecting through Bun's sockets instead: ${this.connector.fallbackReason}`;
  }


  cycle(localAddress: string | undefined, done: CycleDone): void {
    const plan = this.plan;
    const options = localAddress ? { ...this.options, localAddress } : this.options;
    if (!hasExchange(plan)) {
      // The hot path, with no promise: the fd goes straight into the next batch of closes.
      this.connector.connectFdCallback(plan.target, options, (error, fd) => {
        if (error !== null) return done(error);
        const at = performance.now();
        this.closeConnected(fd);
        done(undefined, at);
      });
      return;
    }
    this.connector.connect(plan.target, { ...options, socket: handlers, data: newConn(plan) }).then((socket) => {
      const at = performance.now();
      this.exchanges.run(socket, plan).then((exchangedAt) => done(undefined, at, exchangedAt), (error) => done(error, at));
    }, done);
  }

  /**
   * Closes go to kernel workers in batches, and a busy machine can leave them
   * behind, each still holding an fd: the run's fd budget allows `maxOpen`
   * closes in progress, and past that a close happens here and now.
   */
  private closeConnected(fd: number): void {
    if (this.connector.closing < this.plan.maxOpen) this.connector.closeFd(fd, { reset: this.reset });
    else closeNow(fd, this.reset);
  }

  async hold(localAddress: string | undefined, dropped: () => void): Promise<HeldConnection> {
    const conn = { ...newConn(this.plan), dropped };
    const options = localAddress ? { ...this.options, localAddress } : this.options;
    const socket = await this.connector.connect(this.plan.target, { ...options, socket: handlers, data: conn });
    return { close: () => shut(socket, this.plan.closeWith) };
  }

  /** Closing the Connector rejects every connect in flight and closes its socket. */
  abortAll(): void {
    this.connector.close();
    this.exchanges.abortAll();
  }

  close(): void {
    this.connector.close();
  }
}

/** Through Bun.connect, for side-by-side runs and when io_uring is unavailable. */
export class BunDialer implements Dialer {
  readonly name = "Bun.connect" as const;

  constructor(private readonly plan: DialPlan) {}

  private readonly exchanges = new Exchanges();
  /** Rejecters of connects not yet open, for abortAll. */
  private readonly opening = new Set<(error: Error) => void>();
  private stopped = false;

  private async open(conn: Conn): Promise<Socket<Conn>> {
    if (this.stopped) throw runStopped();
    const target = this.plan.target;
    const pending =
      "unix" in target
        ? Bun.connect<Conn>({ unix: target.unix, socket: handlers, data: conn })
        : Bun.connect<Conn>({ hostname: target.host, port: target.port, socket: handlers, data: conn });
    // Bun.connect has no timeout or cancel: race them, and close a late socket.
    let timer: ReturnType<typeof setTimeout> | undefined;
    let giveUp: ((error: Error) => void) | undefined;
    const stop = new Promise<never>((_, reject) => {
      giveUp = reject;
      const { timeoutMs } = this.plan;
      if (timeoutMs > 0) timer = setTimeout(() => reject(timedOut(target)), timeoutMs);
    });
    this.opening.add(giveUp!);
    try {
      return await Promise.race([pending, stop]);
    } catch (error) {
      pending.then((late) => shut(late, "rst"), () => {});
      throw error;
    } finally {
      clearTimeout(timer);
      this.opening.delete(giveUp!);
    }
  }

  cycle(_localAddress: string | undefined, done: CycleDone): void {
    this.open(newConn(this.plan)).then((socket) => {
      const at = performance.now();
      if (!hasExchange(this.plan)) {
        shut(socket, this.plan.closeWith);
        done(undefined, at);
        return;
      }
      this.exchanges.run(socket, this.plan).then((exchangedAt) => done(undefined, at, exchangedAt), (error) => done(error, at));
    }, done);
  }

  async hold(_localAddress: string | undefined, dropped: () => void): Promise<HeldConnection> {
    const socket = await this.open({ ...newConn(this.plan), dropped });
    socket.setKeepAlive(true);
    return { close: () => shut(socket, this.plan.closeWith) };
  }

  abortAll(): void {
    this.stopped = true;
    for (const giveUp of [...this.opening]) giveUp(runStopped());
    this.exchanges.abortAll();
  }

  close(): void {
    this.abortAll();
  }
}

/** The dialer for `engine`. Throws (NativeUnavailableError) when uring-connect cannot start. */
export function createDialer(engine: "uring" | "bun", plan: DialPlan): Dialer {
  return engine === "bun" ? new BunDialer(plan) : new UringDialer(plan);
}
