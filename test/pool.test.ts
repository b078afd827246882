/**
 * The warm Pool against real local servers: prewarm, bursts, reuse through
 * each kind of handle, liveness of idle connections, lifetimes and idle
 * trimming, the waiting room (timeout, maxWaiting, abort) and close().
 * Failures and backoff are in pool-failure.test.ts.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { once } from "node:events";
import net from "node:net";
import {
  Connector,
  Pool,
  PoolAcquireTimeoutError,
  PoolClosedError,
  PoolQueueFullError,
  type PoolStats,
} from "../src/index.ts";
import { expectClean, fdCount, startChildServer, startServer, waitFor, waitForAsync } from "./harness.ts";
import { hangingTarget } from "./node/support.ts";

let connector: Connector;
beforeEach(() => {
  connector = new Connector();
});
afterEach(() => connector.close());

/** Close `pool` (nothing may be busy) and check nothing is left: counters add up, fds and slots back. */
async function closeClean(pool: Pool, baseline: number): Promise<void> {
  pool.close();
  const stats = pool.stats();
  expect(stats).toMatchObject({ idle: 0, busy: 0, waiting: 0 });
  expect(stats.opened).toBe(stats.closed);
  await waitFor(() => pool.stats().connecting === 0, "the connects in flight to end");
  await expectClean(connector, baseline);
}

/** Send `text` over `socket` to an echo server and wait for it to come back. */
async function echo(socket: net.Socket, text: string): Promise<string> {
  socket.write(text);
  let got = "";
  while (got.length < text.length) got += String((await once(socket, "data"))[0]);
  return got;
}

/** A server whose connections the test ends, resets or writes to, one at a time, newest first. */
async function controlledServer() {
  const sockets: net.Socket[] = [];
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    sockets.push(socket);
    socket.on("error", () => {});
    socket.on("data", (data) => socket.write(data));
    socket.on("close", () => sockets.splice(sockets.indexOf(socket), 1));
  });
  await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted: () => accepted,
    open: () => sockets.length,
    /** The server side of the newest open connection. */
    newest: () => sockets.at(-1)!,
    async [Symbol.asyncDispose]() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe("options", () => {
  const target = { host: "127.0.0.1", port: 1 };
  const cases: [string, unknown, RegExp][] = [
    ["min below 0", { min: -1 }, /options\.min must be an integer in 0\.\.65536, got -1/],
    ["max 0", { max: 0 }, /options\.max must be an integer in 1\.\.65536, got 0/],
    ["min above max", { min: 5, max: 2 }, /options\.min must be at most options\.max \(2\), got 5/],
    ["a fractional min", { min: 1.5 }, /options\.min must be an integer/],
    ["a string max", { max: "10" }, /options\.max must be an integer in 1\.\.65536, got "10"/],
    ["negative connectTimeout", { connectTimeout: -1 }, /options\.connectTimeout must be a finite number of milliseconds/],
    ["infinite acquireTimeout", { acquireTimeout: Infinity }, /options\.acquireTimeout must be a finite number of milliseconds/],
    ["NaN idleTimeout", { idleTimeout: NaN }, /options\.idleTimeout must be a finite number of milliseconds/],
    ["a string maxLifetime", { maxLifetime: "1s" }, /options\.maxLifetime must be a number of milliseconds, got "1s"/],
    ["negative maxWaiting", { maxWaiting: -1 }, /options\.maxWaiting must be an integer/],
    ["negative preconnect", { preconnect: -0.5 }, /options\.preconnect must be a finite number >= 0, got -0\.5/],
    ["a connector that is not one", { connector: {} }, /options\.connector must be a Connector, got an object/],
    ["a bad localAddress", { localAddress: "nowhere" }, /options\.localAddress/],
    ["a misspelt key", { maxLifetme: 5 }, /options\.maxLifetme is not a known option; did you mean "maxLifetime"\?/],
    ["a connect timeout", { timeout: 5 }, /options\.timeout is not a Pool option: use connectTimeout/],
    ["a pool-wide signal", { signal: new AbortController().signal }, /options\.signal is not a Pool option/],
    ["options that are not an object", 5, /options must be an object, got 5/],
  ];
  for (const [what, options, message] of cases) {
    test(`${what} is a TypeError/RangeError naming the field, and nothing is opened`, () => {
      const baseline = fdCount();
      expect(() => new Pool(target, options as never)).toThrow(message);
      expect(connector.stats().inFlight).toBe(0);
      expect(fdCount()).toBe(baseline);
    });
  }

  test("a bad target is a TypeError/RangeError naming it", () => {
    expect(() => new Pool({ host: "127.0.0.1", port: 0 }, { connector })).toThrow(/target\.port/);
    expect(() => new Pool({} as never, { connector })).toThrow(/target/);
  });

  test("acquire options are checked before anything is taken", async () => {
    await using server = await startServer();
    using pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, min: 1 });
    await pool.ready();
    await expect(pool.acquireFd({ signl: undefined } as never)).rejects.toThrow(/options\.signl is not a known option; did you mean "signal"\?/);
    await expect(pool.acquireNet({ signal: "no" } as never)).rejects.toThrow(/options\.signal must be an AbortSignal/);
    await expect(pool.acquire({ socket: {} } as never)).rejects.toThrow(/options\.socket must have a data or drain handler/);
    await expect(pool.acquire({ socket: { data() {} }, timeout: 5 } as never)).rejects.toThrow(/options\.timeout is not a known option/);
    expect(pool.stats()).toMatchObject({ idle: 1, busy: 0 });
  });
});

