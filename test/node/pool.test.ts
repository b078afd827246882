/**
 * The node:net entry points and adapters with `{ pool }`: connections come
 * from a Pool (its target, its options), and a socket the client closes is
 * dropped by the pool. ioredis against a real redis-server; createConnection
 * and connectNet against a local echo server.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { once } from "node:events";
import Redis from "ioredis";
import { Connector, Pool } from "../../src/index.ts";
import { connectNet, createConnection, ioredisConnector, pgStream } from "../../src/node/index.ts";
import { expectClean, fdCount, startServer, waitFor } from "../harness.ts";
import { skipWithout, startRedis, type RedisServer } from "../../tools/servers.ts";
import { clientAddresses } from "./support.ts";

let connector: Connector;
beforeEach(() => {
  connector = new Connector();
});
afterEach(() => connector.close());

describe("options", () => {
  test("pool must be a Pool, given without a Connector or connect options (its own apply); signal may come with it", async () => {
    await using server = await startServer();
    using pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector });
    expect(() => createConnection(undefined, { pool: {} as Pool })).toThrow(/options\.pool must be a Pool, got an object/);
    expect(() => ioredisConnector({ pool, connector })).toThrow(/options\.connector cannot be given with options\.pool/);
    expect(() => pgStream({ pool, timeout: 5 })).toThrow(/options\.timeout cannot be given with options\.pool: the pool's connections are opened with the pool's own options/);
    expect(() => createConnection(undefined, { pool, signal: new AbortController().signal })).not.toThrow();
  });
});

describe("createConnection and connectNet with a pool", () => {
  test("connect() takes an idle connection from the pool: 'connect' is emitted, buffered writes go out; closing the socket drops it from the pool", async () => {
    await using server = await startServer({ echo: true });
    const baseline = fdCount();
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, min: 1, localAddress: "127.0.0.31" });
    await pool.ready();
    // The target passed to connect() is checked, but the pool's is used.
    const socket = createConnection(undefined, { pool }).connect(1, "127.0.0.1");
    socket.write("early");
    await once(socket, "connect");
    expect(socket.connecting).toBe(false);
    expect(socket.localAddress).toBe("127.0.0.31");
    expect(socket.remotePort).toBe(server.port);
    expect(String((await once(socket, "data"))[0])).toBe("early");
    expect(pool.stats()).toMatchObject({ idle: 0, busy: 1, opened: 1 });
    socket.destroy();
    await waitFor(() => pool.stats().closed === 1, "the pool to drop the closed socket's connection");
    await waitFor(() => pool.stats().idle === 1, "the refill to min");
    await waitFor(() => server.accepted() === 2, "the server to accept the refill");
    pool.close();
    await expectClean(connector, baseline);
  });

  test("a socket destroyed while it waits for a pooled connection leaves the waiting room", async () => {
    await using server = await startServer();
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, max: 1 });
    const held = await pool.acquireFd();
    const socket = createConnection({ host: "127.0.0.1", port: server.port }, { pool });
    await waitFor(() => pool.stats().waiting === 1, "the socket to wait for a connection");
    socket.destroy();
    await waitFor(() => pool.stats().waiting === 0, "the wait to end");
    pool.release(held);
    expect(pool.stats()).toMatchObject({ idle: 1, busy: 0 });
    pool.close();
  });

  test("connectNet with a pool resolves with a pooled connection", async () => {
    await using server = await startServer({ echo: true });
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, min: 1 });
    await pool.ready();
    const socket = await connectNet({ host: "127.0.0.1", port: server.port }, { pool });
    expect(pool.stats()).toMatchObject({ busy: 1, opened: 1 });
    socket.write("hi");
    expect(String((await once(socket, "data"))[0])).toBe("hi");
    pool.release(socket);
    expect(pool.stats()).toMatchObject({ idle: 1, busy: 0, closed: 0 });
    pool.close();
  });
});

describe.skipIf(skipWithout("redis"))("ioredis with a pool", () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(() => server?.[Symbol.asyncDispose]());


  test("each client gets a warm connection from the pool (the pool's bound address in CLIENT LIST); a client that quits is dropped and the pool refills", async () => {
    const baseline = fdCount();
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, min: 2, localAddress: "127.0.0.32" });
    await pool.ready();
    const Connector = ioredisConnector({ pool });
    const first = new Redis({ lazyConnect: true, Connector });
    const second = new Redis({ lazyConnect: true, Connector });
    await Promise.all([first.connect(), second.connect()]);
    // Both came from the prewarmed connections: nothing new was opened.
    expect(pool.stats()).toMatchObject({ idle: 0, busy: 2, opened: 2 });
    expect(await first.set("pooled", "yes")).toBe("OK");
    expect(await second.get("pooled")).toBe("yes");
    const addresses = await first.call("CLIENT", "LIST").then(() => clientAddresses(first));
    expect(addresses.sort()).toEqual([`127.0.0.32:${first.stream.localPort}`, `127.0.0.32:${second.stream.localPort}`].sort());
    await first.quit();
    await waitFor(() => pool.stats().closed === 1, "the pool to drop the quit client's connection");
    await waitFor(() => pool.stats().idle === 1, "the refill to min");
    second.disconnect();
    await waitFor(() => pool.stats().closed === 2 && pool.stats().idle === 2, "the second dropped and refilled");
    pool.close();
    await expectClean(connector, baseline);
  });
});
