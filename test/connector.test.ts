/** End to end: real connects to real local servers, every outcome made to happen. */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { closeSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { Connector, ConnectError, ConnectorClosedError, connectFd, sharedConnector, type ConnectCallback, type Target } from "../src/index.ts";
import type { ConnectOptions } from "../src/options.ts";
import {
  expectClean,
  expectNothingReached,
  fdCount,
  runFixture,
  startChildServer,
  startServer,
  tempDir,
  waitFor,
  waitForAsync,
  type TestServer,
} from "./harness.ts";
import { blackholeListener, refusingPort } from "./fixtures/sockets.ts";

let connector: Connector;
beforeEach(() => {
  connector = new Connector();
});
afterEach(() => connector.close());

/** Fill a never-accepting listener's queue so the next connect to it hangs. */
async function hangingTarget(listener: { port: number }): Promise<number[]> {
  // With backlog 0 the queue holds one connection; after it, SYNs are dropped.
  return [await connector.connectFd({ host: "127.0.0.1", port: listener.port })];
}

/** io_uring_setup flags that URING_CONNECT_DISABLE can switch off (linux/io_uring.h). */
const SETUP_FLAG: Record<string, number> = { submit_all: 0x80, single_issuer: 0x1000, cq_size: 0x8 };

// test/process.test.ts runs this suite again under EXPECT_BACKEND=bun (io_uring
// denied) and under URING_CONNECT_DISABLE: this proves each run is what it says.
test("the backend and ring setup are what this run asks for", () => {
  expect(connector.backend).toBe((process.env.EXPECT_BACKEND as "bun" | undefined) ?? "io_uring");
  for (const name of (process.env.URING_CONNECT_DISABLE ?? "").split(",").filter(Boolean)) {
    if (name === "sock_cmd") {
      expect(connector.ringInfo().lingerInRing).toBe(false);
      continue;
    }
    expect(SETUP_FLAG[name]).toBeDefined();
    expect(connector.ringInfo().setupFlags & SETUP_FLAG[name]!).toBe(0);
  }
});

describe("successful connects", () => {
  /** One connect to `server` through `target`: accepted, then nothing left behind. */
  async function connectOnce(server: TestServer, target: Target): Promise<void> {
    const baseline = fdCount();
    const fd = await connector.connectFd(target);
    expect(fd).toBeGreaterThan(2);
    await waitFor(() => server.accepted() === 1, "the server to accept");
    closeSync(fd);
    await expectClean(connector, baseline);
  }

  test("IPv4 literal", async () => {
    await using server = await startServer();
    await connectOnce(server, { host: "127.0.0.1", port: server.port });
  });

  test("IPv6 ::1", async () => {
    await using server = await startServer({ host: "::1" });
    await connectOnce(server, { host: "::1", port: server.port });
  });

  test("unix socket", async () => {
    await using dir = tempDir();
    await using server = await startServer({ path: join(dir.path, "s.sock") });
    await connectOnce(server, { unix: join(dir.path, "s.sock") });
  });

  test("localhost through DNS", async () => {
    await using server = await startServer({ host: "127.0.0.1" });
    await connectOnce(server, { host: "localhost", port: server.port });
  });

  test("with localAddress, noDelay, keepAlive and a timeout that does not fire", async () => {
    await using server = await startServer();
    const baseline = fdCount();
    const fd = await connector.connectFd(
      { host: "127.0.0.1", port: server.port },
      { localAddress: "127.0.0.7", noDelay: true, keepAlive: true, timeout: 5000 },
    );
    closeSync(fd);
    await expectClean(connector, baseline);
  });

  test("top-level connectFd uses the one shared Connector", async () => {
    await using server = await startServer();
    const shared = sharedConnector();
    expect(sharedConnector()).toBe(shared);
    const before = shared.stats();
    const pending = connectFd({ host: "127.0.0.1", port: server.port });
    // The connect holds a slot of the shared Connector until it settles.
    expect(shared.stats().free).toBe(before.free - 1);
    const fd = await pending;
    expect(shared.stats()).toEqual(before);
    await waitFor(() => server.accepted() === 1, "the server to accept");
    closeSync(fd);
    expect(sharedConnector()).toBe(shared);
  });

  test("a closed shared Connector is replaced on next use", () => {
    const shared = sharedConnector();
    shared.close();
    const next = sharedConnector();
    expect(next).not.toBe(shared);
    expect(next.closed).toBe(false);
  });

  test("5000 concurrent connects all succeed", async () => {
    // Two servers, so no accept queue (somaxconn 4096) can overflow and
    // silently drop a handshake the client already counts as connected.
    await using first = await startChildServer();
    await using second = await startChildServer();
    const baseline = fdCount();
    const fds = await Promise.all(
      Array.from({ length: 5000 }, (_, i) =>
        connector.connectFd({ host: "127.0.0.1", port: (i % 2 ? first : second).port }),
      ),
    );
    expect(new Set(fds).size).toBe(5000);
    const accepted = async () => (await first.counts()).accepted + (await second.counts()).accepted;
    await waitForAsync(async () => (await accepted()) === 5000, "5000 accepts");
    for (const fd of fds) connector.closeFd(fd, { reset: true });
    const open = async () => (await first.counts()).open + (await second.counts()).open;
    await waitForAsync(async () => (await open()) === 0, "the servers to see every close");
    await expectClean(connector, baseline);
  });

  test("more requests than ring entries and slots: every one connects", async () => {
    using small = new Connector({ entries: 8, maxInflight: 16 });
    await using server = await startChildServer();
    const baseline = fdCount();
    let connected = 0;
    await Promise.all(
      Array.from({ length: 2000 }, () =>
        small.connectFd({ host: "127.0.0.1", port: server.port }).then((fd) => {
          connected++;
          small.closeFd(fd, { reset: true });
        }),
      ),
    );
    expect(connected).toBe(2000);
    await expectClean(small, baseline);
  });

  test("connectMany returns an fd or an error per target, in order", async () => {
    await using server = await startServer();
    using refusing = refusingPort();
    const baseline = fdCount();
    const results = await connector.connectMany([
      { host: "127.0.0.1", port: server.port },
      { host: "127.0.0.1", port: refusing.port },
      { host: "127.0.0.1", port: server.port },
    ]);
    expect(typeof results[0]).toBe("number");
    expect(results[1]).toBeInstanceOf(ConnectError);
    expect((results[1] as ConnectError).code).toBe("ECONNREFUSED");
    expect(typeof results[2]).toBe("number");
    closeSync(results[0] as number);
    closeSync(results[2] as number);
    await expectClean(connector, baseline);
  });
});

describe("failures made real", () => {
  test("refused: ConnectError shaped like Node's", async () => {
    using refusing = refusingPort();
    const baseline = fdCount();
    const error = await connector.connectFd({ host: "127.0.0.1", port: refusing.port }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    const e = error as ConnectError;
    expect(e.code).toBe("ECONNREFUSED");
    expect(e.errno).toBe(111);
    expect(e.syscall).toBe("connect");
    expect(e.address).toBe("127.0.0.1");
    expect(e.port).toBe(refusing.port);
    expect(e.message).toBe(`connect ECONNREFUSED 127.0.0.1:${refusing.port}`);
    await expectClean(connector, baseline);
  });

  test("unix socket path with no listener: ENOENT", async () => {
    const error = (await connector.connectFd({ unix: "/nonexistent/uc.sock" }).catch((e: unknown) => e)) as ConnectError;
    expect(error.code).toBe("ENOENT");
    expect(error.address).toBe("/nonexistent/uc.sock");
    expect(error.port).toBeUndefined();
  });

  test("timeout: the kernel's linked timeout rejects with ETIMEDOUT", async () => {
    using listener = blackholeListener();
    const fillers = await hangingTarget(listener);
    const baseline = fdCount();
    const started = performance.now();
    const error = (await connector
      .connectFd({ host: "127.0.0.1", port: listener.port }, { timeout: 200 })
      .catch((e: unknown) => e)) as ConnectError;
    expect(error).toBeInstanceOf(ConnectError);
    expect(error.code).toBe("ETIMEDOUT");
    expect(error.errno).toBe(110);
    // Not early (the connect really waited); how late is the machine's business.
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    await expectClean(connector, baseline);
    for (const fd of fillers) closeSync(fd);
  });

  test("abort before submit: rejects with the signal's reason, nothing opened", async () => {
    await using server = await startServer();
    const baseline = fdCount();
    const controller = new AbortController();
    const promise = connector.connectFd({ host: "127.0.0.1", port: server.port }, { signal: controller.signal });
    controller.abort();
    const error = (await promise.catch((e: unknown) => e)) as Error;
    expect(error.name).toBe("AbortError");
    await expectClean(connector, baseline);
    await expectNothingReached(server, connector);
  });

  test("already aborted signal: rejects at once", async () => {
    const reason = new Error("gave up");
    const error = await connector
      .connectFd({ host: "127.0.0.1", port: 9 }, { signal: AbortSignal.abort(reason) })
      .catch((e: unknown) => e);
    expect(error).toBe(reason);
    expect(connector.stats().free).toBe(connector.stats().capacity);
  });

  test("abort in flight: cancelled in the kernel, slot and fd released", async () => {
    using listener = blackholeListener();
    const fillers = await hangingTarget(listener);
    const baseline = fdCount();
    const controller = new AbortController();
    const promise = connector.connectFd({ host: "127.0.0.1", port: listener.port }, { signal: controller.signal });
    await waitFor(() => connector.stats().inFlight === 1, "the connect to be in flight");
    controller.abort(new Error("stop"));
    const error = (await promise.catch((e: unknown) => e)) as Error;
    expect(error.message).toBe("stop");
    await expectClean(connector, baseline);
    for (const fd of fillers) closeSync(fd);
  });

  test("close with work in flight and waiting: all rejected, every fd closed", async () => {
    using listener = blackholeListener();
    const fillers = await hangingTarget(listener);
    const small = new Connector({ maxInflight: 4 });
    const baseline = fdCount();
    const promises = Array.from({ length: 10 }, () =>
      small.connectFd({ host: "127.0.0.1", port: listener.port }).catch((e: unknown) => e),
    );
    await waitFor(() => small.stats().inFlight === 4, "4 connects in flight");
    expect(small.stats().waiting).toBe(6);
    small.close();
    const errors = await Promise.all(promises);
    for (const error of errors) expect(error).toBeInstanceOf(ConnectorClosedError);
    expect(small.stats()).toEqual({ capacity: 4, free: 4, pending: 0, inFlight: 0, orphaned: 0, waiting: 0, closing: 0 });
    // The ring and its eventfd are gone too, so fds drop below the baseline.
    const driverFds = small.backend === "io_uring" ? 2 : 0;
    await waitFor(() => fdCount() <= baseline - driverFds, "the ring's fds and every socket to close");
    const late = await small.connectFd({ host: "127.0.0.1", port: listener.port }).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(ConnectorClosedError);
    for (const fd of fillers) closeSync(fd);
  });
});

describe("closeFd", () => {
  /** A node:net server that reports how each connection ended: "reset" (ECONNRESET) or "fin". */
  async function endingServer(): Promise<{ port: number; ended: Promise<string>; [Symbol.dispose](): void }> {
    const { promise: ended, resolve } = Promise.withResolvers<string>();
    const server = net.createServer((socket) => {
      socket.on("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNRESET" ? "reset" : String(error.code)));
      socket.on("end", () => resolve("fin"));
      socket.resume();
    });
    await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
    return { port: (server.address() as net.AddressInfo).port, ended, [Symbol.dispose]: () => void server.close() };
  }

  test.each([
    [true, "reset"],
    [false, "fin"],
  ])("reset: %p: the peer sees %s", async (reset, expected) => {
    using server = await endingServer();
    const baseline = fdCount();
    const fd = await connector.connectFd({ host: "127.0.0.1", port: server.port });
    connector.closeFd(fd, { reset });
    expect(await server.ended).toBe(expected);
    await expectClean(connector, baseline);
  });
});

describe("connectFdCallback: the same connects, settled through a callback", () => {
  /** Dial once; resolves with what the callback got, checking it came once and never before the call returned. */
  function dial(c: Connector, target: Target, options?: ConnectOptions): Promise<{ error: unknown; fd: number }> {
    return new Promise((resolve) => {
      let returned = false;
      let calls = 0;
      c.connectFdCallback(target, options, (error, fd) => {
        calls++;
        expect(returned).toBe(true);
        expect(calls).toBe(1);
        resolve({ error, fd });
      });
      returned = true;
    });
  }

  test("success: (null, fd), an fd the server accepted", async () => {
    await using server = await startServer();
    const baseline = fdCount();
    const { error, fd } = await dial(connector, { host: "127.0.0.1", port: server.port });
    expect(error).toBeNull();
    expect(fd).toBeGreaterThan(2);
    await waitFor(() => server.accepted() === 1, "the server to accept");
    connector.closeFd(fd);
    await expectClean(connector, baseline);
  });

  test("a host name: resolved, then connected", async () => {
    await using server = await startServer();
    const { error, fd } = await dial(connector, { host: "localhost", port: server.port }, { autoSelectFamily: false });
    expect(error).toBeNull();
    closeSync(fd);
  });

  test("refused: (ConnectError ECONNREFUSED, -1)", async () => {
    using refusing = refusingPort();
    const baseline = fdCount();
    const { error, fd } = await dial(connector, { host: "127.0.0.1", port: refusing.port });
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe("ECONNREFUSED");
    expect(fd).toBe(-1);
    await expectClean(connector, baseline);
  });

  test("timeout: ETIMEDOUT from the kernel's linked timeout", async () => {
    using listener = blackholeListener();
    const fillers = await hangingTarget(listener);
    const baseline = fdCount();
    const { error } = await dial(connector, { host: "127.0.0.1", port: listener.port }, { timeout: 100 });
    expect((error as ConnectError).code).toBe("ETIMEDOUT");
    await expectClean(connector, baseline);
    for (const fd of fillers) closeSync(fd);
  });

  test("abort in flight, and an already aborted signal: the signal's reason", async () => {
    using listener = blackholeListener();
    const fillers = await hangingTarget(listener);
    const baseline = fdCount();
    const controller = new AbortController();
    const pending = dial(connector, { host: "127.0.0.1", port: listener.port }, { signal: controller.signal });
    await waitFor(() => connector.stats().inFlight === 1, "the connect to be in flight");
    const reason = new Error("stop");
    controller.abort(reason);
    expect((await pending).error).toBe(reason);
    expect((await dial(connector, { host: "127.0.0.1", port: listener.port }, { signal: AbortSignal.abort(reason) })).error).toBe(reason);
    await expectClean(connector, baseline);
    for (const fd of fillers) closeSync(fd);
  });

  test("a closed Connector: ConnectorClosedError, and work in flight gets it too", async () => {
    using listener = blackholeListener();
    const fillers = await hangingTarget(listener);
    const small = new Connector({ maxInflight: 4 });
    const pending = Array.from({ length: 6 }, () => dial(small, { host: "127.0.0.1", port: listener.port }));
    await waitFor(() => small.stats().inFlight === 4, "4 connects in flight");
    small.close();
    for (const { error } of await Promise.all(pending)) expect(error).toBeInstanceOf(ConnectorClosedError);
    expect((await dial(small, { host: "127.0.0.1", port: listener.port })).error).toBeInstanceOf(ConnectorClosedError);
    for (const fd of fillers) closeSync(fd);
  });

  test("a callback may close the Connector: every connect still settles exactly once", async () => {
    await using server = await startServer();
    using listener = blackholeListener();
    const fillers = await hangingTarget(listener);
    const small = new Connector({ maxInflight: 8 });
    const calls = new Array<number>(40).fill(0);
    const errors: unknown[] = [];
    await new Promise<void>((resolve) => {
      let settled = 0;
      for (let i = 0; i < 40; i++) {
        // Half to a live server (they settle first), half hanging until the close.
        const port = i % 2 === 0 ? server.port : listener.port;
        small.connectFdCallback({ host: "127.0.0.1", port }, undefined, (error, fd) => {
          calls[i]!++;
          if (error === null) closeSync(fd);
          else errors.push(error);
          if (settled++ === 0) small.close();
          if (settled === 40) resolve();
        });
      }
    });
    expect(calls).toEqual(new Array<number>(40).fill(1));
    expect(errors.length).toBeGreaterThan(0);
    for (const error of errors) expect(error).toBeInstanceOf(ConnectorClosedError);
    for (const fd of fillers) closeSync(fd);
  });

  test("a callback that throws: the error is uncaught, as Node's callbacks' are, and the other connects still settle", async () => {
    await using server = await startServer();
    const run = await runFixture("callback-throws.ts", { args: [String(server.port)] });
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout)).toEqual({ settled: 20, uncaught: ["thrown by the first callback"] });
  });

  test("bad input throws before anything is opened", async () => {
    await using server = await startServer();
    const baseline = fdCount();
    const target = { host: "127.0.0.1", port: server.port };
    const never = () => {
      throw new Error("the callback must not be called");
    };
    expect(() => connector.connectFdCallback({ host: "127.0.0.1", port: 0 }, undefined, never)).toThrow(RangeError);
    expect(() => connector.connectFdCallback(target, { timout: 5 } as ConnectOptions, never)).toThrow(/timout is not a known option/);
    expect(() => connector.connectFdCallback(target, undefined, "no" as unknown as ConnectCallback)).toThrow(/callback must be a function/);
    expect(fdCount()).toBeLessThanOrEqual(baseline);
    await expectNothingReached(server, connector);
  });

  test("3,000 connects, 100 at a time, each request object reused: every one a distinct live fd, nothing left behind", async () => {
    await using server = await startServer();
    const baseline = fdCount();
    const target = { host: "127.0.0.1", port: server.port };
    const open = new Set<number>();
    let connected = 0;
    await new Promise<void>((resolve, reject) => {
      let started = 0;
      const next = () => {
        if (started === 3000) return;
        started++;
        connector.connectFdCallback(target, undefined, (error, fd) => {
          if (error !== null) return reject(error);
          // Two live connects handed the same fd would mean one request settled for another.
          if (open.has(fd)) return reject(new Error(`fd ${fd} handed out twice`));
          open.add(fd);
          connected++;
          // Closed on the next turn, so many are open at once while others connect.
          setImmediate(() => {
            open.delete(fd);
            connector.closeFd(fd, { reset: true });
            if (connected === 3000 && open.size === 0) resolve();
          });
          next();
        });
      };
      for (let i = 0; i < 100; i++) next();
    });
    expect(connected).toBe(3000);
    await expectClean(connector, baseline);
  });

  test("a frozen options object is checked once; an unfrozen one is read again each time", async () => {
    await using server = await startServer();
    const target = { host: "127.0.0.1", port: server.port };
    const frozen = Object.freeze({ localAddress: "127.0.0.2" });
    const changing = { localAddress: "127.0.0.3" };
    const fds = [(await dial(connector, target, frozen)).fd, (await dial(connector, target, frozen)).fd, (await dial(connector, target, changing)).fd];
    changing.localAddress = "127.0.0.4";
    fds.push((await dial(connector, target, changing)).fd);
    await waitFor(() => server.accepted() === 4, "4 accepts");
    expect(server.peers().sort()).toEqual(["127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.4"]);
    for (const fd of fds) closeSync(fd);
  });
});