describe("prewarm and bursts", () => {
  test("ready() resolves once min connections are open; the server accepted exactly min", async () => {
    await using server = await startServer();
    const baseline = fdCount();
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, min: 20 });
    await pool.ready();
    expect(pool.stats()).toEqual({ idle: 20, busy: 0, connecting: 0, waiting: 0, opened: 20, closed: 0, failed: 0 });
    await waitFor(() => server.accepted() === 20, "the server to accept 20");
    // ready() again, once warm, resolves at once.
    await pool.ready();
    expect(server.accepted()).toBe(20);
    await closeClean(pool, baseline);
  });

  // Bun runs pending microtasks inside a socket's close(): taking an idle
  // connection closes its watch, and a plan still pending from the connect
  // that made it ready must not see the connection neither idle nor busy.
  test("an acquire right after ready() takes the idle connection and opens no other", async () => {
    await using server = await startServer();
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, min: 1 });
    await pool.ready();
    const fd = await pool.acquireFd();
    expect(pool.stats()).toMatchObject({ idle: 0, busy: 1, connecting: 0, opened: 1 });
    pool.release(fd);
    pool.close();
  });

  test("min 0: ready() resolves at once and nothing is opened until an acquire", async () => {
    await using server = await startServer();
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector });
    await pool.ready();
    expect(pool.stats()).toMatchObject({ idle: 0, connecting: 0, opened: 0 });
    const fd = await pool.acquireFd();
    expect(pool.stats()).toMatchObject({ busy: 1, opened: 1 });
    pool.release(fd);
    pool.close();
  });

  test("a burst opens the deficit (waiters - idle - connecting) at once, capped by max; the rest wait for releases", async () => {
    await using server = await startChildServer();
    const baseline = fdCount();
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, min: 3, max: 10 });
    await pool.ready();
    const acquires = Array.from({ length: 14 }, () => pool.acquireFd());
    // 3 were idle; 11 wait, of which max allows 7 new connections.
    expect(pool.stats()).toMatchObject({ idle: 0, busy: 3, waiting: 11 });
    await waitFor(() => pool.stats().busy === 10, "the 7 new connections to be handed out");
    expect(pool.stats()).toMatchObject({ idle: 0, busy: 10, connecting: 0, waiting: 4, opened: 10 });
    const first = await Promise.all(acquires.slice(0, 10));
    for (const fd of first) pool.release(fd);
    const rest = await Promise.all(acquires.slice(10));
    expect(pool.stats()).toMatchObject({ busy: 4, idle: 6, waiting: 0, opened: 10 });
    for (const fd of rest) pool.release(fd);
    expect((await server.counts()).accepted).toBe(10);
    await closeClean(pool, baseline);
  });

  test("preconnect keeps idle connections ready per connection of recent demand", async () => {
    await using server = await startChildServer();
    const baseline = fdCount();
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, preconnect: 1 });
    // A burst of 4: 4 for the waiters and ceil(1 x 4) more kept idle, all in one batch.
    const fds = await Promise.all(Array.from({ length: 4 }, () => pool.acquireFd()));
    await waitFor(() => pool.stats().idle === 4, "4 idle connections beside the 4 busy");
    expect(pool.stats()).toMatchObject({ busy: 4, idle: 4, connecting: 0, opened: 8 });
    // Taking 2 of the idle ones makes demand 6: the pool tops idle up to ceil(1 x 6).
    const more = await Promise.all([pool.acquireFd(), pool.acquireFd()]);
    await waitFor(() => pool.stats().idle === 6, "idle topped up to 6");
    expect(pool.stats()).toMatchObject({ busy: 6, idle: 6, opened: 12 });
    for (const fd of [...fds, ...more]) pool.release(fd);
    await closeClean(pool, baseline);
  });
});

