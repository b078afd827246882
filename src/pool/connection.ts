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
 * Watching: while idle, the connection's fd is watched through its
 * Connector's ring (Connector.watchFd: one poll for readable data, the
 * peer's FIN or an error, armed in the batch that goes out at the end of
 * the event-loop turn), so a peer that closes (FIN or RST), errors or sends
 * anything unasked is seen as it happens, with no system call when the
 * connection is acquired and no byte read.
 * Acquiring ends the watch (a poll removal in the next batch, or none if
 * it was not armed yet); closing ends it first, so no poll holds the socket.
 */
import type { Connector } from "../connector.ts";
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
  /** The idle watch's tag, while one is armed (-1: none). */
  private watchTag = -1;

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
   * it, it errors, or data arrives. A watch that cannot be set up leaves it
   * idle unwatched rather than lose a good connection.
   */
  watch(onDead: (connection: PooledConnection) => void): void {
    this.watchTag = this.connector.watchFd(this.fd, (res) => {
      this.watchTag = -1;
      if (res < 0) return;
      this.dead = true;
      onDead(this);
    });
  }

  /** End the watch, if any. */
  unwatch(): void {
    if (this.watchTag < 0) return;
    this.connector.unwatchFd(this.watchTag);
    this.watchTag = -1;
  }

  /** Close the connection (its own fd, batched through its Connector's ring). */
  close(): void {
    this.state = ConnectionState.closed;
    this.unwatch();
    this.connector.closeFd(this.fd);
  }
}
