/**
 * node:net sockets whose connect goes through io_uring: `connectNet` for a
 * socket that is connected when the promise settles, and `createConnection`
 * for one that connects when its `connect()` is called, as clients such as
 * pg expect of the stream they are given.
 */
import net from "node:net";
import { parseTarget, type Target } from "../address.ts";
import type { Connector } from "../connector.ts";
import { invalidInput } from "../errors.ts";
import { checkConnectOptions, type ConnectOptions } from "../options.ts";
import { adoptNetSocket } from "./adopt-net.ts";
import { checkNodeOptions, type CheckedNodeOptions, type NodeConnectOptions } from "./options.ts";

/**
 * Connect to `target` through a Connector (the shared one, or
 * `options.connector`) and wrap the connection in a net.Socket; with
 * `options.pool`, take a connection from the pool instead (to its target).
 *
 * Returns a connected socket: `connecting` is false and `remoteAddress`,
 * `remotePort`, `localAddress`, `localPort` are set. The socket owns the fd.
 *
 * Throws (rejects with) ConnectError (`code`, `errno`, `address`, `port`) when
 * the connect fails or times out (`options.timeout`: the connect's own limit,
 * not node:net's idle timeout), the signal's reason on abort, and a
 * TypeError/RangeError for bad input before anything is opened.
 */
