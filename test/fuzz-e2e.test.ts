/**
 * Property-based end-to-end tests (fast-check, fixed seeds): connectFd and
 * connectMany on random targets and options against real loopback servers.
 * Every call ends as an fd, a kernel ConnectError, the abort reason, or a
 * TypeError/RangeError naming the field with no fd opened and no slot used.
 *
 * Traffic never leaves loopback: targets are drawn only from loopback
 * literals, unix paths and invalid values, and every draw passes a guard
 * (assertLoopbackOnly) before it reaches the Connector.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { closeSync } from "node:fs";
import { join } from "node:path";
import { AF_INET, AF_UNIX, parseTarget, type Endpoint } from "../src/address.ts";
import { ConnectError, Connector, type ConnectOptions, type Target } from "../src/index.ts";
import { checkConnectOptions, MAX_TIMEOUT_MS } from "../src/options.ts";
import { expectClean, fdCount, startServer, tempDir, type TestServer } from "./harness.ts";
import {
  bytesOfGroups,
  dotted,
  expectNamedError,
  optionsProblems,
  run,
  scopeId,
  targetProblems,
  type Problems,
} from "./fuzz/arbitraries.ts";

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
    peer = parsed.endpoints[0];
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

/** Where the live servers listen: the generators aim most draws there. */
interface Live {
  v4Port: number;
  v6Port: number;
  unixPath: string;
  /** A directory for unix paths with no listener. */
  dir: string;
}

