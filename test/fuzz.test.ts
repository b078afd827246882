/**
 * Property-based tests (fast-check, fixed seeds): address parsing and
 * encoding, every connect and Connector option, and end to end connects
 * against real loopback servers. Random input never crashes, never opens an
 * fd, and always ends as a valid connect (or a kernel ConnectError) or a
 * TypeError/RangeError naming the field.
 *
 * Traffic never leaves loopback: end-to-end targets are drawn only from
 * loopback literals, unix paths and invalid values, and every draw passes a
 * guard (assertLoopbackOnly) before it reaches the Connector.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { dlopen, ptr } from "bun:ffi";
import { closeSync } from "node:fs";
import { join } from "node:path";
import {
  AF_INET,
  AF_INET6,
  AF_UNIX,
  encodeIp,
  encodeLocalAddress,
  encodeUnix,
  parseIPv4,
  parseIPv6,
  parseTarget,
  UNIX_PATH_MAX,
  type Endpoint,
} from "../src/address.ts";
import { ConnectError, Connector, type ConnectOptions, type Target } from "../src/index.ts";
import { SocketFlag } from "../src/native.ts";
import { checkConnectOptions, checkConnectorOptions, MAX_ENTRIES, MAX_INFLIGHT, MAX_TIMEOUT_MS } from "../src/options.ts";
import { expectClean, fdCount, startServer, tempDir, waitFor } from "./harness.ts";

const SEED = 42;
const run = (runs: number) => ({ seed: SEED, numRuns: runs });

// ---------------------------------------------------------------------------
// Reference formatting and models, written independently of src/.

const dotted = (bytes: ArrayLike<number>): string => Array.from(bytes).join(".");

/** A strict dotted quad: four decimal bytes, no leading zeros. */
const STRICT_IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

