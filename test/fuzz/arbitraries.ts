/**
 * Shared by the fuzz tests (fast-check, fixed seeds): the run settings,
 * generators and byte helpers more than one file uses, the independent
 * validation model (which fields of an input are invalid, and with which
 * error), and the checks that hold a call's outcome to that model.
 * Written independently of src/: it only uses src's IP literal parsers
 * (which fuzz-address.test.ts checks against glibc) and limits.
 */
import { expect } from "bun:test";
import fc from "fast-check";
import { parseIPv4, parseIPv6, UNIX_PATH_MAX } from "../../src/address.ts";
import { MAX_ENTRIES, MAX_INFLIGHT, MAX_TIMEOUT_MS } from "../../src/options.ts";

const SEED = 42;
export const run = (runs: number) => ({ seed: SEED, numRuns: runs });

export const dotted = (bytes: ArrayLike<number>): string => Array.from(bytes).join(".");

export function bytesOfGroups(groups: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(groups.length * 2);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

export const eqBytes = (a: ArrayLike<number>, b: ArrayLike<number>) => expect(Array.from(a)).toEqual(Array.from(b));

export const scopeId = fc.oneof(fc.constantFrom(0, 1, 0xffffffff), fc.integer({ min: 0, max: 0xffffffff }));

// ---------------------------------------------------------------------------
// Validation models: which fields of an input are invalid, and with which error.

export type ErrorClass = typeof TypeError | typeof RangeError;
export type Problems = Map<string, ErrorClass>;

/**
 * A host as src accepts it: a non-empty string, brackets stripped, no space,
 * NUL or "/", at most 253 characters; and either an IP literal or a name,
 * which has no ":", "%" or brackets (those only ever mean a bad IPv6 literal).
 */
function hostProblem(host: unknown): ErrorClass | null {
  if (typeof host !== "string" || host.length === 0) return TypeError;
  const bracketed = host.startsWith("[") && host.endsWith("]");
  const bare = bracketed ? host.slice(1, -1) : host;
  if (bare.length === 0 || bare.length > 253 || /[\s\0/]/.test(bare)) return TypeError;
  if (parseIPv4(bare) !== null || (bare.includes(":") && parseIPv6(bare) !== null)) return null;
  return bracketed || /[:%[\]]/.test(bare) ? TypeError : null;
}

function portProblem(port: unknown): ErrorClass | null {
  if (typeof port !== "number") return TypeError;
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? null : RangeError;
}

export const utf8 = (s: string) => new TextEncoder().encode(s);

export function unixProblem(path: unknown): ErrorClass | null {
  if (typeof path !== "string" || path.length === 0) return TypeError;
  const bytes = utf8(path);
  const abstract = bytes[0] === 0;
  if (!abstract && bytes.includes(0)) return TypeError;
  return bytes.length > (abstract ? UNIX_PATH_MAX : UNIX_PATH_MAX - 1) ? RangeError : null;
}

export function targetProblems(target: unknown, field: string, problems: Problems = new Map()): Problems {
  if (target === null || typeof target !== "object" || Array.isArray(target)) return problems.set(field, TypeError);
  const t = target as Record<string, unknown>;
  if ("unix" in t) {
    if ("host" in t || "port" in t) problems.set(field, TypeError);
    const unix = unixProblem(t.unix);
    if (unix) problems.set(`${field}.unix`, unix);
    return problems;
  }
  if (!("host" in t)) return problems.set(field, TypeError);
  const port = portProblem(t.port);
  if (port) problems.set(`${field}.port`, port);
  const host = hostProblem(t.host);
  if (host) problems.set(`${field}.host`, host);
  return problems;
}

export const isLiteral = (s: string) => parseIPv4(s) !== null || (s.includes(":") && parseIPv6(s) !== null);

/** Every own key outside `known` is a TypeError naming `field.key` (`field["key"]` for a non-identifier). */
function unknownKeyProblems(o: object, known: readonly string[], field: string, problems: Problems): void {
  for (const key of Object.keys(o)) {
    if (known.includes(key)) continue;
    problems.set(/^[A-Za-z_$][\w$]*$/.test(key) ? `${field}.${key}` : `${field}[${JSON.stringify(key)}]`, TypeError);
  }
}

export function optionsProblems(options: unknown, field: string, problems: Problems = new Map()): Problems {
  if (options === undefined) return problems;
  if (options === null || typeof options !== "object" || Array.isArray(options)) return problems.set(field, TypeError);
  unknownKeyProblems(options, ["timeout", "signal", "localAddress", "noDelay", "keepAlive"], field, problems);
  const o = options as Record<string, unknown>;
  if (o.timeout !== undefined) {
    if (typeof o.timeout !== "number") problems.set(`${field}.timeout`, TypeError);
    else if (!(o.timeout >= 0 && o.timeout <= MAX_TIMEOUT_MS)) problems.set(`${field}.timeout`, RangeError);
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) problems.set(`${field}.signal`, TypeError);
  if (o.localAddress !== undefined && (typeof o.localAddress !== "string" || !isLiteral(o.localAddress))) {
    problems.set(`${field}.localAddress`, TypeError);
  }
  for (const key of ["noDelay", "keepAlive"]) {
    if (o[key] !== undefined && typeof o[key] !== "boolean") problems.set(`${field}.${key}`, TypeError);
  }
  return problems;
}

export function connectorProblems(options: unknown): Problems {
  const problems: Problems = new Map();
  if (options === undefined) return problems;
  if (options === null || typeof options !== "object" || Array.isArray(options)) return problems.set("options", TypeError);
  unknownKeyProblems(options, ["entries", "maxInflight", "fallback"], "options", problems);
  const o = options as Record<string, unknown>;
  // null means "the default" here (src reads it with ??).
  if (o.fallback != null && o.fallback !== "none" && o.fallback !== "bun") problems.set("options.fallback", TypeError);
  for (const [key, max] of [["entries", MAX_ENTRIES], ["maxInflight", MAX_INFLIGHT]] as const) {
    const v = o[key];
    if (v === undefined) continue;
    if (typeof v !== "number") problems.set(`options.${key}`, TypeError);
    else if (!Number.isInteger(v) || v < 1 || v > max) problems.set(`options.${key}`, RangeError);
  }
  return problems;
}

/**
 * `error` must be a TypeError/RangeError whose message starts with a field
 * the model says is invalid, with the class the model expects for it.
 */
export function expectNamedError(error: unknown, problems: Problems): void {
  if (!(error instanceof TypeError || error instanceof RangeError)) {
    throw new Error(`expected a TypeError/RangeError naming one of [${[...problems.keys()]}], got ${String(error)}`);
  }
  // The longest invalid field the message starts with (a quoted key may hold spaces).
  const field = [...problems.keys()].filter((f) => error.message.startsWith(`${f} `)).sort((a, b) => b.length - a.length)[0];
  const expected = field === undefined ? undefined : problems.get(field);
  if (field === undefined || !expected) {
    throw new Error(`"${error.message}" names none of the invalid fields [${[...problems.keys()]}]`);
  }
  expect(error.message.startsWith(`${field} must`) || error.message.startsWith(`${field} is not a known option`)).toBe(true);
  expect(error).toBeInstanceOf(expected);
  // TypeError and RangeError are siblings: check it is not the other one.
  expect(error.constructor).toBe(expected);
}

/** Run `fn`; it must return normally iff `problems` is empty, else throw a named error. */
export function outcome<T>(problems: Problems, fn: () => T): T | undefined {
  let result: T;
  try {
    result = fn();
  } catch (error) {
    if (problems.size === 0) throw new Error(`valid input was rejected: ${String(error)}`);
    expectNamedError(error, problems);
    return undefined;
  }
  if (problems.size > 0) throw new Error(`invalid input [${[...problems.keys()]}] was accepted`);
  return result;
}