/** Random targets and options, loopback only, mostly valid and mostly aimed at the live servers. */
function generators(live: Live, abortReason: Error) {
  const octet = fc.integer({ min: 0, max: 255 });
  const invalidNonString = fc.oneof(fc.constantFrom(null, undefined, 0, 1, true), fc.integer(), fc.object(), fc.array(fc.anything(), { maxLength: 2 }));
  // Hosts paired with the port of the server that listens there, so most draws connect.
  const liveV4 = fc.record({ host: fc.constantFrom("127.0.0.1", "::ffff:127.0.0.1", "[::FFFF:127.0.0.1]"), port: fc.constant(live.v4Port) });
  const liveV6 = fc.record({
    host: fc.oneof(fc.constantFrom("::1", "[::1]", "0:0:0:0:0:0:0:1", "::1%lo"), scopeId.map((id) => `::1%${id}`)),
    port: fc.constant(live.v6Port),
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
    { weight: 6, arbitrary: fc.constantFrom(live.v4Port, live.v6Port) },
    { weight: 6, arbitrary: fc.integer({ min: 1, max: 65535 }) },
    { weight: 1, arbitrary: fc.constantFrom(0, -1, 65536, 80.5, NaN, Infinity, "80", undefined) },
    { weight: 1, arbitrary: invalidNonString },
  );
  const unix = fc.oneof(
    { weight: 12, arbitrary: fc.constant(live.unixPath) },
    { weight: 2, arbitrary: fc.stringMatching(/^[a-z0-9]{1,16}$/).map((name) => join(live.dir, name)) },
    { weight: 2, arbitrary: fc.fullUnicodeString({ minLength: 1, maxLength: 40 }).map((name) => join(live.dir, name)) },
    { weight: 1, arbitrary: fc.stringMatching(/^[a-z0-9]{1,16}$/).map((name) => `\0uc-fuzz-${process.pid}-${name}`) },
    { weight: 1, arbitrary: fc.constantFrom("", "/" + "a".repeat(107), "\0" + "a".repeat(108), "/tmp/a\0b") },
    { weight: 1, arbitrary: invalidNonString },
  );
  const target = fc.oneof(
    { weight: 10, arbitrary: fc.oneof(liveV4, liveV6) },
    { weight: 8, arbitrary: fc.record({ host, port }) },
    { weight: 5, arbitrary: fc.record({ unix }) },
    { weight: 1, arbitrary: fc.record({ host, port, unix }, { requiredKeys: [] }) },
    { weight: 1, arbitrary: fc.oneof(invalidNonString, fc.constantFrom("127.0.0.1", [{ host: "127.0.0.1", port: live.v4Port }])) },
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

  const targets = fc.oneof(
    { weight: 10, arbitrary: fc.array(target.filter((t) => targetProblems(t, "t").size === 0), { maxLength: 4 }) },
    { weight: 3, arbitrary: fc.array(target, { minLength: 1, maxLength: 4 }) },
    { weight: 1, arbitrary: fc.constantFrom(null, "127.0.0.1", { host: "127.0.0.1", port: live.v4Port }) },
  );
  return { target, targets, options };
}

/** How one property's calls ended, to show each way was exercised in earnest. */
interface Tally {
  fd: number;
  connectError: number;
  aborted: number;
  named: number;
  codes: Set<string>;
}

const newTally = (): Tally => ({ fd: 0, connectError: 0, aborted: 0, named: 0, codes: new Set() });

describe("end to end against loopback servers", () => {
  const resources = new AsyncDisposableStack();
  const abortReason = new Error("fuzz abort");
  let live: Live;
  let unixServer: TestServer;
  let connector: Connector;
  let draw: ReturnType<typeof generators>;

  beforeAll(async () => {
    const dir = resources.use(tempDir());
    const unixPath = join(dir.path, "s.sock");
    const v4 = resources.use(await startServer({ host: "127.0.0.1" }));
    const v6 = resources.use(await startServer({ host: "::1" }));
    unixServer = resources.use(await startServer({ path: unixPath }));
    connector = resources.use(new Connector({ maxInflight: 64 }));
    live = { v4Port: v4.port, v6Port: v6.port, unixPath, dir: dir.path };
    draw = generators(live, abortReason);
  });
  afterAll(() => resources.disposeAsync());

  /** Is this parsed peer one of the live servers (so a plain connect must succeed)? */
  const isLive = (t: unknown): boolean => {
    const parsed = parseTarget(t);
    if (parsed.kind !== "endpoint") return false;
    const e = parsed.endpoints[0];
    if (e.family === AF_UNIX) return e.address === live.unixPath;
    const addr = e.family === AF_INET ? e.sockaddr.subarray(4, 8) : e.sockaddr.subarray(8, 24);
    if (e.family === AF_INET) return dotted(addr) === "127.0.0.1" && e.port === live.v4Port;
    if (addr.every((b, i) => b === LOOPBACK_V6[i])) return e.port === live.v6Port;
    return isV4Mapped(addr) && dotted(addr.subarray(12)) === "127.0.0.1" && e.port === live.v4Port;
  };

  /** Settle one accepted connect's outcome: close an fd, check an error's shape. */
  const settleOne = (tally: Tally, result: unknown, t: unknown, o: unknown): void => {
    const opts = (o ?? {}) as ConnectOptions;
    if (typeof result === "number") {
      expect(Number.isInteger(result) && result > 2).toBe(true);
      expect(opts.signal?.aborted ?? false).toBe(false);
      closeSync(result);
      tally.fd++;
      return;
    }
    if (result === abortReason) {
      expect(opts.signal?.aborted).toBe(true);
      tally.aborted++;
      return;
    }
    if (!(result instanceof ConnectError)) throw new Error(`unexpected outcome ${String(result)} for ${Bun.inspect(t)} ${Bun.inspect(o)}`);
    expect(typeof result.code).toBe("string");
    expect(result.errno).toBeGreaterThan(0);
    expect(result.syscall).toBe("connect");
    // A plain connect to a live server (no bind, no short timeout) must succeed.
    const plain = opts.localAddress === undefined && !(opts.timeout !== undefined && opts.timeout > 0 && opts.timeout < 1000);
    if (plain && isLive(t)) throw new Error(`connect to a live server failed: ${result.message} for ${Bun.inspect(t)} ${Bun.inspect(o)}`);
    tally.codes.add(result.code);
    tally.connectError++;
  };

  /**
   * Make one call; with `problems` it must reject with the named error, open
   * no fd and touch no slot (NAMED is returned); otherwise its outcome is.
   */
  const NAMED = Symbol("named error");
  const callChecked = async (tally: Tally, problems: Problems, call: () => Promise<unknown>): Promise<unknown> => {
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
    tally.named++;
    return NAMED;
  };

  /** Which named errors a connectFd draw must meet (none: it is valid input). */
  const connectFdProblems = (t: unknown, o: unknown): Problems => {
    assertLoopbackOnly(t, o);
    return optionsProblems(o, "options", targetProblems(t, "target"));
  };

  /** Which named errors a connectMany draw must meet (none: it is valid input). */
  const connectManyProblems = (ts: unknown, o: unknown): Problems => {
    const problems = optionsProblems(o, "options");
    if (!Array.isArray(ts)) return problems.set("targets", TypeError);
    for (const [i, t] of ts.entries()) {
      assertLoopbackOnly(t, o);
      targetProblems(t, `targets[${i}]`, problems);
    }
    return problems;
  };

  /** A property over bad input only: each call meets its named error, and nothing is opened. */
  async function badInputNamed<T>(targets: fc.Arbitrary<T>, problemsOf: (t: T, o: unknown) => Problems, call: (t: T, o: unknown) => Promise<unknown>, runs: number) {
    const baseline = fdCount();
    const tally = newTally();
    await fc.assert(
      fc.asyncProperty(targets, draw.options, async (t, o) => {
        const problems = problemsOf(t, o);
        fc.pre(problems.size > 0);
        expect(await callChecked(tally, problems, () => call(t, o))).toBe(NAMED);
      }),
      run(runs),
    );
    expect(tally.named).toBeGreaterThan(50);
    await expectClean(connector, baseline);
  }

  /** Every way a valid call can end was exercised in earnest. */
  function expectEveryOutcome(tally: Tally): void {
    expect(tally.fd).toBeGreaterThan(100);
    expect(tally.connectError).toBeGreaterThan(20);
    expect(tally.aborted).toBeGreaterThan(5);
    expect(tally.codes.has("ECONNREFUSED")).toBe(true);
  }

  test("connectFd, bad input: the named error, and nothing opened", async () => {
    await badInputNamed(draw.target, connectFdProblems, (t, o) => connector.connectFd(t as Target, o as ConnectOptions), 1000);
  });

  test("connectFd, valid input: an fd, a ConnectError or the abort reason; a plain connect to a live server succeeds", async () => {
    const baseline = fdCount();
    const unixAcceptedBefore = unixServer.accepted();
    const tally = newTally();
    await fc.assert(
      fc.asyncProperty(draw.target, draw.options, async (t, o) => {
        fc.pre(connectFdProblems(t, o).size === 0);
        settleOne(tally, await callChecked(tally, new Map(), () => connector.connectFd(t as Target, o as ConnectOptions)), t, o);
      }),
      run(1000),
    );
    expectEveryOutcome(tally);
    expect(unixServer.accepted()).toBeGreaterThan(unixAcceptedBefore);
    await expectClean(connector, baseline);
  });

  test("connectMany, bad input anywhere: the named error for the whole call, and nothing opened", async () => {
    await badInputNamed(draw.targets, connectManyProblems, (ts, o) => connector.connectMany(ts as Target[], o as ConnectOptions), 250);
  });

  test("connectMany, valid input: one outcome per target, in order, each as connectFd's", async () => {
    const baseline = fdCount();
    const tally = newTally();
    await fc.assert(
      fc.asyncProperty(draw.targets, draw.options, async (ts, o) => {
        fc.pre(connectManyProblems(ts, o).size === 0);
        const result = await callChecked(tally, new Map(), () => connector.connectMany(ts as Target[], o as ConnectOptions));
        if (!Array.isArray(result)) throw new Error(`connectMany rejected valid input: ${String(result)}`);
        expect(result.length).toBe((ts as unknown[]).length);
        result.forEach((r, i) => settleOne(tally, r, (ts as unknown[])[i], o));
      }),
      run(250),
    );
    expectEveryOutcome(tally);
    await expectClean(connector, baseline);
  });
});

test("the loopback guard stops any draw that could leave loopback, and lets invalid input through to be rejected", () => {
  for (const [target, options] of [
    [{ host: "10.0.0.1", port: 80 }, undefined],
    [{ host: "::ffff:10.0.0.1", port: 80 }, undefined],
    [{ host: "2001:db8::1", port: 80 }, undefined],
    [{ host: "example.test", port: 80 }, undefined],
    [{ host: "127.0.0.1", port: 80 }, { localAddress: "10.0.0.1" }],
  ] as const) {
    expect(() => assertLoopbackOnly(target, options)).toThrow(/generator drew/);
  }
  for (const [target, options] of [
    [{ host: "127.9.9.9", port: 80 }, { localAddress: "0.0.0.0" }],
    [{ host: "::1", port: 80 }, { localAddress: "::" }],
    [{ unix: "/tmp/x.sock" }, undefined],
    [{ host: "10.0.0.1", port: 0 }, undefined], // invalid: rejected before any I/O
    [{ host: "127.0.0.1", port: 80 }, { localAddress: 5 }],
  ] as const) {
    expect(() => assertLoopbackOnly(target, options)).not.toThrow();
  }
});