function groupsOf(bytes: Uint8Array): number[] {
  return Array.from({ length: bytes.length / 2 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
}

function bytesOfGroups(groups: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(groups.length * 2);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

/** The longest run (>= minRun) of zero groups, first on a tie: [start, length] or null. */
function longestZeroRun(groups: readonly number[], minRun: number): [number, number] | null {
  let best: [number, number] | null = null;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i >= minRun && (!best || j - i > best[1])) best = [i, j - i];
    i = j;
  }
  return best;
}

type HexStyle = "lower" | "upper" | "padded";

function hexGroup(g: number, style: HexStyle): string {
  const s = g.toString(16);
  if (style === "upper") return s.toUpperCase();
  if (style === "padded") return s.padStart(4, "0");
  return s;
}

/** Groups as text, with the zero run at `run` (if any) written as "::". */
function joinGroups(groups: readonly number[], run: [number, number] | null, style: HexStyle): string {
  if (!run) return groups.map((g) => hexGroup(g, style)).join(":");
  const [start, length] = run;
  const head = groups.slice(0, start).map((g) => hexGroup(g, style)).join(":");
  const tail = groups.slice(start + length).map((g) => hexGroup(g, style)).join(":");
  return `${head}::${tail}`;
}

/** RFC 5952 canonical text: lower case, no leading zeros, the longest run of two or more zero groups as "::". */
function canonicalIPv6(bytes: Uint8Array): string {
  const groups = groupsOf(bytes);
  return joinGroups(groups, longestZeroRun(groups, 2), "lower");
}

type V6Form = "full" | "canonical" | "upper" | "anyRun" | "embedded";

/** Any of the valid text forms of 16 bytes. */
function formatIPv6(bytes: Uint8Array, form: V6Form, pick: number): string {
  const groups = groupsOf(bytes);
  switch (form) {
    case "full":
      return joinGroups(groups, null, "padded");
    case "canonical":
      return canonicalIPv6(bytes);
    case "upper":
      return joinGroups(groups, longestZeroRun(groups, 2), "upper");
    case "anyRun": {
      // Compress some zero run, even a single group ("1:2:3:4:5:6:7::").
      const runs: [number, number][] = [];
      for (let i = 0; i < 8; i++) for (let j = i + 1; j <= 8 && groups[j - 1] === 0; j++) runs.push([i, j - i]);
      return joinGroups(groups, runs.length ? runs[pick % runs.length]! : null, "lower");
    }
    case "embedded": {
      const head = groups.slice(0, 6);
      const text = joinGroups(head, longestZeroRun(head, 2), "lower");
      return `${text}${text.endsWith(":") ? "" : ":"}${dotted(bytes.subarray(12))}`;
    }
  }
}

/**
 * The reference parser: glibc's inet_pton (through bun:ffi), the parser C
 * programs use for these literals. Returns the bytes, or null when it
 * rejects the text. (Text with a NUL would be cut short in C: callers skip it.)
 */
const libc = dlopen("libc.so.6", { inet_pton: { args: ["i32", "ptr", "ptr"], returns: "i32" } });
function inetPton(family: typeof AF_INET | typeof AF_INET6, text: string): Uint8Array | null {
  const out = new Uint8Array(16);
  const cText = Buffer.from(`${text}\0`); // held in a variable: alive across the call
  const ok = libc.symbols.inet_pton(family, ptr(cText), ptr(out)) === 1;
  return ok ? out.subarray(0, family === AF_INET ? 4 : 16) : null;
}

const eqBytes = (a: ArrayLike<number>, b: ArrayLike<number>) => expect(Array.from(a)).toEqual(Array.from(b));

// Groups biased toward zero so compression happens often.
const group = fc.oneof({ arbitrary: fc.constant(0), weight: 2 }, { arbitrary: fc.integer({ min: 0, max: 0xffff }), weight: 3 });
const v6Bytes = fc.array(group, { minLength: 8, maxLength: 8 }).map(bytesOfGroups);
const v4Bytes = fc.uint8Array({ minLength: 4, maxLength: 4 });
const v6Form = fc.constantFrom<V6Form>("full", "canonical", "upper", "anyRun", "embedded");
const scopeId = fc.oneof(fc.constantFrom(0, 1, 0xffffffff), fc.integer({ min: 0, max: 0xffffffff }));

// ---------------------------------------------------------------------------
// Validation models: which fields of an input are invalid, and with which error.

type ErrorClass = typeof TypeError | typeof RangeError;
type Problems = Map<string, ErrorClass>;

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

const utf8 = (s: string) => new TextEncoder().encode(s);

function unixProblem(path: unknown): ErrorClass | null {
  if (typeof path !== "string" || path.length === 0) return TypeError;
  const bytes = utf8(path);
  const abstract = bytes[0] === 0;
  if (!abstract && bytes.includes(0)) return TypeError;
  return bytes.length > (abstract ? UNIX_PATH_MAX : UNIX_PATH_MAX - 1) ? RangeError : null;
}

function targetProblems(target: unknown, field: string, problems: Problems = new Map()): Problems {
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

const isLiteral = (s: string) => parseIPv4(s) !== null || (s.includes(":") && parseIPv6(s) !== null);

function optionsProblems(options: unknown, field: string, problems: Problems = new Map()): Problems {
  if (options === undefined) return problems;
  if (options === null || typeof options !== "object") return problems.set(field, TypeError);
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

function connectorProblems(options: unknown): Problems {
  const problems: Problems = new Map();
  if (options === undefined) return problems;
  if (options === null || typeof options !== "object") return problems.set("options", TypeError);
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
function expectNamedError(error: unknown, problems: Problems): void {
  if (!(error instanceof TypeError || error instanceof RangeError)) {
    throw new Error(`expected a TypeError/RangeError naming one of [${[...problems.keys()]}], got ${String(error)}`);
  }
  const field = error.message.split(" ")[0]!;
  const expected = problems.get(field);
  if (!expected) {
    throw new Error(`"${error.message}" names ${field}, but the invalid fields are [${[...problems.keys()]}]`);
  }
  expect(error.message.startsWith(`${field} must`)).toBe(true);
  expect(error).toBeInstanceOf(expected);
  // TypeError and RangeError are siblings: check it is not the other one.
  expect(error.constructor).toBe(expected);
}

/** Run `fn`; it must return normally iff `problems` is empty, else throw a named error. */
function outcome<T>(problems: Problems, fn: () => T): T | undefined {
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

// ---------------------------------------------------------------------------

describe("IPv4", () => {
  test("any 4 bytes round-trip through the dotted quad", () => {
    fc.assert(
      fc.property(v4Bytes, (bytes) => {
        eqBytes(parseIPv4(dotted(bytes))!, bytes);
      }),
      run(2000),
    );
  });

  test("any string parses to bytes whose dotted form is that string, or to null; never throws", () => {
    const text = fc.oneof(
      fc.ipV4(),
      fc.ipV4Extended(),
      fc.stringOf(fc.constantFrom(..."0123456789."), { maxLength: 20 }),
      fc.stringOf(fc.constantFrom(..."0123456789.-+ x:%"), { maxLength: 20 }),
      fc.string(),
      fc.fullUnicodeString({ maxLength: 20 }),
    );
    fc.assert(
      fc.property(text, (s) => {
        const bytes = parseIPv4(s);
        if (bytes === null) expect(STRICT_IPV4.test(s)).toBe(false);
        else {
          expect(bytes.length).toBe(4);
          expect(dotted(bytes)).toBe(s);
        }
        if (!s.includes("\0")) {
          const reference = inetPton(AF_INET, s);
          if (reference === null) expect(bytes).toBeNull();
          else eqBytes(bytes!, reference);
        }
      }),
      run(5000),
    );
  });
});

describe("IPv6", () => {
  test("any 16 bytes in full, canonical, upper-case, compressed and embedded-IPv4 forms parse to the same bytes", () => {
    fc.assert(
      fc.property(v6Bytes, v6Form, fc.nat(), (bytes, form, pick) => {
        const text = formatIPv6(bytes, form, pick);
        const parsed = parseIPv6(text);
        if (!parsed) throw new Error(`${text} (${form}) did not parse`);
        eqBytes(parsed.bytes, bytes);
        expect(parsed.scopeId).toBe(0);
        eqBytes(inetPton(AF_INET6, text)!, bytes);
        // The reference formatter's canonical form is the URL parser's.
        expect(new URL(`http://[${canonicalIPv6(bytes)}]/`).hostname).toBe(`[${canonicalIPv6(bytes)}]`);
      }),
      run(3000),
    );
  });

  test("fc.ipV6() literals parse to the bytes inet_pton gives", () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const parsed = parseIPv6(text);
        if (!parsed) throw new Error(`${text} did not parse`);
        eqBytes(parsed.bytes, inetPton(AF_INET6, text)!);
      }),
      run(3000),
    );
  });

  test("numeric zones: %N gives scopeId N (leading zeros allowed); above 2^32-1 is rejected", () => {
    fc.assert(
      fc.property(v6Bytes, v6Form, scopeId, fc.integer({ min: 0, max: 3 }), (bytes, form, id, zeros) => {
        const digits = "0".repeat(zeros) + String(id);
        const text = `${formatIPv6(bytes, form, id)}%${digits}`;
        const parsed = parseIPv6(text);
        if (digits.length > 10) {
          expect(parsed).toBeNull();
          return;
        }
        if (!parsed) throw new Error(`${text} did not parse`);
        eqBytes(parsed.bytes, bytes);
        expect(parsed.scopeId).toBe(id);
      }),
      run(2000),
    );
    fc.assert(
      fc.property(fc.integer({ min: 2 ** 32, max: 9_999_999_999 }), (id) => {
        expect(parseIPv6(`fe80::1%${id}`)).toBeNull();
      }),
      run(500),
    );
  });

  test("any zone-less string: never throws, and is accepted exactly when the reference accepts it, with its bytes", () => {
    const v6Chars = fc.constantFrom(..."0123456789abcdefABCDEF:.", "::", "::", "0", "ff", "1.2.3.4", "255.");
    const text = fc.oneof(
      fc.stringOf(v6Chars, { maxLength: 24 }),
      fc.ipV6().map((s) => s.slice(0, -1)),
      fc.tuple(fc.ipV6(), fc.ipV6()).map(([a, b]) => `${a}:${b}`),
      fc.tuple(fc.ipV6(), fc.nat(40)).map(([a, n]) => a.slice(0, n) + ":" + a.slice(n)),
    );
    fc.assert(
      fc.property(text, (s) => {
        const parsed = parseIPv6(s);
        const reference = inetPton(AF_INET6, s);
        if (reference === null) expect(parsed).toBeNull();
        else {
          if (!parsed) throw new Error(`${s} did not parse, but inet_pton accepts it`);
          eqBytes(parsed.bytes, reference);
          expect(parsed.scopeId).toBe(0);
        }
      }),
      run(5000),
    );
  });

  test("any string with or without a zone never throws; a result is 16 bytes and a uint32 scope", () => {
    const zone = fc.oneof(
      fc.constantFrom("lo", "LO", "eth0", ".", "..", "", "1", "-1", "0x1", "lo/../lo", "%", "lo\0"),
      fc.stringOf(fc.constantFrom(..."abc019_.:-/%"), { maxLength: 18 }),
      fc.string({ maxLength: 18 }),
    );
    const text = fc.oneof(
      fc.string(),
      fc.fullUnicodeString(),
      fc.tuple(fc.oneof(fc.ipV6(), fc.string()), zone).map(([a, z]) => `${a}%${z}`),
    );
    fc.assert(
      fc.property(text, (s) => {
        const parsed = parseIPv6(s);
        if (parsed === null) return;
        expect(parsed.bytes.length).toBe(16);
        expect(Number.isInteger(parsed.scopeId) && parsed.scopeId >= 0 && parsed.scopeId <= 0xffffffff).toBe(true);
      }),
      run(3000),
    );
    // Interface names resolve through sysfs.
    expect(parseIPv6("fe80::1%lo")!.scopeId).toBe(1);
  });
});

describe("sockaddr encoding", () => {
  test("encodeIp: sockaddr_in is family (LE), port (BE), address, zero padding", () => {
    fc.assert(
      fc.property(v4Bytes, fc.integer({ min: 0, max: 65535 }), (bytes, port) => {
        const host = dotted(bytes);
        const e = encodeIp(host, port)!;
        expect(e.family).toBe(AF_INET);
        expect(e.address).toBe(host);
        expect(e.port).toBe(port);
        eqBytes(e.sockaddr, [AF_INET, 0, port >> 8, port & 0xff, ...bytes, 0, 0, 0, 0, 0, 0, 0, 0]);
      }),
      run(2000),
    );
  });

  test("encodeIp: sockaddr_in6 is family (LE), port (BE), zero flowinfo, address, scope id (LE)", () => {
    fc.assert(
      fc.property(v6Bytes, v6Form, fc.option(scopeId), fc.integer({ min: 0, max: 65535 }), (bytes, form, id, port) => {
        const host = formatIPv6(bytes, form, port) + (id === null ? "" : `%${id}`);
        const e = encodeIp(host, port)!;
        expect(e.family).toBe(AF_INET6);
        expect(e.address).toBe(host);
        expect(e.port).toBe(port);
        const scope = id ?? 0;
        const le32 = [scope & 0xff, (scope >>> 8) & 0xff, (scope >>> 16) & 0xff, scope >>> 24];
        eqBytes(e.sockaddr, [AF_INET6, 0, port >> 8, port & 0xff, 0, 0, 0, 0, ...bytes, ...le32]);
      }),
      run(2000),
    );
  });

  test("encodeIp: anything that is not a literal gives null, never throws", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.domain(), fc.ipV4Extended(), fc.fullUnicodeString()), (s) => {
        const e = encodeIp(s, 80);
        if (isLiteral(s)) expect(e?.address).toBe(s);
        else expect(e).toBeNull();
      }),
      run(3000),
    );
  });

  // Characters of 1, 2, 3 and 4 UTF-8 bytes, and lone surrogates (3 bytes as U+FFFD).
  const pathChar = fc.constantFrom("a", "/", ".", "é", "€", "😀", "\ud800", "\udfff", " ", "\n");
  const unixPath = fc.oneof(
    fc.stringOf(pathChar, { minLength: 1, maxLength: 70 }),
    fc.stringOf(pathChar, { minLength: 1, maxLength: 70 }).map((s) => `\0${s}`),
    fc.tuple(fc.integer({ min: 100, max: 112 }), fc.boolean()).map(([n, abs]) => (abs ? "\0" : "/") + "a".repeat(n - 1)),
    fc.fullUnicodeString({ maxLength: 120 }),
    fc.string({ unit: "binary", maxLength: 120 }),
    fc.stringOf(fc.constantFrom("a", "\0"), { maxLength: 5 }),
    fc.anything(),
  );

  test("encodeUnix: fitting paths encode exactly; too long is a RangeError, empty or non-string a TypeError, naming the field", () => {
    fc.assert(
      fc.property(unixPath, fc.constantFrom("unix", "target.unix", "targets[3].unix"), (path, field) => {
        const problem = unixProblem(path);
        const e = outcome(problem ? new Map([[field, problem]]) : new Map(), () => encodeUnix(path, field));
        if (!e) {
          if (problem === RangeError) {
            const limit = utf8(path as string)[0] === 0 ? UNIX_PATH_MAX : UNIX_PATH_MAX - 1;
            expect(() => encodeUnix(path, field)).toThrow(`${field} must be at most ${limit} bytes`);
          }
          return;
        }
        const bytes = utf8(path as string);
        const abstract = bytes[0] === 0;
        expect(bytes.length).toBeLessThanOrEqual(abstract ? 108 : 107);
        expect(e.family).toBe(AF_UNIX);
        expect(e.address).toBe(path as string);
        expect(e.port).toBeUndefined();
        eqBytes(e.sockaddr, [AF_UNIX, 0, ...bytes, ...(abstract ? [] : [0])]);
      }),
      run(3000),
    );
  });

  test("encodeLocalAddress: literals encode with port 0; anything else is a TypeError naming the field", () => {
    const local = fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom("[::1]", "localhost", "", "127.0.0.1:80"), fc.string(), fc.anything());
    fc.assert(
      fc.property(local, (value) => {
        const valid = typeof value === "string" && isLiteral(value);
        const e = outcome(valid ? new Map() : new Map([["options.localAddress", TypeError]]), () =>
          encodeLocalAddress(value, "options.localAddress"),
        );
        if (!e) return;
        expect(e.address).toBe(value as string);
        expect(e.port).toBe(0);
        expect([e.sockaddr[2], e.sockaddr[3]]).toEqual([0, 0]);
      }),
      run(2000),
    );
  });
});

