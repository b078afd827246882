/** The scripting API and the `bun test` storm helper, against real servers. */
import { expect, test } from "bun:test";
import { hold, rate } from "uring-connect/loadgen";
import { storm } from "uring-connect/testing";
import { fdCount, startChildServer, waitFor, waitForAsync } from "./harness.ts";

test("rate() resolves with the same report the CLI prints", async () => {
  await using server = await startChildServer();
  const report = await rate({ target: { host: "127.0.0.1", port: server.port }, connections: 2000, concurrency: 100 });
  expect(report.connects).toBe(2000);
  expect(report.errors).toEqual({});
  expect(report.engine).toBe("uring-connect");
  expect(Object.keys(report).sort()).toEqual(
    ["concurrency", "connects", "durationMs", "engine", "errors", "histogram", "interrupted", "latencyUs", "mode", "notes", "rate", "target", "timeline", "workers"].sort(),
  );
});

test("rate() with a signal stops early and reports what was done", async () => {
  await using server = await startChildServer();
  const controller = new AbortController();
  void waitForAsync(async () => (await server.counts()).accepted > 0, "connections at the server").then(() => controller.abort());
  const report = await rate({ target: `127.0.0.1:${server.port}`, duration: "300s", concurrency: 50, signal: controller.signal });
  expect(report.interrupted).toBe(true);
  expect(report.durationMs).toBeLessThan(300_000); // stopped by the signal, not by the duration
  expect(report.connects).toBeGreaterThan(0);
  await waitForAsync(async () => (await server.counts()).open === 0, "every connection closed");
});

test("rate() rejects bad input with a TypeError naming it, before opening anything", async () => {
  const baseline = fdCount();
  await expect(rate({ target: "nowhere" })).rejects.toThrow(/malformed target "nowhere"/);
  await expect(rate({ target: "127.0.0.1:1", connections: 5, duration: 100 })).rejects.toThrow(TypeError);
  await expect(rate({ target: "127.0.0.1:1", close: "maybe" as never })).rejects.toThrow('close must be rst or fin, got "maybe"');
  expect(fdCount()).toBeLessThanOrEqual(baseline); // nothing opened (earlier closes may still land)
});

test("hold() holds, and counts what the peer dropped", async () => {
  await using server = await startChildServer();
  const pending = hold({ target: `127.0.0.1:${server.port}`, concurrency: 100, duration: 1500 });
  await waitForAsync(async () => (await server.counts()).open === 100, "100 held at the server");
  await server.drop(3);
  const report = await pending;
  expect(report.connects).toBe(100);
  expect(report.dropped).toBe(3);
  expect(report.held).toBe(97);
});

// The example from the README: a Bun.serve server must survive a storm.
test("storm: a Bun.serve server survives 10,000 connections, 1,000 at a time", async () => {
  using server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("ok") });
  const report = await storm({ port: server.port, connections: 10_000, concurrency: 1000 });
  expect(report.connects).toBe(10_000);
  expect(report.errors).toEqual({});
  expect(await (await fetch(server.url)).text()).toBe("ok");
});

test("storm with a request: every connection gets a reply", async () => {
  using server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("ok") });
  const request = `GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;
  const report = await storm({ port: server.port, connections: 500, concurrency: 50, send: request, expectBytes: 12 });
  expect(report.connects).toBe(500);
  expect(report.errors).toEqual({});
  expect(report.exchanges).toBe(500);
  expect(report.exchangeErrors).toEqual({});
  await waitFor(() => server.pendingRequests === 0, "the server to finish");
});
