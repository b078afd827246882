/**
 * A Pool's idle connections: a stack with the most recently idle on top,
 * handed out first (the connection most likely still warm in every cache
 * on the way), so the longest idle sink to the bottom, where the idle limit
 * trims them first. Each is watched while it rests (connection.ts); one
 * the watch sees die leaves at once.
 *
 *   [0] longest idle ... most recently idle [length - 1]  <- push / take
 */
import { ConnectionState, type PooledConnection } from "./connection.ts";

export class IdleConnections {
  private readonly stack: PooledConnection[] = [];

  /** `onDead` gets each connection the watch saw die, already removed. */
  constructor(private readonly onDead: (connection: PooledConnection) => void) {}

  get length(): number {
    return this.stack.length;
  }

  /** Put `connection` to rest on top, watched, idle since `now`. */
  push(connection: PooledConnection, now: number): void {
    connection.state = ConnectionState.idle;
    connection.idleSince = now;
    this.stack.push(connection);
    connection.watch((dead) => {
      this.stack.splice(this.stack.indexOf(dead), 1);
      this.onDead(dead);
    });
  }

  /**
   * The most recently idle connection still within its lifetime, removed
   * (still watched: the caller unwatches it once its own books are right);
   * those past their lifetime met on the way are removed and given to
   * `discard`.
   */
  take(now: number, discard: (connection: PooledConnection) => void): PooledConnection | undefined {
    for (let connection = this.stack.pop(); connection; connection = this.stack.pop()) {
      if (now < connection.expiresAt) return connection;
      discard(connection);
    }
    return undefined;
  }

  /** Remove and return the connections past their lifetime at `now`. */
  expired(now: number): PooledConnection[] {
    const expired: PooledConnection[] = [];
    let kept = 0;
    for (const connection of this.stack) {
      if (now >= connection.expiresAt) expired.push(connection);
      else this.stack[kept++] = connection;
    }
    this.stack.length = kept;
    return expired;
  }

  /** Remove and return up to `count` of the longest idle, those idle `idleTimeout` ms or more at `now`. */
  trim(now: number, idleTimeout: number, count: number): PooledConnection[] {
    let n = 0;
    while (n < count && n < this.stack.length && now - this.stack[n]!.idleSince >= idleTimeout) n++;
    return this.stack.splice(0, n);
  }

  /** Remove and return them all. */
  drain(): PooledConnection[] {
    return this.stack.splice(0);
  }

  /** The earliest lifetime end among them (Infinity when none has one). */
  nextExpiry(): number {
    let next = Infinity;
    for (const connection of this.stack) next = Math.min(next, connection.expiresAt);
    return next;
  }

  /** Since when the longest idle one has rested (Infinity when none is idle). */
  longestIdleSince(): number {
    return this.stack[0]?.idleSince ?? Infinity;
  }
}