// ---------------------------------------------------------------------------
// Arbitrary field values: near-valid ones of every shape, plus anything.

const anyPort = fc.oneof(
  fc.integer({ min: 1, max: 65535 }),
  fc.constantFrom(0, -0, -1, 65536, 1.5, NaN, Infinity, -Infinity, "80", null, undefined, true),
  fc.integer(),
  fc.double(),
  fc.bigInt(),
  fc.anything(),
);
const anyHost = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.ipV6().map((s) => `[${s}]`),
  fc.tuple(fc.ipV6(), fc.oneof(scopeId.map(String), fc.constantFrom("lo", "nope0", ""))).map(([a, z]) => `${a}%${z}`),
  fc.domain(),
  fc.constantFrom("", "[]", "[", "]", "a b", "a\0b", "a/b", " x", "x\t", "x".repeat(253), "x".repeat(254), "[::1", "1::2::3"),
  fc.string(),
  fc.fullUnicodeString(),
  fc.anything(),
);
const anyUnix = fc.oneof(fc.constantFrom("/tmp/x.sock", "\0abstract", "", "a\0b", "/" + "a".repeat(107)), fc.string(), fc.anything());
const anyTarget = fc.oneof(
  fc.record({ host: anyHost, port: anyPort }),
  fc.record({ unix: anyUnix }),
  fc.record({ host: anyHost, port: anyPort, unix: anyUnix }, { requiredKeys: [] }),
  fc.object(),
  fc.anything(),
);

