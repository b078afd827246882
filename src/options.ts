/**
 * Validation of per-connect and per-Connector options. Everything here runs
 * before a slot or fd exists, and every failure names the field.
 */
import { encodeLocalAddress, type Endpoint } from "./address.ts";
import { invalidInput, invalidRange, invalidType, invalidValue, unknownOption } from "./errors.ts";
import { SocketFlag } from "./layout.ts";

/** Options for one connect. Any other key is a TypeError: a misspelt option is never silently ignored. */
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
  /**
   * For a host name that resolves to both IPv6 and IPv4 addresses, race
   * them (Happy Eyeballs, RFC 8305): IPv6 first, alternating families, the
   * next attempt after `autoSelectFamilyAttemptTimeout` or as soon as one
   * fails; the first to connect wins and the others are cancelled. Default
   * true. false: try the addresses one after another, in DNS order. Names
   * with one family and IP literals are never raced. (node:net's name.)
   */
  autoSelectFamily?: boolean;
  /**
   * Milliseconds to wait for an attempt before starting the next one in a
   * Happy Eyeballs race (RFC 8305's "Connection Attempt Delay"). Default
   * 250; values below 10 are raised to 10, as RFC 8305 requires and
   * node:net does. (node:net's name.)
   */
  autoSelectFamilyAttemptTimeout?: number;
}

/** Options for a Connector. Any other key is a TypeError, as for ConnectOptions. */
export interface ConnectorOptions {
  /**
   * Submission queue size (default 1024, clamped by the kernel). Values below
   * the Connector's minimum of 2 are raised to it: a connect with a timeout
   * is two linked queue entries that must be queued together.
   */
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
/** RFC 8305's recommended Connection Attempt Delay, node:net's default too. */
export const DEFAULT_ATTEMPT_DELAY_MS = 250;
/** RFC 8305 section 5: the delay MUST NOT be less than 10 ms, to avoid congestion collapse. */
export const MIN_ATTEMPT_DELAY_MS = 10;
/** The most slots (`maxInflight`) a Connector takes. */
export const MAX_INFLIGHT = 65536;
/** The largest submission queue (`entries`) io_uring allows. */
export const MAX_ENTRIES = 32768;

/** The keys of ConnectOptions and ConnectorOptions; anything else is a mistake worth naming. */
export const CONNECT_OPTION_KEYS = [
  "timeout",
  "signal",
  "localAddress",
  "noDelay",
  "keepAlive",
  "autoSelectFamily",
  "autoSelectFamilyAttemptTimeout",
] as const satisfies readonly (keyof ConnectOptions)[];
const CONNECTOR_OPTION_KEYS = ["entries", "maxInflight", "fallback"] as const satisfies readonly (keyof ConnectorOptions)[];
/** `connect()` takes the connect options plus the socket handlers and the socket's data. */
const SOCKET_CONNECT_OPTION_KEYS = [...CONNECT_OPTION_KEYS, "socket", "data"] as const;
/** The handlers Bun's SocketHandler has (binaryType, its one other field, is not a handler). */
const SOCKET_HANDLER_KEYS = ["open", "close", "error", "data", "drain", "end", "timeout", "connectError", "handshake"] as const;

/** A connect's options, checked and reduced to what the slot needs; read only, and may be shared. */
export interface CheckedOptions {
  readonly timeoutMs: number;
  readonly signal: AbortSignal | undefined;
  readonly local: Endpoint | undefined;
  readonly flags: number;
  /** Race a name's IPv6 and IPv4 addresses (Happy Eyeballs). */
  readonly autoSelectFamily: boolean;
  /** Milliseconds before a race starts its next attempt, at least MIN_ATTEMPT_DELAY_MS. */
  readonly attemptDelayMs: number;
}

/** What no options mean: one shared object, so a connect without options allocates none. */
export const DEFAULT_CHECKED_OPTIONS: CheckedOptions = Object.freeze({
  timeoutMs: 0,
  signal: undefined,
  local: undefined,
  flags: 0,
  autoSelectFamily: true,
  attemptDelayMs: DEFAULT_ATTEMPT_DELAY_MS,
});

/**
 * Throw a TypeError for the first own key of `options` that is not in
 * `known`, naming it (`options.timout is not a known option; did you mean
 * "timeout"?`): a misspelt option would otherwise be silently ignored.
 * `field` is the name the object has in messages.
 */
export function rejectUnknownKeys(options: object, known: readonly string[], field = "options"): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    throw unknownOption(fieldOf(field, key), nearestKey(key, known), known);
  }
}