describe("reuse", () => {
  test("acquireFd: a released fd is the one handed out next, on the same connection", async () => {
    await using server = await startServer();
    const baseline = fdCount();
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, min: 1 });
    await pool.ready();
    const fd = await pool.acquireFd();
    expect(pool.stats()).toMatchObject({ idle: 0, busy: 1 });
    pool.release(fd);
    expect(pool.stats()).toMatchObject({ idle: 1, busy: 0 });
    expect(await pool.acquireFd()).toBe(fd);
    pool.release(fd);
    await waitFor(() => server.accepted() === 1, "the server to accept");
    expect(pool.stats()).toMatchObject({ opened: 1, closed: 0 });
    await closeClean(pool, baseline);
  });

  test("acquireNet: a connected net.Socket; after release the next acquireNet is the same connection, which the server never saw end", async () => {
    await using server = await controlledServer();
    const baseline = fdCount();
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, min: 1 });
    await pool.ready();
    const socket = await pool.acquireNet();
    expect(socket).toBeInstanceOf(net.Socket);
    expect(socket.connecting).toBe(false);
    expect(socket.remotePort).toBe(server.port);
    expect(await echo(socket, "one")).toBe("one");
    const localPort = socket.localPort;
    pool.release(socket);
    expect(socket.destroyed).toBe(true);
    const again = await pool.acquireNet();
    expect(again).not.toBe(socket);
    expect(again.localPort).toBe(localPort);
    expect(await echo(again, "two")).toBe("two");
    expect(server.accepted()).toBe(1);
    expect(server.open()).toBe(1);
    pool.release(again);
    expect(pool.stats()).toMatchObject({ idle: 1, busy: 0, opened: 1, closed: 0 });
    await closeClean(pool, baseline);
  });

  test("acquire: a Bun socket with the caller's handlers and data; release closes the object, keeps the connection", async () => {
    await using server = await controlledServer();
    const baseline = fdCount();
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, min: 1 });
    await pool.ready();
    const events: string[] = [];
    let received = "";
    const handlers = {
      open: () => void events.push("open"),
      data: (_socket: unknown, chunk: Buffer) => void (received += String(chunk)),
      close: () => void events.push("close"),
    };
    const socket = await pool.acquire({ socket: handlers, data: { id: 7 } });
    expect(events).toEqual(["open"]);
    expect(socket.data).toEqual({ id: 7 });
    const localPort = socket.localPort;
    socket.write("ping");
    await waitFor(() => received === "ping", "the echo");
    pool.release(socket);
    expect(events).toEqual(["open", "close"]);
    expect(pool.stats()).toMatchObject({ idle: 1, busy: 0, closed: 0 });
    const again = await pool.acquire({ socket: handlers });
    expect(again.localPort).toBe(localPort);
    again.write("pong");
    await waitFor(() => received === "pingpong", "the second echo");
    expect(server.accepted()).toBe(1);
    pool.release(again);
    await closeClean(pool, baseline);
  });

  test("acquireNet({ into }): the connection is adopted into the caller's own unconnected net.Socket, which emits 'connect'", async () => {
    await using server = await controlledServer();
    const baseline = fdCount();
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, min: 1 });
    await pool.ready();
    class ClientSocket extends net.Socket {}
    const mine = new ClientSocket();
    const connected = once(mine, "connect");
    const socket = await pool.acquireNet({ into: mine });
    expect(socket).toBe(mine);
    await connected;
    expect(await echo(mine, "mine")).toBe("mine");
    pool.release(mine);
    expect(pool.stats()).toMatchObject({ idle: 1, busy: 0, closed: 0 });
    await expect(pool.acquireNet({ into: {} as net.Socket })).rejects.toThrow(/options\.into must be a net\.Socket, got an object/);
    await closeClean(pool, baseline);
  });

  test("an fd, a Bun socket and a net.Socket from one pool in turn all use the one connection", async () => {
    await using server = await controlledServer();
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, min: 1, max: 1 });
    const baseline = fdCount();
    await pool.ready();
    pool.release(await pool.acquireFd());
    pool.release(await pool.acquire({ socket: { data() {} } }));
    const socket = await pool.acquireNet();
    expect(await echo(socket, "still here")).toBe("still here");
    pool.release(socket);
    expect(server.accepted()).toBe(1);
    await closeClean(pool, baseline);
  });

  test("a socket the caller ends is dropped: the server sees the connection end, and a later release is a no-op", async () => {
    await using server = await controlledServer();
    const baseline = fdCount();
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, min: 1 });
    await pool.ready();
    const bun = await pool.acquire({ socket: { data() {} } });
    bun.end();
    await waitFor(() => pool.stats().closed === 1, "the pool to drop the ended Bun socket's connection");
    pool.release(bun);
    await waitFor(() => server.open() === 1 && server.accepted() === 2, "the server to see it end, and the refill");
    const node = await pool.acquireNet();
    node.destroy();
    await waitFor(() => pool.stats().closed === 2, "the pool to drop the destroyed net.Socket's connection");
    pool.release(node);
    const ended = await pool.acquireNet();
    ended.end();
    pool.release(ended);
    expect(pool.stats()).toMatchObject({ busy: 0, closed: 3 });
    await waitFor(() => pool.stats().idle === 1, "the refill to min");
    await closeClean(pool, baseline);
  });

  test("destroy() closes a connection instead of reusing it", async () => {
    await using server = await startServer();
    const baseline = fdCount();
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, min: 1 });
    await pool.ready();
    const fd = await pool.acquireFd();
    pool.destroy(fd);
    expect(pool.stats()).toMatchObject({ busy: 0, closed: 1 });
    await waitFor(() => pool.stats().idle === 1, "the refill to min");
    await closeClean(pool, baseline);
  });

  test("releasing what the pool did not hand out is a TypeError; releasing an fd twice too", async () => {
    await using server = await startServer();
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, min: 1 });
    await pool.ready();
    expect(() => pool.release(12345)).toThrow(/handle must be an fd or socket this Pool handed out/);
    expect(() => pool.release(new net.Socket())).toThrow(TypeError);
    const fd = await pool.acquireFd();
    pool.release(fd);
    expect(() => pool.release(fd)).toThrow(TypeError);
    pool.close();
  });
});

