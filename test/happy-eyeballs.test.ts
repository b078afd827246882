/**
 * Happy Eyeballs (RFC 8305): a host name with IPv6 and IPv4 addresses is
 * raced. The options and the address order are checked here; the races
 * themselves run against real sockets in a child `bun test` inside a
 * network and mount namespace of its own (test/fixtures/dual-stack.ts:
 * names in its /etc/hosts, addresses that accept, refuse or drop SYNs),
 * once on io_uring and once on the Bun fallback.
 */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { AF_INET, AF_INET6, encodeIp, hasBothFamilies, interleaveFamilies } from "../src/address.ts";
import { Connector } from "../src/index.ts";
import { checkConnectOptions, DEFAULT_ATTEMPT_DELAY_MS, MAX_TIMEOUT_MS, MIN_ATTEMPT_DELAY_MS } from "../src/options.ts";
import { expectAllSelectedPassed, runTestsInChild } from "./child-tests.ts";
import { canUnshare } from "./fixtures/hide-liburing.ts";
import { hostsFile, NETWORK_SETUP, NETWORK_TOOLS } from "./fixtures/dual-stack.ts";
import { inNamespace } from "./fixtures/namespace.ts";
import { fdCount, tempDir } from "./harness.ts";

const endpoint = (address: string) => encodeIp(address, 80)!;
const addresses = (list: { address: string }[]) => list.map((e) => e.address);

describe("the order a race tries addresses in", () => {
  test("IPv6 first, then the families alternate, each keeping its DNS order", () => {
    const resolved = ["192.0.2.1", "192.0.2.2", "2001:db8::1", "192.0.2.3", "2001:db8::2"].map(endpoint);
    expect(addresses(interleaveFamilies(resolved))).toEqual(["2001:db8::1", "192.0.2.1", "2001:db8::2", "192.0.2.2", "192.0.2.3"]);
  });

  test("the longer family's rest follows once the other runs out", () => {
    const resolved = ["2001:db8::1", "2001:db8::2", "2001:db8::3", "192.0.2.1"].map(endpoint);
    expect(addresses(interleaveFamilies(resolved))).toEqual(["2001:db8::1", "192.0.2.1", "2001:db8::2", "2001:db8::3"]);
  });

  test("only a name with both families is raced", () => {
    expect(hasBothFamilies(["2001:db8::1", "192.0.2.1"].map(endpoint))).toBe(true);
    expect(hasBothFamilies(["192.0.2.1", "192.0.2.2"].map(endpoint))).toBe(false);
    expect(hasBothFamilies(["2001:db8::1", "::1"].map(endpoint))).toBe(false);
    expect(hasBothFamilies([])).toBe(false);
    expect([AF_INET6, AF_INET]).toEqual(interleaveFamilies(["192.0.2.1", "::1"].map(endpoint)).map((e) => e.family));
  });
});