/** `options.key`, or `options["key"]` when the key is not an identifier. */
function fieldOf(field: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${field}.${key}` : `${field}[${JSON.stringify(key)}]`;
}

/**
 * The known key closest to `key` by edit distance, ignoring case, when it is
 * close enough to be a likely misspelling (at most a third of the key's
 * letters, and at least 2, differ); else undefined.
 */
function nearestKey(key: string, known: readonly string[]): string | undefined {
  const typed = key.toLowerCase();
  const limit = Math.max(2, Math.floor(typed.length / 3));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of known) {
    const distance = editDistance(typed, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance (insertions, deletions, substitutions), one row at a time. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length]!;
}

function optionalBoolean(value: unknown, field: string, fallback = false): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw invalidType(field, "a boolean", value);
  return value;
}

/** Check connect options; throws TypeError/RangeError naming the field. */
export function checkConnectOptions(options: unknown, field = "options"): CheckedOptions {
  if (options === undefined) return DEFAULT_CHECKED_OPTIONS;
  if (options === null || typeof options !== "object" || Array.isArray(options)) throw invalidType(field, "an object", options);
  // A frozen object cannot change: checked once, its result serves every later connect (none allocated).
  if (!Object.isFrozen(options)) return checkFields(options, field);
  let checked = checkedFrozenOptions.get(options);
  if (!checked) checkedFrozenOptions.set(options, (checked = checkFields(options, field)));
  return checked;
}

const checkedFrozenOptions = new WeakMap<object, CheckedOptions>();

function checkFields(options: object, field: string): CheckedOptions {
  rejectUnknownKeys(options, CONNECT_OPTION_KEYS, field);
  const o = options as Record<string, unknown>;

  const timeoutMs = milliseconds(o.timeout, `${field}.timeout`, 0, 0);

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
  const autoSelectFamily = optionalBoolean(o.autoSelectFamily, `${field}.autoSelectFamily`, true);
  const attemptDelay = milliseconds(o.autoSelectFamilyAttemptTimeout, `${field}.autoSelectFamilyAttemptTimeout`, 1, DEFAULT_ATTEMPT_DELAY_MS);
  const attemptDelayMs = Math.max(attemptDelay, MIN_ATTEMPT_DELAY_MS);
  return { timeoutMs, signal: o.signal as AbortSignal | undefined, local, flags, autoSelectFamily, attemptDelayMs };
}

/**
 * A number of milliseconds in `min`..MAX_TIMEOUT_MS, rounded up (so a
 * sub-millisecond timeout is not silently "no timeout"); `fallback` when
 * absent. Throws TypeError/RangeError naming `field`.
 */
function milliseconds(value: unknown, field: string, min: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number") throw invalidType(field, "a number of milliseconds", value);
  if (!Number.isFinite(value) || value < min || value > MAX_TIMEOUT_MS) {
    throw invalidRange(field, `a finite number of milliseconds in ${min}..${MAX_TIMEOUT_MS}`, value);
  }
  return Math.ceil(value);
}

/**
 * Check `connect()`'s own part of its options: known keys, and Bun socket
 * handlers Bun will accept (every handler a function, and a data or drain
 * handler, without which Bun refuses the socket), so a mistake is a
 * TypeError before a connection is opened rather than after.
 */
export function checkSocketOptions(options: unknown): void {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw invalidType("options", "an object with socket handlers", options);
  }
  rejectUnknownKeys(options, SOCKET_CONNECT_OPTION_KEYS);
  const socket = (options as { socket?: unknown }).socket;
  if (socket === null || typeof socket !== "object") throw invalidType("options.socket", "an object of Bun socket handlers", socket);
  const handlers = socket as Record<string, unknown>;
  for (const name of SOCKET_HANDLER_KEYS) {
    if (handlers[name] !== undefined && typeof handlers[name] !== "function") {
      throw invalidType(`options.socket.${name}`, "a function", handlers[name]);
    }
  }
  if (handlers.data === undefined && handlers.drain === undefined) {
    throw invalidInput("options.socket must have a data or drain handler: Bun cannot adopt a socket without one");
  }
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
  if (options === null || typeof options !== "object" || Array.isArray(options)) throw invalidType("options", "an object", options);
  rejectUnknownKeys(options, CONNECTOR_OPTION_KEYS);
  const o = options as Record<string, unknown>;
  const fallback = o.fallback ?? defaultFallback();
  if (typeof fallback !== "string") throw invalidType("options.fallback", '"none" or "bun"', fallback);
  if (fallback !== "none" && fallback !== "bun") throw invalidValue("options.fallback", '"none" or "bun"', fallback);
  return {
    fallback,
    entries: positiveInteger(o.entries, "options.entries", MAX_ENTRIES, 1024),
    maxInflight: positiveInteger(o.maxInflight, "options.maxInflight", MAX_INFLIGHT, 4096),
  };
}