describe("liveness of idle connections", () => {
  const closings: [string, (socket: net.Socket) => void][] = [
    ["closes it (FIN)", (socket) => socket.end()],
    ["resets it (RST)", (socket) => socket.resetAndDestroy()],
    ["writes to it unasked", (socket) => socket.write("unsolicited")],
  ];
  for (const [what, close] of closings) {
    test(`a server that ${what} while it is idle: it is dropped as soon as seen, and the acquire gets a fresh connection`, async () => {
      await using server = await controlledServer();
      const baseline = fdCount();
      const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, min: 1 });
      await pool.ready();
      const first = await pool.acquireNet();
      const firstPort = first.localPort;
      pool.release(first);
      await waitFor(() => server.open() === 1, "the server to hold the connection");
      close(server.newest());
      await waitFor(() => pool.stats().closed === 1, "the pool to see it go");
      const socket = await pool.acquireNet();
      expect(socket.localPort).not.toBe(firstPort);
      expect(await echo(socket, "fresh")).toBe("fresh");
      expect(server.accepted()).toBe(2);
      pool.release(socket);
      expect(pool.stats()).toMatchObject({ opened: 2, closed: 1, failed: 0 });
      await closeClean(pool, baseline);
    });
  }

  test("after 10,000 acquire + release cycles in one event-loop turn, the idle connection is still watched", async () => {
    await using server = await controlledServer();
    const baseline = fdCount();
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, min: 1 });
    await pool.ready();
    // Awaits are microtasks: the turn never ends, so every watch and its
    // removal stay queued until the last release.
    for (let i = 0; i < 10_000; i++) pool.release(await pool.acquireFd());
    await waitFor(() => server.open() === 1, "the server to hold the connection");
    server.newest().end();
    await waitFor(() => pool.stats().closed === 1, "the pool to see it go");
    // It was the one connection all along; then the pool refills to min.
    await waitFor(() => pool.stats().idle === 1, "the pool to refill");
    expect(pool.stats()).toMatchObject({ opened: 2, closed: 1, failed: 0 });
    await closeClean(pool, baseline);
  });

  test("a connection the peer closed while busy is closed at release, not reused", async () => {
    await using server = await startChildServer({ echo: true });
    const baseline = fdCount();
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, min: 1 });
    await pool.ready();
    const socket = await pool.acquireNet();
    const errors: unknown[] = [];
    socket.on("error", (error) => errors.push(error));
    // events.once() would reject on the 'error' that comes first.
    const closed = new Promise((resolve) => socket.once("close", resolve));
    await server.drop(1);
    await closed;
    expect(errors).toMatchObject([{ code: "ECONNRESET" }]);
    pool.release(socket);
    expect(pool.stats()).toMatchObject({ closed: 1 });
    await closeClean(pool, baseline);
  });
});