describe("bad input is rejected before anything is opened", () => {
  test.each([
    ["autoSelectFamily: 1", { autoSelectFamily: 1 }, TypeError, "options.autoSelectFamily must be a boolean"],
    ['autoSelectFamily: "false"', { autoSelectFamily: "false" }, TypeError, "options.autoSelectFamily must be a boolean"],
    ['autoSelectFamilyAttemptTimeout: "250"', { autoSelectFamilyAttemptTimeout: "250" }, TypeError, "options.autoSelectFamilyAttemptTimeout must be a number of milliseconds"],
    ["autoSelectFamilyAttemptTimeout: 0", { autoSelectFamilyAttemptTimeout: 0 }, RangeError, `options.autoSelectFamilyAttemptTimeout must be a finite number of milliseconds in 1..${MAX_TIMEOUT_MS}`],
    ["autoSelectFamilyAttemptTimeout: -1", { autoSelectFamilyAttemptTimeout: -1 }, RangeError, "options.autoSelectFamilyAttemptTimeout must be a finite number"],
    ["autoSelectFamilyAttemptTimeout: NaN", { autoSelectFamilyAttemptTimeout: NaN }, RangeError, "options.autoSelectFamilyAttemptTimeout must be a finite number"],
    ["autoSelectFamilyAttemptTimeout: Infinity", { autoSelectFamilyAttemptTimeout: Infinity }, RangeError, "options.autoSelectFamilyAttemptTimeout must be a finite number"],
    ["autoSelectFamilyAttemptTimeout: MAX_TIMEOUT_MS + 1", { autoSelectFamilyAttemptTimeout: MAX_TIMEOUT_MS + 1 }, RangeError, "options.autoSelectFamilyAttemptTimeout must be a finite number"],
    ["autoSelectFamilyAttemptTimout: 100", { autoSelectFamilyAttemptTimout: 100 }, TypeError, 'options.autoSelectFamilyAttemptTimout is not a known option; did you mean "autoSelectFamilyAttemptTimeout"?'],
    ["autoSelectFamilly: true", { autoSelectFamilly: true }, TypeError, 'options.autoSelectFamilly is not a known option; did you mean "autoSelectFamily"?'],
  ])("%s", async (_, options, kind, message) => {
    expect(() => checkConnectOptions(options)).toThrow(kind);
    expect(() => checkConnectOptions(options)).toThrow(message);
    using connector = new Connector();
    const baseline = fdCount();
    // A name, so the check must come before the lookup as well as before any socket.
    const error = await connector.connectFd({ host: "localhost", port: 9 }, options as object).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(kind);
    expect(connector.stats().pending + connector.stats().inFlight).toBe(0);
    expect(fdCount()).toBe(baseline);
  });

  test("defaults, and attempt delays below RFC 8305's 10 ms raised to it", () => {
    expect(checkConnectOptions(undefined)).toMatchObject({ autoSelectFamily: true, attemptDelayMs: DEFAULT_ATTEMPT_DELAY_MS });
    expect(checkConnectOptions({})).toMatchObject({ autoSelectFamily: true, attemptDelayMs: 250 });
    expect(checkConnectOptions({ autoSelectFamily: false })).toMatchObject({ autoSelectFamily: false });
    expect(checkConnectOptions({ autoSelectFamilyAttemptTimeout: 1 })).toMatchObject({ attemptDelayMs: MIN_ATTEMPT_DELAY_MS });
    expect(checkConnectOptions({ autoSelectFamilyAttemptTimeout: 9.5 })).toMatchObject({ attemptDelayMs: 10 });
    expect(checkConnectOptions({ autoSelectFamilyAttemptTimeout: 100.2 })).toMatchObject({ attemptDelayMs: 101 });
  });
});

/** Why the namespace cannot be made here, or undefined when it can. */
function namespaceUnavailable(): string | undefined {
  if (!canUnshare) return "needs root and util-linux's unshare (network and mount namespaces)";
  const missing = NETWORK_TOOLS.filter((tool) => Bun.which(tool) === null);
  if (missing.length > 0) return `needs ${missing.join(" and ")} (iproute2) to build the test network`;
  return undefined;
}

const unavailable = namespaceUnavailable();
if (unavailable) console.log(`skip: Happy Eyeballs races against real sockets: ${unavailable}`);

const CASES = "./test/fixtures/happy-eyeballs-cases.ts";
/** Every case in the file. */
const ALL = /^/;

// Each run is a child in namespaces of its own: the two run side by side.
describe.concurrent.skipIf(unavailable !== undefined)("races against real sockets, in a network and mount namespace of their own", () => {
  async function runCases(options: { env?: Record<string, string>; preload?: string[] }): Promise<void> {
    await using dir = tempDir();
    const hosts = join(dir.path, "hosts");
    writeFileSync(hosts, hostsFile());
    const run = await runTestsInChild([CASES], { ...options, select: ALL, prefix: inNamespace({ hosts, network: NETWORK_SETUP }) });
    expectAllSelectedPassed(run, ALL);
  }

  test("on io_uring", async () => {
    await runCases({});
  });

  test('without io_uring (seccomp), on fallback "bun"', async () => {
    await runCases({ env: { URING_CONNECT_FALLBACK: "bun", EXPECT_BACKEND: "bun" }, preload: ["./test/fixtures/deny-io-uring.ts"] });
  });
});
