/**
 * A Pool's options (sizes, the four time limits, the waiting-room limit,
 * the preconnect ratio, and the connect options its connects use), checked
 * in the constructor before anything is opened, and each acquire's options,
 * checked before anything is taken. Every failure names the field.
 */
import type { SocketHandler } from "bun";
import net from "node:net";
import { Connector } from "../connector.ts";
import { invalidInput, invalidRange, invalidType } from "../errors.ts";
import { checkConnectOptions, checkSocketOptions, MAX_INFLIGHT, MAX_TIMEOUT_MS, rejectUnknownKeys, type ConnectOptions } from "../options.ts";

/**
 * Options for a Pool: its own, plus the connect options each of its connects
 * uses (`localAddress`, `noDelay`, `keepAlive`, ...). A connect's `timeout`
 * is `connectTimeout` here, and `signal` belongs to each acquire. Any other
 * key is a TypeError.
 */
export interface PoolOptions extends Omit<ConnectOptions, "timeout" | "signal"> {
  /** Connections kept open even when nobody uses them; opened at once, in one batch (default 0). */
  min?: number;
  /** Most connections open at once, idle, busy and connecting together (default 100). */
  max?: number;
  /** Milliseconds the kernel allows each connect (a linked timeout); 0 or absent: none. */
  connectTimeout?: number;
  /** Milliseconds an acquire may wait; then it rejects with PoolAcquireTimeoutError (ETIMEDOUT). 0 or absent: no limit. */
  acquireTimeout?: number;
  /** Milliseconds an idle connection is kept beyond the pool's target size before it is closed. 0 or absent: kept. */
  idleTimeout?: number;
  /** Milliseconds a connection may live, less up to 10% at random; closed when idle past it. 0 or absent: no limit. */
  maxLifetime?: number;
  /** Most acquires waiting at once; one more rejects at once with PoolQueueFullError. Absent: no limit. */
  maxWaiting?: number;
  /** Idle connections kept ready per connection of recent demand (0.5: half as many again). Default 0. */
  preconnect?: number;
  /** The Connector to connect through; default: the shared one (`sharedConnector()`). */
  connector?: Connector;
}

/** The Pool's own keys, and the connect options it passes on to each connect. */
const POOL_OWN_KEYS = [
  "min",
  "max",
  "connectTimeout",
  "acquireTimeout",
  "idleTimeout",
  "maxLifetime",
  "maxWaiting",
  "preconnect",
  "connector",
] as const satisfies readonly (keyof PoolOptions)[];
const CONNECT_KEYS = [
  "localAddress",
  "noDelay",
  "keepAlive",
  "autoSelectFamily",
  "autoSelectFamilyAttemptTimeout",
] as const satisfies readonly (keyof PoolOptions)[];
const POOL_OPTION_KEYS: readonly string[] = [...POOL_OWN_KEYS, ...CONNECT_KEYS];

// A key added to PoolOptions (or ConnectOptions) without being added to the
// lists above would be rejected as unknown: make that a compile error.
type UnlistedKey = Exclude<keyof PoolOptions, (typeof POOL_OWN_KEYS)[number] | (typeof CONNECT_KEYS)[number]>;
const everyKeyListed: [UnlistedKey] extends [never] ? true : never = true;
void everyKeyListed;