describe("limits in time", () => {
  test("maxLifetime: idle connections are replaced once their (jittered) lifetime is over", async () => {
    await using server = await startChildServer();
    const baseline = fdCount();
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, min: 2, maxLifetime: 100 });
    await pool.ready();
    await waitFor(() => pool.stats().closed >= 4 && pool.stats().idle === 2, "two generations to expire and be replaced");
    expect(pool.stats().opened).toBeGreaterThanOrEqual(6);
    await closeClean(pool, baseline);
    // A replacement cancelled by close() may have reached the server before its cancel.
    expect((await server.counts()).accepted).toBeGreaterThanOrEqual(pool.stats().opened);
  });

  test("maxLifetime: a busy connection past its lifetime is closed at release", async () => {
    await using server = await startServer();
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, min: 1, max: 1, maxLifetime: 50 });
    await pool.ready();
    const fd = await pool.acquireFd();
    // Let the lifetime pass while the connection is busy.
    await Bun.sleep(60);
    pool.release(fd);
    expect(pool.stats()).toMatchObject({ busy: 0, idle: 0, closed: 1 });
    pool.close();
  });

  test("idleTimeout trims idle connections back to min, longest idle first", async () => {
    await using server = await startChildServer();
    const baseline = fdCount();
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, min: 1, idleTimeout: 50 });
    await pool.ready();
    const fds = await Promise.all(Array.from({ length: 5 }, () => pool.acquireFd()));
    const kept = fds[0]!;
    // Released last, so idle the shortest: the one min keeps.
    for (const fd of fds.slice(1)) pool.release(fd);
    pool.release(kept);
    expect(pool.stats()).toMatchObject({ idle: 5, opened: 5 });
    await waitFor(() => pool.stats().idle === 1, "idle connections trimmed to min");
    expect(pool.stats()).toMatchObject({ idle: 1, closed: 4 });
    await waitForAsync(async () => (await server.counts()).open === 1, "the server to see 4 closed");
    expect(await pool.acquireFd()).toBe(kept);
    pool.release(kept);
    await closeClean(pool, baseline);
  });
});