describe("bad input is rejected before anything is opened", () => {
  const cases: [string, unknown, unknown, RegExp, ErrorConstructor][] = [
    ["port 0", { host: "127.0.0.1", port: 0 }, undefined, /target\.port must be an integer in 1\.\.65535/, RangeError],
    ["port 65536", { host: "127.0.0.1", port: 65536 }, undefined, /target\.port/, RangeError],
    ["port 1.5", { host: "127.0.0.1", port: 1.5 }, undefined, /target\.port/, RangeError],
    ["port as string", { host: "127.0.0.1", port: "80" }, undefined, /target\.port/, TypeError],
    ["empty host", { host: "", port: 80 }, undefined, /target\.host must be a non-empty string/, TypeError],
    ["host with a space", { host: "a b", port: 80 }, undefined, /target\.host/, TypeError],
    ["unknown family", { address: "x" }, undefined, /unknown family/, TypeError],
    ["not an object", "127.0.0.1:80", undefined, /target must be an object/, TypeError],
    ["unix path too long", { unix: `/tmp/${"x".repeat(120)}` }, undefined, /target\.unix must be at most 107 bytes/, RangeError],
    ["empty unix path", { unix: "" }, undefined, /target\.unix/, TypeError],
    ["unix and host", { unix: "/tmp/s", host: "x", port: 1 }, undefined, /either unix or host/, TypeError],
    ["negative timeout", { host: "127.0.0.1", port: 80 }, { timeout: -1 }, /options\.timeout/, RangeError],
    ["infinite timeout", { host: "127.0.0.1", port: 80 }, { timeout: Infinity }, /options\.timeout/, RangeError],
    ["NaN timeout", { host: "127.0.0.1", port: 80 }, { timeout: NaN }, /options\.timeout/, RangeError],
    ["timeout as string", { host: "127.0.0.1", port: 80 }, { timeout: "5" }, /options\.timeout/, TypeError],
    ["signal not a signal", { host: "127.0.0.1", port: 80 }, { signal: {} }, /options\.signal must be an AbortSignal/, TypeError],
    ["localAddress a name", { host: "127.0.0.1", port: 80 }, { localAddress: "localhost" }, /options\.localAddress/, TypeError],
    ["noDelay not boolean", { host: "127.0.0.1", port: 80 }, { noDelay: 1 }, /options\.noDelay must be a boolean/, TypeError],
  ];
  for (const [name, target, options, message, type] of cases) {
    test(name, async () => {
      const baseline = fdCount();
      const error = await connector.connectFd(target as never, options as never).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(type);
      expect((error as Error).message).toMatch(message);
      expect(fdCount()).toBeLessThanOrEqual(baseline); // nothing opened (earlier closes may still land)
      expect(connector.stats().free).toBe(connector.stats().capacity);
    });
  }

  test("connectMany with one bad target opens nothing", async () => {
    await using server = await startServer();
    const baseline = fdCount();
    const error = await connector
      .connectMany([{ host: "127.0.0.1", port: server.port }, { host: "127.0.0.1", port: -1 }])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toMatch(/targets\[1\]\.port/);
    expect(fdCount()).toBeLessThanOrEqual(baseline); // nothing opened (earlier closes may still land)
    await expectNothingReached(server, connector);
  });

  test("bad Connector options", () => {
    expect(() => new Connector({ entries: 0 })).toThrow(/options\.entries must be an integer in 1\.\.32768/);
    expect(() => new Connector({ maxInflight: 1e9 })).toThrow(/options\.maxInflight/);
    expect(() => new Connector({ maxInflight: "8" as never })).toThrow(TypeError);
  });

  test("unknown host: ENOTFOUND from DNS, nothing opened", async () => {
    const baseline = fdCount();
    const error = (await connector.connectFd({ host: "no-such-host.invalid", port: 80 }).catch((e: unknown) => e)) as {
      code: string;
    };
    expect(error.code).toBe("ENOTFOUND");
    await expectClean(connector, baseline);
  });
});
