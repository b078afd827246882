/**
 * undici's `connect` option: `new Agent({ connect: undiciConnect() })`, and
 * the same for `Pool` and `Client`.
 *
 * undici calls it with the origin's `hostname`, `port` and `protocol` (and
 * `socketPath`, `localAddress` when the dispatcher has them) and a callback
 * for the connected socket or the error. The socket is returned too, so
 * undici can destroy it when no request waits for the connection any more.
 *
 * In Bun, `import "undici"` is Bun's own module, which ignores `connect`
 * and `dispatcher`: use the npm package by its path.
 */
import type net from "node:net";
import { invalidInput } from "../errors.ts";
import { checkNodeOptions, type NodeConnectOptions } from "./options.ts";
import { createConnectionWith } from "./socket.ts";

/** What undici passes to a connect function. */
export interface UndiciConnectParams {
  hostname: string;
  host?: string;
  protocol: string;
  /** The origin's port; "" for the protocol's default. */
  port: string;
  servername?: string | null;
  localAddress?: string | null;
  socketPath?: string | null;
}

/** undici's callback: the connected socket, or the error. */
export type UndiciConnectCallback = (...args: [null, net.Socket] | [Error, null]) => void;

/** undici's own connector turns keep-alive on with this initial delay. */
const UNDICI_KEEPALIVE_DELAY_MS = 60_000;

/**
 * A connect function for undici: each call connects through a Connector with
 * `options` and calls back once, on 'connect' or on the ConnectError.
 *
 * Returns the function. Throws TypeError/RangeError for bad options.
 * Notes: plain TCP (http:) and unix sockets only: an https: origin fails with
 * a TypeError, as this function does no TLS. As undici's own connector does,
 * keep-alive is turned on (60 s) unless `options.keepAlive` is given
 * (TCP_NODELAY, which undici also sets, is on in every Bun net socket);
 * `options.localAddress` wins over the dispatcher's.
 */
export function undiciConnect(options?: NodeConnectOptions): (params: UndiciConnectParams, callback: UndiciConnectCallback) => net.Socket | undefined {
  const checked = checkNodeOptions(options);
  return (params, callback) => {
    if (params.protocol !== "http:") {
      callback(invalidInput(`undiciConnect connects plain TCP (http:) only, not ${params.protocol}`), null);
      return undefined;
    }
    const socket = params.socketPath ? createConnectionWith(checked, { unix: params.socketPath }) : tcpSocket(params);
    let pending: UndiciConnectCallback | undefined = callback;
    const settle = (...args: [null, net.Socket] | [Error, null]) => {
      const once = pending;
      pending = undefined;
      once?.(...args);
    };
    socket.once("connect", () => settle(null, socket)).once("error", (error) => settle(error, null));
    return socket;
  };

  function tcpSocket(params: UndiciConnectParams): net.Socket {
    const localAddress = checked.connect.localAddress ?? params.localAddress ?? undefined;
    const connect = localAddress === undefined ? checked.connect : { ...checked.connect, localAddress };
    const socket = createConnectionWith({ ...checked, connect }, { host: params.hostname, port: Number(params.port) || 80 });
    if (checked.connect.keepAlive === undefined) socket.setKeepAlive(true, UNDICI_KEEPALIVE_DELAY_MS);
    return socket;
  }
}
