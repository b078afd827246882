/**
 * Issue 7, item 6 (load generator), and one validator for the CLI and the
 * API: unknown keys in `rate`, `hold` and `storm` options were ignored
 * (a misspelt `concurency` ran with the default). They are now a TypeError
 * naming the key and the nearest known one; `storm({})` is a type error and
 * a TypeError; every error names the option as its caller spells it.
 */
import { expect, test } from "bun:test";
import { hold, rate } from "../../src/loadgen/index.ts";
import { storm } from "../../src/testing.ts";
import { runCli } from "../cli-run.ts";
import { fdCount } from "../harness.ts";

// A target that refuses at once, so a check that does not happen shows up as a finished run, not a hang.
const target = "127.0.0.1:1";

test("rate: an unknown key is a TypeError suggesting the nearest known one", async () => {
  // @ts-expect-error -- the mistake under test
  await expect(rate({ target, connections: 1, rat: 50 })).rejects.toThrow(new TypeError('options.rat is not a known option; did you mean "rate"?'));
  // @ts-expect-error -- the mistake under test
  await expect(rate({ target, connections: 1, exchangeTimout: 5 })).rejects.toThrow('options.exchangeTimout is not a known option; did you mean "exchangeTimeout"?');
});

test("hold: an unknown key is a TypeError; another mode's option says where it belongs", async () => {
  // @ts-expect-error -- the mistake under test
  await expect(hold({ target, concurrency: 1, duration: 10, rmap: 5 })).rejects.toThrow('options.rmap is not a known option; did you mean "ramp"?');
  // @ts-expect-error -- rate's option given to hold
  await expect(hold({ target, concurrency: 1, duration: 10, rate: 5 })).rejects.toThrow(new TypeError("rate only applies to rate"));
  // @ts-expect-error -- hold's option given to rate
  await expect(rate({ target, connections: 1, ramp: 5 })).rejects.toThrow(new TypeError("ramp only applies to hold"));
});

test("storm: unknown keys, and neither port nor unix, are TypeErrors", async () => {
  // @ts-expect-error -- the mistake under test
  await expect(storm({ port: 1, connections: 1, concurency: 5 })).rejects.toThrow('options.concurency is not a known option; did you mean "concurrency"?');
  // @ts-expect-error -- storm needs port or unix, at the type level too
  await expect(storm({})).rejects.toThrow(new TypeError("storm needs either port (with host) or unix: where to connect"));
  // @ts-expect-error -- not both
  await expect(storm({ port: 1, unix: "/tmp/x.sock", connections: 1 })).rejects.toThrow(TypeError);
});

test("the API names options by their keys, the CLI by its flags", async () => {
  await expect(rate({ target, timeout: -1 })).rejects.toThrow(new RangeError("timeout must be an integer in 0..2147483647, got -1"));
  await expect(rate({ target, close: "maybe" as never })).rejects.toThrow(new TypeError('close must be rst or fin, got "maybe"'));
  await expect(rate({ target, connections: 5, duration: 100 })).rejects.toThrow(new TypeError("connections and duration contradict each other: give one"));
  const run = await runCli(["rate", target, "--timeout=-1"]);
  expect(run.code).toBe(2);
  expect(run.stderr.split("\n")[0]).toBe("uring-connect: --timeout must be an integer in 0..2147483647, got -1");
  const both = await runCli(["rate", target, "-n", "5", "-d", "1s"]);
  expect(both.stderr.split("\n")[0]).toBe("uring-connect: -n/--connections and -d/--duration contradict each other: give one");
});

test("nothing is opened for bad options", async () => {
  const before = fdCount();
  // @ts-expect-error -- the mistake under test
  await expect(rate({ target, connections: 1, bogus: 1 })).rejects.toThrow(TypeError);
  // @ts-expect-error -- the mistake under test
  await expect(storm({ port: 1, bogus: 1 })).rejects.toThrow(TypeError);
  expect(fdCount()).toBeLessThanOrEqual(before);
});