/** Options for `acquireFd` and `acquireNet`. */
export interface AcquireOptions {
  /** Stop waiting: the acquire rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Options for `acquireNet`. */
export interface NetAcquireOptions extends AcquireOptions {
  /**
   * An unconnected net.Socket (a subclass of a client's own, say) to adopt
   * the connection into, instead of a new one.
   */
  into?: net.Socket;
}

/** Options for `acquire`: the Bun socket's handlers and data, as for `Connector.connect`. */
export interface SocketAcquireOptions<Data> extends AcquireOptions {
  socket: SocketHandler<Data>;
  data?: Data;
}

const ACQUIRE_KEYS = ["signal"] as const satisfies readonly (keyof AcquireOptions)[];
const NET_ACQUIRE_KEYS = ["signal", "into"] as const satisfies readonly (keyof NetAcquireOptions)[];
const SOCKET_ACQUIRE_KEYS = ["socket", "data", "signal"] as const satisfies readonly (keyof SocketAcquireOptions<unknown>)[];

/** A Pool's options, checked, with defaults filled in; 0 means "none" for every time limit. */
export interface CheckedPoolOptions {
  min: number;
  max: number;
  connectTimeout: number;
  acquireTimeout: number;
  idleTimeout: number;
  maxLifetime: number;
  maxWaiting: number;
  preconnect: number;
  /** The Connector for the next batch of connects (the shared one is recreated if it was closed). */
  connector: (() => Connector) | undefined;
  /** The options each connect is given, `timeout` and `signal` aside. */
  connect: ConnectOptions;
}

/** Most connections a Pool holds: what one Connector can have in flight at once. */
export const MAX_POOL_SIZE = MAX_INFLIGHT;

/**
 * Check a Pool's options; throws TypeError/RangeError naming the field,
 * before anything is opened.
 */
export function checkPoolOptions(options: unknown): CheckedPoolOptions {
  if (options === undefined) options = {};
  if (options === null || typeof options !== "object" || Array.isArray(options)) throw invalidType("options", "an object", options);
  const o = options as Record<string, unknown>;
  // A connect's own timeout and signal would be ambiguous in a pool: say which option is meant.
  if (o.timeout !== undefined) throw invalidInput("options.timeout is not a Pool option: use connectTimeout (each connect) or acquireTimeout (each acquire)");
  if (o.signal !== undefined) throw invalidInput("options.signal is not a Pool option: pass a signal to each acquire, or call close()");
  rejectUnknownKeys(options, POOL_OPTION_KEYS);
  const { min, max, connectTimeout, acquireTimeout, idleTimeout, maxLifetime, maxWaiting, preconnect, connector, ...connect } = options as PoolOptions;

  const checkedMin = integer(min, "options.min", 0, MAX_POOL_SIZE, 0);
  const checkedMax = integer(max, "options.max", 1, MAX_POOL_SIZE, 100);
  if (checkedMin > checkedMax) throw invalidRange("options.min", `at most options.max (${checkedMax})`, checkedMin);
  if (connector !== undefined && !(connector instanceof Connector)) throw invalidType("options.connector", "a Connector", connector);
  checkConnectOptions(connect);
  return {
    min: checkedMin,
    max: checkedMax,
    connectTimeout: milliseconds(connectTimeout, "options.connectTimeout"),
    acquireTimeout: milliseconds(acquireTimeout, "options.acquireTimeout"),
    idleTimeout: milliseconds(idleTimeout, "options.idleTimeout"),
    maxLifetime: milliseconds(maxLifetime, "options.maxLifetime"),
    maxWaiting: maxWaiting === undefined ? Infinity : integer(maxWaiting, "options.maxWaiting", 0, Number.MAX_SAFE_INTEGER, 0),
    preconnect: ratio(preconnect, "options.preconnect"),
    connector: connector === undefined ? undefined : () => connector,
    connect,
  };
}

/** Check `acquireFd` options; returns the signal. Throws TypeError naming the field. */
export function checkAcquireOptions(options: unknown): AbortSignal | undefined {
  return checkSignalOptions(options, ACQUIRE_KEYS);
}

/** Check `acquireNet` options; returns the signal and the socket to adopt into. Throws TypeError naming the field. */
export function checkNetAcquireOptions(options: unknown): { signal: AbortSignal | undefined; into: net.Socket | undefined } {
  const signal = checkSignalOptions(options, NET_ACQUIRE_KEYS);
  const into = (options as NetAcquireOptions | undefined)?.into;
  if (into !== undefined && !(into instanceof net.Socket)) throw invalidType("options.into", "a net.Socket", into);
  return { signal, into };
}

/** Check `acquire` options: its keys, the Bun socket handlers, the signal. Throws TypeError naming the field. */
export function checkSocketAcquireOptions(options: unknown): AbortSignal | undefined {
  const signal = checkSignalOptions(options, SOCKET_ACQUIRE_KEYS);
  checkSocketOptions(options);
  return signal;
}

function checkSignalOptions(options: unknown, keys: readonly string[]): AbortSignal | undefined {
  if (options === undefined) return undefined;
  if (options === null || typeof options !== "object" || Array.isArray(options)) throw invalidType("options", "an object", options);
  rejectUnknownKeys(options, keys);
  const { signal } = options as AcquireOptions;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidType("options.signal", "an AbortSignal", signal);
  return signal;
}

function integer(value: unknown, field: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number") throw invalidType(field, `an integer in ${min}..${max}`, value);
  if (!Number.isInteger(value) || value < min || value > max) throw invalidRange(field, `an integer in ${min}..${max}`, value);
  return value;
}

/** Milliseconds in 0..MAX_TIMEOUT_MS (what one timer can wait), rounded up; 0 when absent. */
function milliseconds(value: unknown, field: string): number {
  if (value === undefined) return 0;
  if (typeof value !== "number") throw invalidType(field, "a number of milliseconds", value);
  if (!Number.isFinite(value) || value < 0 || value > MAX_TIMEOUT_MS) {
    throw invalidRange(field, `a finite number of milliseconds in 0..${MAX_TIMEOUT_MS}`, value);
  }
  // Round up so a sub-millisecond limit is not silently "none".
  return Math.ceil(value);
}

function ratio(value: unknown, field: string): number {
  if (value === undefined) return 0;
  if (typeof value !== "number") throw invalidType(field, "a finite number >= 0", value);
  if (!Number.isFinite(value) || value < 0) throw invalidRange(field, "a finite number >= 0", value);
  return value;
}