const anyTimeout = fc.oneof(
  fc.double({ min: 0, max: MAX_TIMEOUT_MS, noNaN: true }),
  fc.constantFrom(0, -0, 1e-9, 0.5, MAX_TIMEOUT_MS, MAX_TIMEOUT_MS + 0.5, MAX_TIMEOUT_MS + 1, -1, NaN, Infinity, "100", null),
  fc.double(),
  fc.anything(),
);
const anySignal = fc.oneof(
  fc.constant(null).map(() => new AbortController().signal),
  fc.constant(null).map(() => AbortSignal.abort()),
  fc.constantFrom(null, "signal", 1, {}),
  fc.anything(),
);
const anyLocal = fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom("::1%1", "[::1]", "localhost", ""), fc.string(), fc.anything());
const anyFlag = fc.oneof(fc.boolean(), fc.constantFrom(0, 1, "true", null), fc.anything());
const anyOptions = fc.oneof(
  fc.record(
    { timeout: anyTimeout, signal: anySignal, localAddress: anyLocal, noDelay: anyFlag, keepAlive: anyFlag },
    { requiredKeys: [] },
  ),
  fc.constant(undefined),
  fc.object(),
  fc.anything(),
);

/** What a call did: its result, or the error's class and message. */
function settle<T>(fn: () => T): { ok: T } | { error: string } {
  try {
    return { ok: fn() };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

describe("validation of arbitrary input", () => {
  test("parseTarget: a valid parse or a TypeError/RangeError naming an invalid field, never anything else", () => {
    fc.assert(
      fc.property(anyTarget, fc.constantFrom("target", "targets[7]"), (target, field) => {
        const parsed = outcome(targetProblems(target, field), () => parseTarget(target, field));
        if (!parsed) return;
        const t = target as Record<string, unknown>;
        if ("unix" in t) {
          expect(parsed.kind).toBe("endpoint");
          if (parsed.kind === "endpoint") expect(parsed.endpoint.address).toBe(t.unix as string);
          return;
        }
        const host = t.host as string;
        const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
        if (parsed.kind === "name") {
          expect(parsed).toEqual({ kind: "name", host: bare, port: t.port as number });
          expect(isLiteral(bare)).toBe(false);
        } else {
          expect(isLiteral(bare)).toBe(true);
          expect(parsed.endpoint.port).toBe(t.port as number);
          eqBytes(parsed.endpoint.sockaddr, encodeIp(bare, t.port as number)!.sockaddr);
        }
        // The same object again (cached) parses the same.
        expect(parseTarget(target, field)).toEqual(parsed);
      }),
      run(5000),
    );
  });

  test("a reused target object parses like a fresh copy of it after its fields change", () => {
    // parseTarget caches each object's parse; changing host, port or unix must not return a stale one.
    const key = fc.constantFrom("host", "port", "unix");
    const value = fc
      .oneof(fc.constantFrom("127.0.0.1", "::1", "example.test", "/tmp/x.sock", 80, 443, NaN), anyHost, anyPort, anyUnix)
      .filter((v) => v !== undefined); // undefined values: the regression test below
    const step = fc.oneof(
      fc.tuple(key, value).map(([k, v]) => ({ k, v, remove: false })),
      key.map((k) => ({ k, v: undefined, remove: true })),
    );
    const start = fc.oneof(
      fc.record({ host: fc.constantFrom("127.0.0.1", "::1", "example.test"), port: fc.constantFrom(80, 443) }),
      fc.record({ unix: fc.constantFrom("/tmp/x.sock", "\0x") }),
    );
    fc.assert(
      fc.property(start, fc.array(step, { maxLength: 8 }), (initial, steps) => {
        const t: Record<string, unknown> = { ...initial };
        expect(settle(() => parseTarget(t))).toEqual(settle(() => parseTarget({ ...t })));
        for (const { k, v, remove } of steps) {
          if (remove) delete t[k];
          else t[k] = v;
          expect(settle(() => parseTarget(t))).toEqual(settle(() => parseTarget({ ...t })));
        }
      }),
      run(3000),
    );
  });

  // Regression (found by this file): the cache compared host/port/unix values
  // but not which keys exist, so adding `unix: undefined` to a cached
  // { host, port } returned the stale parse where a fresh object throws.
  test("a cached target gains a key whose value is undefined: parses like a fresh copy", () => {
    const t: Record<string, unknown> = { host: "127.0.0.1", port: 80 };
    parseTarget(t);
    t.unix = undefined;
    expect(settle(() => parseTarget(t))).toEqual(settle(() => parseTarget({ ...t })));
  });

  test("checkConnectOptions: checked values or a TypeError/RangeError naming an invalid field", () => {
    fc.assert(
      fc.property(anyOptions, (options) => {
        const checked = outcome(optionsProblems(options, "options"), () => checkConnectOptions(options));
        if (!checked) return;
        const o = (options ?? {}) as Record<string, unknown>;
        const timeout = (o.timeout as number | undefined) ?? 0;
        expect(Number.isInteger(checked.timeoutMs)).toBe(true);
        expect(checked.timeoutMs === Math.ceil(timeout)).toBe(true);
        if (timeout > 0) expect(checked.timeoutMs).toBeGreaterThanOrEqual(1);
        expect(checked.timeoutMs <= MAX_TIMEOUT_MS).toBe(true);
        expect(checked.signal).toBe(o.signal as AbortSignal | undefined);
        if (o.localAddress === undefined) expect(checked.local).toBeUndefined();
        else eqBytes(checked.local!.sockaddr, encodeIp(o.localAddress as string, 0)!.sockaddr);
        const flags =
          (o.noDelay === true ? SocketFlag.noDelay : 0) |
          (o.keepAlive === true ? SocketFlag.keepAlive : 0) |
          (o.localAddress !== undefined ? SocketFlag.bindNoPort : 0);
        expect(checked.flags).toBe(flags);
      }),
      run(5000),
    );
  });

  const anyCount = (max: number) =>
    fc.oneof(
      fc.integer({ min: 1, max }),
      fc.constantFrom(0, -1, max, max + 1, 1.5, NaN, Infinity, "8", null),
      fc.integer(),
      fc.double(),
      fc.anything(),
    );
  const anyFallback = fc.oneof(fc.constantFrom("none", "bun", null, undefined, "", "BUN", 0), fc.anything());
  const anyConnectorOptions = fc.oneof(
    fc.record({ entries: anyCount(MAX_ENTRIES), maxInflight: anyCount(MAX_INFLIGHT), fallback: anyFallback }, { requiredKeys: [] }),
    fc.constant(undefined),
    fc.anything(),
  );

  test("checkConnectorOptions: defaults and values, or a TypeError/RangeError naming an invalid field", () => {
    fc.assert(
      fc.property(anyConnectorOptions, (options) => {
        const checked = outcome(connectorProblems(options), () => checkConnectorOptions(options));
        if (!checked) return;
        const o = (options ?? {}) as Record<string, unknown>;
        const fallback = o.fallback ?? (process.env.URING_CONNECT_FALLBACK === "bun" ? "bun" : "none");
        expect(checked).toMatchObject({ entries: (o.entries as number) ?? 1024, maxInflight: (o.maxInflight as number) ?? 4096, fallback });
      }),
      run(3000),
    );
  });

  test("new Connector(options): opens a ring or throws a named error without opening an fd", async () => {
    // Small valid sizes keep each ring cheap; the invalid shapes are unrestricted.
    const size = fc.integer({ min: 1, max: 64 });
    const small = fc.oneof(
      fc.record({ entries: size, maxInflight: size, fallback: fc.constantFrom("none", "bun") }, { requiredKeys: [] }),
      fc.record({ entries: anyCount(MAX_ENTRIES), maxInflight: anyCount(MAX_INFLIGHT), fallback: anyFallback }, { requiredKeys: [] }).filter(
        (o) => connectorProblems(o).size > 0,
      ),
      fc.anything().filter((o) => o !== undefined && connectorProblems(o).size > 0),
    );
    await fc.assert(
      fc.asyncProperty(small, async (options) => {
        const before = fdCount();
        const problems = connectorProblems(options);
        const connector = outcome(problems, () => new Connector(options as never));
        if (!connector) {
          expect(fdCount()).toBe(before);
          return;
        }
        connector.close();
        await waitFor(() => fdCount() <= before, `the ring's fds to close (${fdCount()} > ${before})`);
      }),
      run(60),
    );
  });

  // Regression (found by this file): an integer held as a double reached
  // uc_ring_open's u32 parameter as garbage and the ring failed to open.
  test("new Connector accepts sizes that are integers held as doubles", () => {
    for (const options of [{ maxInflight: Math.sqrt(4096) }, { entries: Math.sqrt(4096) }]) {
      const connector = new Connector(options);
      connector.close();
    }
  });
});

// ---------------------------------------------------------------------------
// End to end, loopback only.

const LOOPBACK_V6 = bytesOfGroups([0, 0, 0, 0, 0, 0, 0, 1]);
const isV4Mapped = (b: Uint8Array) => b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;

/** Where an encoded peer goes: loopback (127/8, ::1, ::ffff:127/104) or a unix socket; anything else is refused. */
function isLoopbackPeer(e: Endpoint): boolean {
  if (e.family === AF_UNIX) return true;
  if (e.family === AF_INET) return e.sockaddr[4] === 127;
  const addr = e.sockaddr.subarray(8, 24);
  return addr.every((b, i) => b === LOOPBACK_V6[i]) || (isV4Mapped(addr) && addr[12] === 127);
}

/** A local address to bind: loopback or the wildcard, never an address that could route elsewhere. */
function isLoopbackLocal(e: Endpoint): boolean {
  const addr = e.sockaddr.subarray(e.family === AF_INET ? 4 : 8, e.family === AF_INET ? 8 : 24);
  return isLoopbackPeer(e) || addr.every((b) => b === 0);
}

/**
 * The safety net under the generators: a draw the Connector would accept
 * must be a loopback literal or a unix path (never a name for DNS, never a
 * routable address) with a loopback local address. Throws otherwise, before
 * anything is sent.
 */
function assertLoopbackOnly(target: unknown, options: unknown): void {
  let peer: Endpoint;
  try {
    const parsed = parseTarget(target);
    if (parsed.kind === "name") throw new Error(`generator drew a host name: ${JSON.stringify(parsed.host)}`);
    peer = parsed.endpoint;
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) return; // rejected before any I/O
    throw error;
  }
  if (!isLoopbackPeer(peer)) throw new Error(`generator drew a non-loopback peer: ${peer.address}`);
  let local: Endpoint | undefined;
  try {
    local = checkConnectOptions(options).local;
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) return;
    throw error;
  }
  if (local && !isLoopbackLocal(local)) throw new Error(`generator drew a non-loopback local address: ${local.address}`);
}

