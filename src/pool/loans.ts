/**
 * Who holds which busy connection: the books a Pool keeps of what it handed
 * out, by what the caller holds (the fd from acquireFd, or the wrapper from
 * acquire/acquireNet), so release() finds the connection and its lease.
 */
import { ConnectionState, type PooledConnection } from "./connection.ts";
import type { Lease } from "./lease.ts";

export class Loans {
  private readonly byHandle = new Map<unknown, PooledConnection>();
  /** Wrappers already taken back or lost: giving one back again is a no-op. */
  private readonly returned = new WeakSet<object>();
  /** Connections out, including those checked out and not yet lent (an acquire's last microtask). */
  count = 0;

  /** `connection` leaves the pool for an acquire. */
  checkOut(connection: PooledConnection): void {
    connection.state = ConnectionState.busy;
    connection.used = true;
    this.count++;
  }

  /** Record what the caller holds for `connection`. */
  lend(connection: PooledConnection, handle: unknown, lease: Lease<unknown> | undefined): void {
    connection.leaseKey = handle;
    connection.lease = lease;
    this.byHandle.set(handle, connection);
  }

  /**
   * The connection lent under `handle` and its lease, taken off the books;
   * "returned" for a wrapper already back (or lost); undefined when nothing
   * was lent under it.
   */
  takeBack(handle: unknown): { connection: PooledConnection; lease: Lease<unknown> | undefined } | "returned" | undefined {
    const connection = this.byHandle.get(handle);
    if (connection) {
      const lease = connection.lease;
      this.close(connection);
      return { connection, lease };
    }
    return typeof handle === "object" && handle !== null && this.returned.has(handle) ? "returned" : undefined;
  }

  /** Take `connection`'s loan off the books (its wrapper closed by itself); false when it is not lent. */
  close(connection: PooledConnection): boolean {
    const handle = connection.leaseKey;
    if (connection.state !== ConnectionState.busy || handle === undefined) return false;
    this.byHandle.delete(handle);
    if (typeof handle === "object" && handle !== null) this.returned.add(handle);
    connection.leaseKey = undefined;
    connection.lease = undefined;
    return true;
  }

  /** A connection checked out comes back (to be reused or closed). */
  checkIn(): void {
    this.count--;
  }
}
