/** The programs in examples/, run against real servers as a user would run them. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { startProxy } from "../examples/proxy.ts";
import { startApi } from "../examples/redis-api.ts";
import { sharedConnector } from "../src/index.ts";
import { refusingPort } from "./fixtures/sockets.ts";
import { fdCount, startServer, waitFor } from "./harness.ts";
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

describe("examples/proxy.ts", () => {
  const post = (url: URL | string, body: string) => fetch(url, { method: "POST", body });

  test("forwards each request's line over pooled connections: many requests, at most max upstream connections; nothing left open after", async () => {
    await using upstream = await startServer({ echo: true });
    // The proxy's pool connects through the process-wide Connector, whose ring stays open.
    sharedConnector();
    const baseline = fdCount();
    const max = 4;
    const requests = 40;
    {
      using proxy = startProxy({ port: 0, upstream: { host: "127.0.0.1", port: upstream.port }, pool: { min: 2, max } });
      await proxy.pool.ready();
      const bodies = Array.from({ length: requests }, (_, i) => `request ${i} ✓`);
      const replies = await Promise.all(bodies.map(async (body) => (await post(proxy.server.url, body)).text()));
      expect(replies).toEqual(bodies.map((body) => `${body}\n`));
      // A second wave, one at a time, on the connections the first left idle.
      for (const body of ["again", "and again"]) expect(await (await post(proxy.server.url, body)).text()).toBe(`${body}\n`);

      // A connect the pool made for headroom may still be on its way to the upstream's accept.
      await waitFor(() => proxy.pool.stats().connecting === 0 && upstream.accepted() === proxy.pool.stats().opened, "the upstream to accept every connection the pool opened");
      expect(upstream.accepted()).toBeLessThanOrEqual(max);
      expect(proxy.pool.stats()).toMatchObject({ busy: 0, waiting: 0, closed: 0, failed: 0 });
      expect((await fetch(proxy.server.url)).status).toBe(405);
      expect((await post(proxy.server.url, "two\nlines")).status).toBe(400);
    }
    await waitFor(() => upstream.open() === 0, "the upstream to see every pooled connection closed");
    await waitFor(() => fdCount() <= baseline, `fd count to return to ${baseline}`);
  });

  test("a refused upstream answers 502 with the connect error", async () => {
    using refusing = refusingPort();
    using proxy = startProxy({ port: 0, upstream: { host: "127.0.0.1", port: refusing.port }, pool: { min: 0 } });
    const response = await post(proxy.server.url, "hello");
    expect(response.status).toBe(502);
    expect(await response.text()).toBe(`connect ECONNREFUSED 127.0.0.1:${refusing.port}\n`);
  });

  test("an upstream that does not reply in time: 504, and its connection is dropped, not reused", async () => {
    // Reads and never replies.
    await using upstream = await startServer();
    using proxy = startProxy({ port: 0, upstream: { host: "127.0.0.1", port: upstream.port }, pool: { min: 1, max: 1 }, replyTimeout: 100 });
    await proxy.pool.ready();
    const response = await post(proxy.server.url, "anyone there?");
    expect(response.status).toBe(504);
    expect(await response.text()).toBe("no reply within 100 ms\n");
    expect(proxy.pool.stats()).toMatchObject({ busy: 0, closed: 1 });
    await waitFor(() => upstream.accepted() === 2 && upstream.open() === 1, "the upstream to see the dropped connection closed and min refilled");
  });
});