export function connectNet(target: Target, options?: NodeConnectOptions): Promise<net.Socket> {
  try {
    return connectNetWith(checkNodeOptions(options), target);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** `connectNet` with options already checked (the adapters check theirs once); from the pool when there is one. */
export async function connectNetWith(options: CheckedNodeOptions, target: Target): Promise<net.Socket> {
  if (options.pool) return options.pool.acquireNet({ signal: options.connect.signal });
  const fd = await options.connector().connectFd(target, options.connect);
  return adoptNetSocket(fd);
}

/**
 * A net.Socket that connects through io_uring when `connect()` is called
 * (or at once when `target` is given), like `net.createConnection` does.
 *
 * Returns the socket. While it connects, writes and `end()` are buffered
 * and sent once connected; 'connect' and 'ready' are emitted then. A failed
 * connect destroys the socket with the ConnectError, emitted as 'error'.
 * `destroy()` while connecting cancels the connect and closes its socket.
 *
 * Throws TypeError/RangeError for bad options or target, before anything is
 * opened. Notes: `options.timeout` limits the connect (ETIMEDOUT), unlike
 * node:net's idle `timeout`; use `setTimeout()` for that. With
 * `options.pool`, `connect()` takes a connection from the pool (to the
 * pool's target; the one passed is only checked), failing as its acquires do.
 */
export function createConnection(target?: Target, options?: NodeConnectOptions): net.Socket {
  return createConnectionWith(checkNodeOptions(options), target);
}

/** `createConnection` with options already checked (the adapters check theirs once). */
export function createConnectionWith(options: CheckedNodeOptions, target?: Target): net.Socket {
  const socket = new UringSocket(options);
  if (target === undefined) return socket;
  return socket.connect("unix" in target ? { path: target.unix } : { port: target.port, host: target.host });
}

/** The node:net connect() argument forms, reduced to what a UringSocket uses. */
interface ConnectCall {
  target: Target;
  localAddress: string | undefined;
  noDelay: boolean | undefined;
  keepAlive: { enable: boolean; initialDelay: number | undefined } | undefined;
  listener: (() => void) | undefined;
}

/** The net.Socket from `createConnection`: Bun's own socket, whose connect is a Connector's (or a Pool's acquire). */
class UringSocket extends net.Socket {
  readonly #options: CheckedNodeOptions;
  /** Cancels the connect in flight; undefined before connect() and once it settled. */
  #cancel: AbortController | undefined;
  #started = false;

  constructor(options: CheckedNodeOptions) {
    super();
    this.#options = options;
  }

  /**
   * `connect(port, host?, listener?)`, `connect(path, listener?)` or
   * `connect({ port, host?, path?, localAddress?, noDelay?, keepAlive? }, listener?)`.
   * Other node:net connect options (family, lookup, localPort...) are not used.
   *
   * Throws TypeError/RangeError for a bad target or option, or a second call
   * (a UringSocket connects once), and NativeUnavailableError when the
   * shared Connector cannot start; a failed connect is an 'error' event.
   */
  override connect(...args: unknown[]): this {
    if (this.#started) throw invalidInput("connect() was already called on this socket; make a new one with createConnection()");
    const call = connectCall(args);
    parseTarget(call.target, "options");
    const open = this.#opener(call);
    this.#started = true;
    if (call.listener) this.once("connect", call.listener);
    // As node:net does: remembered by the socket and applied once connected.
    if (call.noDelay !== undefined) this.setNoDelay(call.noDelay);
    if (call.keepAlive) this.setKeepAlive(call.keepAlive.enable, call.keepAlive.initialDelay);
    this.#start(open);
    return this;
  }

  /**
   * How this socket gets its connection: from the pool (its target and
   * options apply; the call's target was only checked), or by a connect
   * through the Connector. Throws for a bad option before anything opens.
   */
  #opener(call: ConnectCall): (signal: AbortSignal) => Promise<unknown> {
    const pool = this.#options.pool;
    if (pool) return (signal) => pool.acquireNet({ signal, into: this });
    const options = call.localAddress === undefined ? this.#options.connect : { ...this.#options.connect, localAddress: call.localAddress };
    checkConnectOptions(options);
    const connector = this.#options.connector();
    return (signal) => this.#connectThrough(connector, call.target, { ...options, signal });
  }

  #start(open: (signal: AbortSignal) => Promise<unknown>): void {
    const cancel = new AbortController();
    this.#cancel = cancel;
    const given = this.#options.connect.signal;
    const signal = given ? AbortSignal.any([given, cancel.signal]) : cancel.signal;
    // Bun's net.Socket holds writes, end() and reads while `connecting` is
    // set, and replays them on 'connect', which adoption emits.
    (this as { connecting: boolean }).connecting = true;
    open(signal).then(
      () => (this.#cancel = undefined),
      (error: unknown) => {
        this.#cancel = undefined;
        if (!this.destroyed) this.destroy(error as Error);
      },
    );
  }

  /** Connect through `connector` and adopt the connection into this socket (closed instead if it was destroyed meanwhile). */
  async #connectThrough(connector: Connector, target: Target, options: ConnectOptions): Promise<void> {
    const fd = await connector.connectFd(target, options);
    if (this.destroyed) return connector.closeFd(fd);
    (this as { connecting: boolean }).connecting = false;
    adoptNetSocket(fd, this);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // The connect settles with the abort, and the Connector closes its socket.
    this.#cancel?.abort();
    super._destroy(error, callback);
  }
}

/** node:net's connect() argument forms (see UringSocket.connect). */
function connectCall(args: unknown[]): ConnectCall {
  const [first, second, third] = args;
  const listenerAt = (value: unknown) => (typeof value === "function" ? (value as () => void) : undefined);
  const none = { localAddress: undefined, noDelay: undefined, keepAlive: undefined };
  if (first !== null && typeof first === "object") {
    const o = first as net.NetConnectOpts & { path?: string; port?: unknown; host?: unknown };
    return {
      target: o.path !== undefined ? { unix: o.path } : tcpTarget(o.port, o.host),
      localAddress: "localAddress" in o ? o.localAddress : undefined,
      noDelay: o.noDelay,
      keepAlive: o.keepAlive === undefined ? undefined : { enable: o.keepAlive, initialDelay: o.keepAliveInitialDelay },
      listener: listenerAt(second),
    };
  }
  // A string that is not a port number is a unix socket path, as in node:net.
  if (typeof first === "string" && !/^\d+$/.test(first)) return { target: { unix: first }, ...none, listener: listenerAt(second) };
  const host = typeof second === "string" ? second : undefined;
  return { target: tcpTarget(first, host), ...none, listener: listenerAt(host === undefined ? second : third) };
}

/** node:net's defaults: the host is "localhost" when absent; a port may be a numeric string. */
function tcpTarget(port: unknown, host: unknown): Target {
  const number = typeof port === "string" && /^\d+$/.test(port) ? Number(port) : port;
  return { host: (host ?? "localhost") as string, port: number as number };
}
