/**
 * Turning a connected fd into a node:net Socket.
 *
 * Bun's `net.Socket#connect({ fd })` adopts an already connected socket fd
 * (TCP or unix): reads, writes, addresses, setNoDelay/setKeepAlive all work,
 * and 'connect' and 'ready' are emitted before the call returns.
 * `new net.Socket({ fd })` does not work for TCP fds in Bun 1.4.4, and
 * `net.createConnection({ fd })` emits 'connect' before anyone can listen.
 */
import net from "node:net";

/** Bun's `connect({ fd })`, which Node's types do not list. */
const connectFd = net.Socket.prototype.connect as unknown as (this: net.Socket, options: { fd: number }) => net.Socket;

/**
 * Adopt `fd` (connected; owned by the caller until this returns, then by the
 * socket, which closes it on destroy) into `socket`, a fresh net.Socket by
 * default. `socket` must not be connected or connecting yet.
 *
 * Returns the socket, connected: `connecting` is false, the addresses are
 * set, and 'connect' and 'ready' have been emitted on it.
 *
 * Notes: Socket.prototype.connect is called directly, so a subclass whose
 * own `connect()` starts a connect (UringSocket) can adopt its result.
 */
export function adoptNetSocket<S extends net.Socket = net.Socket>(fd: number, socket?: S): S {
  const target = socket ?? (new net.Socket() as S);
  connectFd.call(target, { fd });
  return target;
}