describe("end to end against loopback servers", () => {
  test("connectFd and connectMany: an fd, a ConnectError, the abort reason, or a named error with nothing opened", async () => {
    await using dir = tempDir();
    const unixPath = join(dir.path, "s.sock");
    await using v4 = await startServer({ host: "127.0.0.1" });
    await using v6 = await startServer({ host: "::1" });
    await using unixServer = await startServer({ path: unixPath });
    using connector = new Connector({ maxInflight: 64 });
    const baseline = fdCount();
    const abortReason = new Error("fuzz abort");

    const octet = fc.integer({ min: 0, max: 255 });
    const invalidNonString = fc.oneof(fc.constantFrom(null, undefined, 0, 1, true), fc.integer(), fc.object(), fc.array(fc.anything(), { maxLength: 2 }));
    // Hosts paired with the port of the server that listens there, so most draws connect.
    const liveV4 = fc.record({ host: fc.constantFrom("127.0.0.1", "::ffff:127.0.0.1", "[::FFFF:127.0.0.1]"), port: fc.constant(v4.port) });
    const liveV6 = fc.record({
      host: fc.oneof(fc.constantFrom("::1", "[::1]", "0:0:0:0:0:0:0:1", "::1%lo"), scopeId.map((id) => `::1%${id}`)),
      port: fc.constant(v6.port),
    });
    const host = fc.oneof(
      { weight: 10, arbitrary: fc.constantFrom("127.0.0.1", "::1", "[::1]", "::ffff:127.0.0.1", "::1%lo") },
      { weight: 3, arbitrary: fc.tuple(octet, octet, octet).map(([a, b, c]) => `127.${a}.${b}.${c}`) },
      { weight: 1, arbitrary: fc.tuple(octet, octet, octet).map(([a, b, c]) => `::ffff:127.${a}.${b}.${c}`) },
      // Invalid: each fails host validation, so none reaches DNS.
      { weight: 1, arbitrary: fc.constantFrom("", "[]", " 127.0.0.1", "127.0.0.1\n", "::1/128", "a\0b", "x".repeat(254)) },
      { weight: 1, arbitrary: fc.string().map((s) => `${s} ${s}`) },
      { weight: 1, arbitrary: invalidNonString },
    );
    const port = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(v4.port, v6.port) },
      { weight: 6, arbitrary: fc.integer({ min: 1, max: 65535 }) },
      { weight: 1, arbitrary: fc.constantFrom(0, -1, 65536, 80.5, NaN, Infinity, "80", undefined) },
      { weight: 1, arbitrary: invalidNonString },
    );
    const unix = fc.oneof(
      { weight: 12, arbitrary: fc.constant(unixPath) },
      { weight: 2, arbitrary: fc.stringMatching(/^[a-z0-9]{1,16}$/).map((name) => join(dir.path, name)) },
      { weight: 2, arbitrary: fc.fullUnicodeString({ minLength: 1, maxLength: 40 }).map((name) => join(dir.path, name)) },
      { weight: 1, arbitrary: fc.stringMatching(/^[a-z0-9]{1,16}$/).map((name) => `\0uc-fuzz-${process.pid}-${name}`) },
      { weight: 1, arbitrary: fc.constantFrom("", "/" + "a".repeat(107), "\0" + "a".repeat(108), "/tmp/a\0b") },
      { weight: 1, arbitrary: invalidNonString },
    );
    const target = fc.oneof(
      { weight: 10, arbitrary: fc.oneof(liveV4, liveV6) },
      { weight: 8, arbitrary: fc.record({ host, port }) },
      { weight: 5, arbitrary: fc.record({ unix }) },
      { weight: 1, arbitrary: fc.record({ host, port, unix }, { requiredKeys: [] }) },
      { weight: 1, arbitrary: fc.oneof(invalidNonString, fc.constantFrom("127.0.0.1", [{ host: "127.0.0.1", port: v4.port }])) },
    );

    /** A field that is mostly absent, else mostly valid. */
    const ABSENT = Symbol("absent");
    const field = <T>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<unknown>) =>
      fc.oneof({ weight: 10, arbitrary: fc.constant(ABSENT) }, { weight: 8, arbitrary: valid }, { weight: 1, arbitrary: invalid });
    const timeout = field(
      fc.oneof(fc.constantFrom(0, 5000, MAX_TIMEOUT_MS, 1e-9), fc.double({ min: 0, max: 10_000, noNaN: true })),
      fc.oneof(fc.constantFrom(-1, NaN, Infinity, MAX_TIMEOUT_MS + 1, "5000", null), invalidNonString),
    );
    const signal = field(
      fc.oneof(
        { weight: 4, arbitrary: fc.constant(null).map(() => new AbortController().signal) },
        { weight: 1, arbitrary: fc.constant(null).map(() => AbortSignal.abort(abortReason)) },
      ),
      fc.constantFrom(null, "signal", 1, { aborted: false }),
    );
    const localAddress = field(
      fc.oneof(fc.constantFrom("127.0.0.1", "::1", "0.0.0.0", "::"), fc.tuple(octet, octet).map(([a, b]) => `127.0.${a}.${b}`)),
      fc.oneof(fc.constantFrom("", "localhost", "[::1]", "127.0.0.1:80", "1.2.3", "::1%nope0"), invalidNonString),
    );
    const flag = field(fc.boolean(), fc.constantFrom(0, 1, "true", null));
    const options = fc.oneof(
      {
        weight: 12,
        arbitrary: fc
          .record({ timeout, signal, localAddress, noDelay: flag, keepAlive: flag })
          .map((o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== ABSENT))),
      },
      { weight: 3, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.constantFrom(null, 0, "fast", true) },
    );

    const tally = { fd: 0, connectError: 0, aborted: 0, named: 0 } as Record<string, number>;
    const codes = new Set<string>();

    /** Is this parsed peer one of the live servers (so a plain connect must succeed)? */
    const isLive = (t: unknown): boolean => {
      const parsed = parseTarget(t);
      if (parsed.kind !== "endpoint") return false;
      const e = parsed.endpoint;
      if (e.family === AF_UNIX) return e.address === unixPath;
      const addr = e.family === AF_INET ? e.sockaddr.subarray(4, 8) : e.sockaddr.subarray(8, 24);
      if (e.family === AF_INET) return dotted(addr) === "127.0.0.1" && e.port === v4.port;
      if (addr.every((b, i) => b === LOOPBACK_V6[i])) return e.port === v6.port;
      return isV4Mapped(addr) && dotted(addr.subarray(12)) === "127.0.0.1" && e.port === v4.port;
    };

    /** Settle one accepted connect's outcome: close an fd, check an error's shape. */
    const settleOne = (result: unknown, t: unknown, o: unknown): void => {
      const opts = (o ?? {}) as ConnectOptions;
      if (typeof result === "number") {
        expect(Number.isInteger(result) && result > 2).toBe(true);
        expect(opts.signal?.aborted ?? false).toBe(false);
        closeSync(result);
        tally.fd!++;
        return;
      }
      if (result === abortReason) {
        expect(opts.signal?.aborted).toBe(true);
        tally.aborted!++;
        return;
      }
      if (!(result instanceof ConnectError)) throw new Error(`unexpected outcome ${String(result)} for ${Bun.inspect(t)} ${Bun.inspect(o)}`);
      expect(typeof result.code).toBe("string");
      expect(result.errno).toBeGreaterThan(0);
      expect(result.syscall).toBe("connect");
      // A plain connect to a live server (no bind, no short timeout) must succeed.
      const plain = opts.localAddress === undefined && !(opts.timeout !== undefined && opts.timeout > 0 && opts.timeout < 1000);
      if (plain && isLive(t)) throw new Error(`connect to a live server failed: ${result.message} for ${Bun.inspect(t)} ${Bun.inspect(o)}`);
      codes.add(result.code);
      tally.connectError!++;
    };

    /**
     * Make one call; with `problems` it must reject with the named error, open
     * no fd and touch no slot (NAMED is returned); otherwise its outcome is.
     */
    const NAMED = Symbol("named error");
    const callChecked = async (problems: Problems, call: () => Promise<unknown>): Promise<unknown> => {
      const fdsBefore = fdCount();
      const statsBefore = connector.stats();
      const promise = call(); // never throws: rejects
      const fdsAfter = fdCount();
      const result = await promise.then(
        (value) => value,
        (error: unknown) => error,
      );
      if (problems.size === 0) return result;
      expectNamedError(result, problems);
      expect(fdsAfter).toBeLessThanOrEqual(fdsBefore);
      expect(connector.stats()).toEqual(statsBefore);
      tally.named!++;
      return NAMED;
    };

    await fc.assert(
      fc.asyncProperty(target, options, async (t, o) => {
        assertLoopbackOnly(t, o);
        const problems = optionsProblems(o, "options", targetProblems(t, "target"));
        const result = await callChecked(problems, () => connector.connectFd(t as Target, o as ConnectOptions));
        if (result !== NAMED) settleOne(result, t, o);
      }),
      run(2000),
    );

    const targets = fc.oneof(
      { weight: 10, arbitrary: fc.array(target.filter((t) => targetProblems(t, "t").size === 0), { maxLength: 4 }) },
      { weight: 3, arbitrary: fc.array(target, { minLength: 1, maxLength: 4 }) },
      { weight: 1, arbitrary: fc.constantFrom(null, "127.0.0.1", { host: "127.0.0.1", port: v4.port }) },
    );
    await fc.assert(
      fc.asyncProperty(targets, options, async (ts, o) => {
        const problems = optionsProblems(o, "options");
        if (Array.isArray(ts)) {
          for (const [i, t] of ts.entries()) {
            assertLoopbackOnly(t, o);
            targetProblems(t, `targets[${i}]`, problems);
          }
        } else problems.set("targets", TypeError);
        const result = await callChecked(problems, () => connector.connectMany(ts as Target[], o as ConnectOptions));
        if (result === NAMED) return;
        if (!Array.isArray(result)) throw new Error(`connectMany rejected valid input: ${String(result)}`);
        expect(result.length).toBe((ts as unknown[]).length);
        result.forEach((r, i) => settleOne(r, (ts as unknown[])[i], o));
      }),
      run(500),
    );

    // Both paths were exercised in earnest.
    expect(tally.fd).toBeGreaterThan(100);
    expect(tally.connectError).toBeGreaterThan(20);
    expect(tally.named).toBeGreaterThan(50);
    expect(tally.aborted).toBeGreaterThan(5);
    expect(codes.has("ECONNREFUSED")).toBe(true);

    expect(unixServer.accepted()).toBeGreaterThan(0);
    await expectClean(connector, baseline);
  });
});
