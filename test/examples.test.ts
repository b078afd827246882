/** The programs in examples/, run against real servers as a user would run them. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { startApi } from "../examples/redis-api.ts";
import { sharedConnector } from "../src/index.ts";
import { fdCount, waitFor } from "./harness.ts";
import { skipWithout, startRedis, type RedisServer } from "../tools/servers.ts";

describe.skipIf(skipWithout("redis"))("examples/redis-api.ts", () => {
  let redisServer: RedisServer;
  beforeAll(async () => {
    redisServer = await startRedis();
  });
  afterAll(() => redisServer?.[Symbol.asyncDispose]());

  test("counts over HTTP in redis, through a connection uring-connect opened; nothing left open after", async () => {
    // The example connects through the process-wide Connector, whose ring stays open.
    sharedConnector();
    const baseline = fdCount();
    {
      await using api = startApi({ port: 0, redisHost: "127.0.0.1", redisPort: redisServer.port, localAddress: "127.0.0.41" });
      const url = `${api.server.url}counters/visits`;
      expect(await (await fetch(url, { method: "POST" })).json()).toEqual({ value: 1 });
      expect(await (await fetch(url, { method: "POST" })).json()).toEqual({ value: 2 });
      expect(await (await fetch(url)).json()).toEqual({ value: 2 });
      expect((await fetch(`${api.server.url}nothing`)).status).toBe(404);

      // The server sees the API's connection coming from the address it was given.
      const observer = new Redis({ host: "127.0.0.1", port: redisServer.port });
      const clients = (await observer.client("LIST")) as string;
      await observer.quit();
      expect(clients).toContain(`addr=127.0.0.41:${api.redis.stream.localPort}`);
    }
    await waitFor(() => fdCount() <= baseline, `fd count to return to ${baseline}`);
  });
});
