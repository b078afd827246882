/**
 * Issue 7, item 6: silent mistakes. A misspelt option was ignored; closeFd
 * after close() did not close the fd when it returned; connect() without a
 * data or drain handler opened a real connection before Bun refused the
 * handlers. Each is now caught (or done) before anything else happens.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { closeSync, readdirSync } from "node:fs";
import { Connector, type ConnectOptions, type SocketConnectOptions } from "../../src/index.ts";
import { rejectUnknownKeys } from "../../src/options.ts";
import { expectClean, fdCount, startServer, waitFor, type TestServer } from "../harness.ts";

let connector: Connector;
beforeEach(() => {
  connector = new Connector();
});
afterEach(() => connector.close());

/** Is `fd` open in this process right now? */
const isOpen = (fd: number): boolean => readdirSync("/proc/self/fd").includes(String(fd));

/**
 * Prove that a rejected call opened no connection: a good connect made after
 * it is the server's next accept after `acceptedBefore` (accepts are in
 * order, so a connection the rejected call had opened would come first).
 */
async function expectNothingReached(server: TestServer, acceptedBefore: number): Promise<void> {
  const fd = await connector.connectFd({ host: "127.0.0.1", port: server.port });
  await waitFor(() => server.accepted() > acceptedBefore, "the good connect to be accepted");
  expect(server.accepted()).toBe(acceptedBefore + 1);
  closeSync(fd);
}

/** `call` must reject with a TypeError matching `message`, leaving fds, slots and the server untouched. */
async function expectRejectedBeforeConnect(server: TestServer, call: () => Promise<unknown>, message: string | RegExp): Promise<void> {
  const fds = fdCount();
  const stats = connector.stats();
  const acceptedBefore = server.accepted();
  const error = await call().then(
    (value) => {
      if (typeof value === "number") closeSync(value);
      return value;
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TypeError);
  if (typeof message === "string") expect((error as Error).message).toBe(message);
  else expect((error as Error).message).toMatch(message);
  expect(fdCount()).toBeLessThanOrEqual(fds); // nothing opened (earlier closes may still land)
  expect(connector.stats()).toEqual(stats);
  await expectNothingReached(server, acceptedBefore);
  await expectClean(connector, fds);
}

describe("unknown option keys are a TypeError suggesting the nearest known one", () => {
  test("connectFd({ timout })", async () => {
    await using server = await startServer();
    const target = { host: "127.0.0.1", port: server.port };
    await expectRejectedBeforeConnect(
      server,
      () => connector.connectFd(target, { timout: 200 } as ConnectOptions),
      'options.timout is not a known option; did you mean "timeout"?',
    );
  });

  test("connectMany with { nodelay } (case differs)", async () => {
    await using server = await startServer();
    const target = { host: "127.0.0.1", port: server.port };
    await expectRejectedBeforeConnect(
      server,
      () => connector.connectMany([target, target], { nodelay: true } as ConnectOptions),
      'options.nodelay is not a known option; did you mean "noDelay"?',
    );
  });

  test("connect() knows socket and data, and suggests among them too", async () => {
    await using server = await startServer();
    const target = { host: "127.0.0.1", port: server.port };
    const socket = { data() {} };
    await expectRejectedBeforeConnect(
      server,
      () => connector.connect(target, { socket, data: 1, keepAlve: true } as SocketConnectOptions<number>),
      'options.keepAlve is not a known option; did you mean "keepAlive"?',
    );
    await expectRejectedBeforeConnect(
      server,
      () => connector.connect(target, { socket, dat: 1 } as SocketConnectOptions<number>),
      'options.dat is not a known option; did you mean "data"?',
    );
  });

  test("new Connector({ entires }) and a key like no known one", () => {
    const fds = fdCount();
    expect(() => new Connector({ entires: 8 } as never)).toThrow(
      new TypeError('options.entires is not a known option; did you mean "entries"?'),
    );
    expect(() => new Connector({ ringSize: 8 } as never)).toThrow(
      new TypeError("options.ringSize is not a known option; the known options are entries, maxInflight, fallback"),
    );
    expect(fdCount()).toBeLessThanOrEqual(fds);
  });

  test("rejectUnknownKeys, for other option objects", () => {
    const known = ["connections", "concurrency", "timeout"] as const;
    expect(() => rejectUnknownKeys({ connections: 1, timeout: 2 }, known)).not.toThrow();
    expect(() => rejectUnknownKeys({ concurency: 5 }, known, "storm options")).toThrow(
      new TypeError('storm options.concurency is not a known option; did you mean "concurrency"?'),
    );
    expect(() => rejectUnknownKeys({ "time out": 5 }, known)).toThrow(
      new TypeError('options["time out"] is not a known option; did you mean "timeout"?'),
    );
    expect(() => rejectUnknownKeys({ x: 1 }, known)).toThrow(
      new TypeError("options.x is not a known option; the known options are connections, concurrency, timeout"),
    );
  });
});

describe("closeFd after close() closes the fd", () => {
  test("called after close(): the fd is closed when closeFd returns, and the server sees the end", async () => {
    await using server = await startServer();
    const fd = await connector.connectFd({ host: "127.0.0.1", port: server.port });
    await waitFor(() => server.open() === 1, "the server to accept");
    connector.close();
    expect(isOpen(fd)).toBe(true);
    connector.closeFd(fd);
    expect(isOpen(fd)).toBe(false);
    await waitFor(() => server.open() === 0, "the server to see the connection end");
  });

  test("called just before close(): close() closes it before it returns", async () => {
    await using server = await startServer();
    const fd = await connector.connectFd({ host: "127.0.0.1", port: server.port });
    await waitFor(() => server.open() === 1, "the server to accept");
    connector.closeFd(fd, { reset: true });
    connector.close();
    expect(isOpen(fd)).toBe(false);
    await waitFor(() => server.open() === 0, "the server to see the connection end");
  });
});

describe("connect() checks the socket handlers before connecting", () => {
  test("neither data nor drain: TypeError, no connection reaches the server", async () => {
    await using server = await startServer();
    const target = { host: "127.0.0.1", port: server.port };
    await expectRejectedBeforeConnect(
      server,
      () => connector.connect(target, { socket: { open() {}, close() {} } }),
      "options.socket must have a data or drain handler: Bun cannot adopt a socket without one",
    );
  });

  test("a handler that is not a function: TypeError naming it, no connection", async () => {
    await using server = await startServer();
    const target = { host: "127.0.0.1", port: server.port };
    await expectRejectedBeforeConnect(
      server,
      () => connector.connect(target, { socket: { data: "yes" } } as never),
      'options.socket.data must be a function, got "yes"',
    );
  });

  test("a drain handler alone is enough", async () => {
    await using server = await startServer();
    const socket = await connector.connect({ host: "127.0.0.1", port: server.port }, { socket: { drain() {} } });
    await waitFor(() => server.open() === 1, "the server to accept");
    socket.terminate();
    await waitFor(() => server.open() === 0, "the server to see the connection end");
  });
});
