/**
 * Property-based tests (fast-check, fixed seeds) of input validation:
 * parseTarget, checkConnectOptions, checkConnectorOptions and new Connector
 * on arbitrary input. Each call either returns checked values or throws a
 * TypeError/RangeError naming a field the independent model (fuzz/arbitraries.ts)
 * says is invalid, and never opens an fd on the way.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { encodeIp, parseTarget } from "../src/address.ts";
import { Connector } from "../src/index.ts";
import { SocketFlag } from "../src/native.ts";
import { checkConnectOptions, checkConnectorOptions, MAX_ENTRIES, MAX_INFLIGHT, MAX_TIMEOUT_MS } from "../src/options.ts";
import { fdCount, waitFor } from "./harness.ts";
import {
  connectorProblems,
  eqBytes,
  isLiteral,
  optionsProblems,
  outcome,
  run,
  scopeId,
  targetProblems,
} from "./fuzz/arbitraries.ts";

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
          if (parsed.kind === "endpoint") expect(parsed.endpoints[0].address).toBe(t.unix as string);
          return;
        }
        const host = t.host as string;
        const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
        if (parsed.kind === "name") {
          expect(parsed).toEqual({ kind: "name", host: bare, port: t.port as number });
          expect(isLiteral(bare)).toBe(false);
        } else {
          expect(isLiteral(bare)).toBe(true);
          expect(parsed.endpoints[0].port).toBe(t.port as number);
          eqBytes(parsed.endpoints[0].sockaddr, encodeIp(bare, t.port as number)!.sockaddr);
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
