/**
 * Validation of per-connect and per-Connector options. Everything here runs
 * before a slot or fd exists, and every failure names the field.
 */
import { encodeLocalAddress, type Endpoint } from "./address.ts";
import { invalidRange, invalidType } from "./errors.ts";
import { SocketFlag } from "./native.ts";

/** Options for one connect. */
export interface ConnectOptions {
  /** Milliseconds the kernel allows the connect itself (linked timeout); 0 or absent = none. */
  timeout?: number;
  /** Abort the connect: it rejects with the signal's reason and its socket is closed. */
  signal?: AbortSignal;
  /** Local IP address to bind before connecting (the kernel picks the port). */
  localAddress?: string;
  /** Set TCP_NODELAY on the new socket. */
  noDelay?: boolean;
  /** Set SO_KEEPALIVE on the new socket. */
  keepAlive?: boolean;
}

/** Options for a Connector. */
export interface ConnectorOptions {
  /** Submission queue size (default 1024, clamped by the kernel). */
  entries?: number;
  /** Most connects in the kernel at once; more wait in FIFO order (default 4096). */
  maxInflight?: number;
  /**
   * When io_uring cannot start: "none" throws; "bun" connects through Bun's
   * sockets instead, with the same API and error shapes. Default: "none", or
   * the URING_CONNECT_FALLBACK environment variable ("bun").
   */
  fallback?: "none" | "bun";
}

/** The largest timeout the shim's int32 millisecond field carries (~24.8 days). */
export const MAX_TIMEOUT_MS = 0x7fffffff;
export const MAX_INFLIGHT = 65536;
export const MAX_ENTRIES = 32768;

/** A connect's options, checked and reduced to what the slot needs. */
export interface CheckedOptions {
  timeoutMs: number;
  signal: AbortSignal | undefined;
  local: Endpoint | undefined;
  flags: number;
}

function optionalBoolean(value: unknown, field: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== "boolean") throw invalidType(field, "a boolean", value);
  return value;
}

/** Check connect options; throws TypeError/RangeError naming the field. */
export function checkConnectOptions(options: unknown, field = "options"): CheckedOptions {
  if (options === undefined) return { timeoutMs: 0, signal: undefined, local: undefined, flags: 0 };
  if (options === null || typeof options !== "object") throw invalidType(field, "an object", options);
  const o = options as Record<string, unknown>;

  let timeoutMs = 0;
  if (o.timeout !== undefined) {
    if (typeof o.timeout !== "number") throw invalidType(`${field}.timeout`, "a number of milliseconds", o.timeout);
    if (!Number.isFinite(o.timeout) || o.timeout < 0 || o.timeout > MAX_TIMEOUT_MS) {
      throw invalidRange(`${field}.timeout`, `a finite number of milliseconds in 0..${MAX_TIMEOUT_MS}`, o.timeout);
    }
    // Round up so a sub-millisecond timeout is not silently "no timeout".
    timeoutMs = Math.ceil(o.timeout);
  }

  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw invalidType(`${field}.signal`, "an AbortSignal", o.signal);
  }
  const local = o.localAddress === undefined ? undefined : encodeLocalAddress(o.localAddress, `${field}.localAddress`);

  let flags = 0;
  if (optionalBoolean(o.noDelay, `${field}.noDelay`)) flags |= SocketFlag.noDelay;
  if (optionalBoolean(o.keepAlive, `${field}.keepAlive`)) flags |= SocketFlag.keepAlive;
  // Bind the address only, leaving the port to connect(): a load generator
  // spreading over local addresses must not run out of ports at bind().
  if (local) flags |= SocketFlag.bindNoPort;
  return { timeoutMs, signal: o.signal as AbortSignal | undefined, local, flags };
}

function positiveInteger(value: unknown, field: string, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number") throw invalidType(field, `an integer in 1..${max}`, value);
  if (!Number.isInteger(value) || value < 1 || value > max) throw invalidRange(field, `an integer in 1..${max}`, value);
  return value;
}

/** An application can opt into the fallback without code: URING_CONNECT_FALLBACK=bun. */
function defaultFallback(): "none" | "bun" {
  return process.env.URING_CONNECT_FALLBACK === "bun" ? "bun" : "none";
}

/** Check Connector options; throws TypeError/RangeError naming the field. */
export function checkConnectorOptions(options: unknown): Required<ConnectorOptions> {
  if (options === undefined) return { entries: 1024, maxInflight: 4096, fallback: defaultFallback() };
  if (options === null || typeof options !== "object") throw invalidType("options", "an object", options);
  const o = options as Record<string, unknown>;
  const fallback = o.fallback ?? defaultFallback();
  if (fallback !== "none" && fallback !== "bun") throw invalidType("options.fallback", '"none" or "bun"', fallback);
  return {
    fallback,
    entries: positiveInteger(o.entries, "options.entries", MAX_ENTRIES, 1024),
    maxInflight: positiveInteger(o.maxInflight, "options.maxInflight", MAX_INFLIGHT, 4096),
  };
}