describe("waiting", () => {
  test("acquireTimeout: a waiting acquire rejects with ETIMEDOUT saying it was the acquire", async () => {
    await using server = await startServer();
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, max: 1, acquireTimeout: 50 });
    const fd = await pool.acquireFd();
    const error = await pool.acquireFd().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PoolAcquireTimeoutError);
    expect(error).toMatchObject({ code: "ETIMEDOUT", syscall: "acquire", timeout: 50 });
    expect(String((error as Error).message)).toMatch(/^acquire ETIMEDOUT: no pooled connection became free within 50 ms/);
    expect(pool.stats()).toMatchObject({ waiting: 0, busy: 1 });
    pool.release(fd);
    pool.close();
  });

  test("maxWaiting: one acquire more than may wait rejects at once; the waiting one gets the next release", async () => {
    await using server = await startServer();
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, max: 1, maxWaiting: 1 });
    const fd = await pool.acquireFd();
    const waiting = pool.acquireFd();
    const error = await pool.acquireFd().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PoolQueueFullError);
    expect(error).toMatchObject({ code: "ERR_POOL_QUEUE_FULL", maxWaiting: 1 });
    pool.release(fd);
    expect(await waiting).toBe(fd);
    pool.release(fd);
    pool.close();
  });

  test("an aborted acquire leaves the queue with the signal's reason; the next release goes idle", async () => {
    await using server = await startServer();
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, max: 1 });
    const fd = await pool.acquireFd();
    const controller = new AbortController();
    const waiting = pool.acquireNet({ signal: controller.signal });
    expect(pool.stats().waiting).toBe(1);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: "AbortError" });
    expect(pool.stats().waiting).toBe(0);
    pool.release(fd);
    expect(pool.stats()).toMatchObject({ idle: 1, busy: 0 });
    // Served by a release, then aborted before the acquire resumed: the connection goes back.
    const late = new AbortController();
    const taken = await pool.acquireFd();
    const racing = pool.acquireFd({ signal: late.signal });
    pool.release(taken);
    late.abort();
    await expect(racing).rejects.toMatchObject({ name: "AbortError" });
    expect(pool.stats()).toMatchObject({ idle: 1, busy: 0, waiting: 0 });
    const reason = new Error("gave up");
    await expect(pool.acquireFd({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(pool.stats()).toMatchObject({ idle: 1, busy: 0 });
    pool.close();
  });
});

describe("close", () => {
  test("close() rejects waiters and ready(), closes idle connections; busy ones close when released", async () => {
    await using server = await controlledServer();
    const baseline = fdCount();
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, min: 1, max: 2 });
    await pool.ready();
    const busy = await pool.acquireNet();
    const fd = await pool.acquireFd();
    const served = pool.acquireFd();
    const waiting = [pool.acquireNet(), pool.acquire({ socket: { data() {} } })].map((acquire) => acquire.catch((e: unknown) => e));
    pool.release(fd);
    // The release went to the first waiter.
    expect(await served).toBe(fd);
    pool.close();
    for (const outcome of waiting) expect(await outcome).toBeInstanceOf(PoolClosedError);
    await expect(pool.ready()).rejects.toMatchObject({ code: "ERR_POOL_CLOSED" });
    await expect(pool.acquireFd()).rejects.toBeInstanceOf(PoolClosedError);
    // A busy connection still works until it is released, which closes it.
    expect(await echo(busy, "after close")).toBe("after close");
    pool.release(busy);
    pool.release(fd);
    expect(pool.stats()).toEqual({ idle: 0, busy: 0, connecting: 0, waiting: 0, opened: 2, closed: 2, failed: 0 } satisfies PoolStats);
    await waitFor(() => server.open() === 0, "the server to see both closed");
    await expectClean(connector, baseline);
  });

  test("close() cancels connects in flight, and the Connector closes their sockets", async () => {
    using hanging = await hangingTarget(connector);
    const baseline = fdCount();
    const pool = new Pool({ host: "127.0.0.1", port: hanging.port }, { connector, min: 3 });
    const ready = pool.ready();
    await waitFor(() => connector.stats().inFlight === 3, "3 connects in the kernel");
    expect(pool.stats().connecting).toBe(3);
    pool[Symbol.dispose]();
    await expect(ready).rejects.toBeInstanceOf(PoolClosedError);
    await closeClean(pool, baseline);
    expect(pool.stats().failed).toBe(0);
  });

  test("a released connection after close() is closed, and close() twice is fine", async () => {
    await using server = await startServer();
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector });
    const fd = await pool.acquireFd();
    pool.close();
    pool.close();
    pool.release(fd);
    expect(pool.stats()).toMatchObject({ busy: 0, closed: 1 });
  });
});
