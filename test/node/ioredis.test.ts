/** ioredis with `Connector: ioredisConnector()`, against a real redis-server. */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { Connector, ConnectError } from "../../src/index.ts";
import { ioredisConnector } from "../../src/node/index.ts";
import { expectClean, fdCount } from "../harness.ts";
import { refusingPort } from "../fixtures/sockets.ts";
import { skipWithout, startRedis, type RedisServer } from "../../tools/servers.ts";
import { clientAddresses, CountingConnector, hangingTarget } from "./support.ts";

let server: RedisServer;
let connector: Connector;
beforeEach(() => {
  connector = new Connector();
});
afterEach(() => connector.close());


/** The 'error' a client emits, with retries off so it gives up after the first. */
function firstError(redis: Redis): Promise<unknown> {
  return new Promise((resolve) => redis.once("error", resolve));
}

describe.skipIf(skipWithout("redis"))("ioredis", () => {
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(() => server?.[Symbol.asyncDispose]());

  test("commands go over a connection from the bound address, the one CLIENT LIST shows; fds return after quit", async () => {
    const baseline = fdCount();
    const redis = new Redis({ host: "127.0.0.1", port: server.port, lazyConnect: true, Connector: ioredisConnector({ connector, localAddress: "127.0.0.20" }) });
    await redis.connect();
    expect(await redis.set("greeting", "hello")).toBe("OK");
    expect(await redis.get("greeting")).toBe("hello");
    const stream = redis.stream;
    expect(await clientAddresses(redis)).toEqual([`127.0.0.20:${stream.localPort}`]);
    await redis.quit();
    await expectClean(connector, baseline);
  });

  test("after the server drops the connection, ioredis reconnects through the Connector", async () => {
    const baseline = fdCount();
    const redis = new Redis({ host: "127.0.0.1", port: server.port, lazyConnect: true, Connector: ioredisConnector({ connector, localAddress: "127.0.0.21" }) });
    await redis.connect();
    const [first] = await clientAddresses(redis);
    const reconnected = new Promise((resolve) => redis.once("ready", resolve));
    // The server closes the client's own connection (SKIPME no) after replying.
    expect(await redis.call("CLIENT", "KILL", "ADDR", first!, "SKIPME", "no")).toBe(1);
    await reconnected;
    const [second] = await clientAddresses(redis);
    expect(second).toMatch(/^127\.0\.0\.21:\d+$/);
    expect(second).not.toBe(first);
    redis.disconnect();
    await expectClean(connector, baseline);
  });

  test("a refused connect reaches ioredis' 'error' as ConnectError ECONNREFUSED; nothing stays open", async () => {
    using refusing = refusingPort();
    const baseline = fdCount();
    const redis = new Redis({ host: "127.0.0.1", port: refusing.port, lazyConnect: true, retryStrategy: () => null, Connector: ioredisConnector({ connector }) });
    const error = firstError(redis);
    await redis.connect().catch(() => {});
    expect(await error).toBeInstanceOf(ConnectError);
    expect(await error).toMatchObject({ code: "ECONNREFUSED", address: "127.0.0.1", port: refusing.port });
    await expectClean(connector, baseline);
  });

  test("options.timeout: a connect that hangs reaches ioredis as ConnectError ETIMEDOUT", async () => {
    using hanging = await hangingTarget(connector);
    const baseline = fdCount();
    const redis = new Redis({
      host: "127.0.0.1",
      port: hanging.port,
      lazyConnect: true,
      retryStrategy: () => null,
      connectTimeout: 0,
      Connector: ioredisConnector({ connector, timeout: 100 }),
    });
    const error = firstError(redis);
    await redis.connect().catch(() => {});
    expect(await error).toBeInstanceOf(ConnectError);
    expect(await error).toMatchObject({ code: "ETIMEDOUT", port: hanging.port });
    await expectClean(connector, baseline);
  });

  test("ioredis' own connectTimeout still applies: it destroys the connecting socket, and the Connector closes its fd", async () => {
    using hanging = await hangingTarget(connector);
    const baseline = fdCount();
    const redis = new Redis({ host: "127.0.0.1", port: hanging.port, lazyConnect: true, retryStrategy: () => null, connectTimeout: 50, Connector: ioredisConnector({ connector }) });
    const error = firstError(redis);
    await redis.connect().catch(() => {});
    expect(await error).toMatchObject({ code: "ETIMEDOUT", message: "connect ETIMEDOUT" });
    await expectClean(connector, baseline);
  });

  test("disconnect() right after connect() wins: connect() rejects and nothing is connected", async () => {
    const counting = new CountingConnector();
    const redis = new Redis({ host: "127.0.0.1", port: server.port, lazyConnect: true, retryStrategy: () => null, Connector: ioredisConnector({ connector: counting }) });
    const connecting = redis.connect();
    redis.disconnect();
    await expect(connecting).rejects.toThrow("Connection is closed.");
    expect(counting.connects).toBe(0);
    counting.close();
  });

  test("ioredis' tls option is refused with a TypeError, as the Connector does no TLS", () => {
    expect(() => new Redis({ port: server.port, lazyConnect: true, tls: {}, Connector: ioredisConnector({ connector }) })).toThrow(
      "ioredisConnector does not do TLS",
    );
  });
});
