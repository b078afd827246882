/**
 * Property-based tests (fast-check, fixed seeds) of address parsing and
 * encoding: IPv4 and IPv6 literals against glibc's inet_pton and an
 * independent formatter, and the sockaddr bytes encodeIp, encodeUnix and
 * encodeLocalAddress write. Random input never crashes, and always ends as
 * the right bytes, null, or a TypeError/RangeError naming the field.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { dlopen, ptr } from "bun:ffi";
import {
  AF_INET,
  AF_INET6,
  AF_UNIX,
  encodeIp,
  encodeLocalAddress,
  encodeUnix,
  parseIPv4,
  parseIPv6,
  UNIX_PATH_MAX,
} from "../src/address.ts";
import { bytesOfGroups, dotted, eqBytes, isLiteral, outcome, run, scopeId, unixProblem, utf8 } from "./fuzz/arbitraries.ts";

// ---------------------------------------------------------------------------
// Reference formatting, written independently of src/.

/** A strict dotted quad: four decimal bytes, no leading zeros. */
const STRICT_IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

function groupsOf(bytes: Uint8Array): number[] {
  return Array.from({ length: bytes.length / 2 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
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

// Groups biased toward zero so compression happens often.
const group = fc.oneof({ arbitrary: fc.constant(0), weight: 2 }, { arbitrary: fc.integer({ min: 0, max: 0xffff }), weight: 3 });
const v6Bytes = fc.array(group, { minLength: 8, maxLength: 8 }).map(bytesOfGroups);
const v4Bytes = fc.uint8Array({ minLength: 4, maxLength: 4 });
const v6Form = fc.constantFrom<V6Form>("full", "canonical", "upper", "anyRun", "embedded");

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
