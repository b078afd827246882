/**
 * One connection a Pool owns, from its connect to its close, and how an
 * idle one is watched.
 *
 * The Pool keeps the connection's fd (the one the connect returned) for its
 * whole life and closes it itself. Anything that wraps the connection gets
 * a duplicate of it (a second fd for the same socket, F_DUPFD_CLOEXEC), so
 * a wrapper closing its fd (Bun closes a socket's fd with it) takes nothing
 * from the Pool: the connection ends only when its last fd is closed.
 *
 *   connect ─> idle (watched) ⇄ busy (the caller's fd, or a wrapper on a duplicate) ─> closed
 *
 * Watching: while idle, a duplicate is adopted as an unref'd Bun socket.
 * Bun's event loop already polls it, so a peer that closes (FIN or RST),
 * errors or sends anything unasked is seen as it happens, with no system
 * call when the connection is acquired; the watch is closed (epoll_ctl DEL
 * and close of the duplicate) before the connection is handed out, so it
 * never reads a byte meant for the caller. Measured (Bun 1.4.4, loopback):
 * duplicate, adopt and close ~7 µs per cycle; a whole acquireFd + release
 * ~8.5 µs, against 35-65 µs to connect and close a fresh connection; and
 * Bun's close() of an adopted socket is epoll_ctl DEL + close(2) only (no
 * shutdown, no SO_LINGER), so the peer sees nothing. (Bun's terminate()
 * would set SO_LINGER {1, 0} on the shared socket: never used here.)
 */
import type { Socket } from "bun";
import { adoptSocket } from "../adopt.ts";
import type { Connector } from "../connector.ts";
import { errnoCode } from "../errors.ts";
import { sysNative } from "../native.ts";
import type { Lease } from "./lease.ts";

/** idle: in the idle stack, watched; busy: handed out; closed: its fd closed, gone for good. */
export const ConnectionState = { idle: 0, busy: 1, closed: 2 } as const;
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

export class PooledConnection {
  state: ConnectionState = ConnectionState.idle;
  /** performance.now() when it went idle last. */
  idleSince: number;
  /** Handed out at least once. */
  used = false;
  /** The watch saw the peer close it (or write to it unasked): it is not reused. */
  dead = false;
  /** What the Pool's loans know it by while it is handed out: its fd, or the wrapper. */
  leaseKey: unknown = undefined;
  /** The wrapper's lease, when it was handed out wrapped. */
  lease: Lease<unknown> | undefined = undefined;
  /** The idle watch, while one is open. */
  private watcher: Socket<unknown> | undefined = undefined;
  /** Changes whenever a watch ends: events of an older watch are ignored. */
  private watchGeneration = 0;

  constructor(
    /** The connection's own fd, the Pool's until it closes it. */
    readonly fd: number,
    /** The Connector that opened it, which closes it. */
    readonly connector: Connector,
    /** The backoff round its connect belonged to. */
    readonly round: number,
    /** performance.now() when it connected. */
    readonly openedAt: number,
    /** performance.now() after which it is not reused (Infinity: no limit). */
    readonly expiresAt: number,
  ) {
    this.idleSince = openedAt;
  }

  /**
   * Watch the idle connection: `onDead` is called once if the peer closes
   * it, it errors, or data arrives. Without a free fd for the duplicate it
   * stays idle unwatched rather than lose a good connection.
   */
  watch(onDead: (connection: PooledConnection) => void): void {
    let duplicate: number;
    try {
      duplicate = duplicateFd(this.fd);
    } catch {
      return;
    }
    const generation = ++this.watchGeneration;
    // onDead takes it out of the idle stack before anything closes the watch:
    // Bun runs pending microtasks inside a socket's close(), and none of them
    // may find a dead connection idle.
    const died = () => {
      if (generation !== this.watchGeneration) return;
      this.dead = true;
      onDead(this);
      this.unwatch();
    };
    adoptSocket(duplicate, {
      // Bun calls open within Bun.connect({ fd }), before any other handler.
      open: (socket) => {
        if (generation !== this.watchGeneration) return socket.close();
        socket.unref();
        this.watcher = socket;
      },
      data: died,
      end: died,
      error: died,
      close: died,
    }).catch(() => {});
  }

  /** End the watch, if any (its duplicate is closed here and now). */
  unwatch(): void {
    this.watchGeneration++;
    const watcher = this.watcher;
    this.watcher = undefined;
    watcher?.close();
  }

  /** Close the connection (its own fd, batched through its Connector's ring). */
  close(): void {
    this.state = ConnectionState.closed;
    this.unwatch();
    this.connector.closeFd(this.fd);
  }
}

/** A failed system call, shaped like Node's (`dup EMFILE`, with code, errno, syscall). */
export type SyscallError = Error & { code: string; errno: number; syscall: string };

/** A close-on-exec duplicate of `fd`; throws a SyscallError (EMFILE...) when there is none. */
export function duplicateFd(fd: number): number {
  const duplicate = sysNative().uc_dup_fd(fd);
  if (duplicate >= 0) return duplicate;
  const code = errnoCode(-duplicate);
  throw Object.assign(new Error(`dup ${code}`), { code, errno: -duplicate, syscall: "dup" }) as SyscallError;
}
