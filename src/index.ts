/**
 * uring-connect: batched TCP and unix connects through io_uring for Bun.
 */
import type { Socket } from "bun";
import type { Target } from "./address.ts";
import { Connector, type SocketConnectOptions } from "./connector.ts";
import type { ConnectOptions } from "./options.ts";

export { Connector, type ConnectCallback, type ConnectOutcome, type SocketConnectOptions } from "./connector.ts";
export type { ConnectorStats } from "./scheduler.ts";
export {
  AdoptUnsupportedError,
  ConnectError,
  ConnectorClosedError,
  errnoCode,
  NativeUnavailableError,
  PoolAcquireTimeoutError,
  PoolClosedError,
  PoolQueueFullError,
} from "./errors.ts";
export type { Target } from "./address.ts";
export type { ConnectOptions, ConnectorOptions } from "./options.ts";
export type { SlotStats } from "./slots.ts";
export type { RingInfo } from "./backend/index.ts";
export { Pool, type PoolHandle, type PoolStats } from "./pool/pool.ts";
export type { AcquireOptions, NetAcquireOptions, PoolOptions, SocketAcquireOptions } from "./pool/options.ts";

let shared: Connector | undefined;

/** The process-wide Connector behind the top-level functions, created on first use. */
export function sharedConnector(): Connector {
  if (!shared || shared.closed) shared = new Connector();
  return shared;
}

/** `connectFd` on the shared Connector: resolves with a connected fd the caller owns. */
export function connectFd(target: Target, options?: ConnectOptions): Promise<number> {
  try {
    return sharedConnector().connectFd(target, options);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** `connect` on the shared Connector: resolves with a Bun socket. */
export function connect<Data = undefined>(target: Target, options: SocketConnectOptions<Data>): Promise<Socket<Data>> {
  try {
    return sharedConnector().connect(target, options);
  } catch (error) {
    return Promise.reject(error);
  }
}
