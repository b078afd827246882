/**
 * Issue 7, item 9: `rate({ send: Uint8Array })` left a `uring-connect-*`
 * directory with a `payload` file in the temp directory on every call (the
 * API built a command line and passed the payload as @file). The API now
 * hands the checked options to the engine directly, and worker processes get
 * the payload inside their job (base64 on stdin): no temp files at all.
 */
import { expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { rate } from "../../src/loadgen/index.ts";
import { startChildServer, waitForAsync } from "../harness.ts";

/** Entries of the temp directory now. */
const tempEntries = () => new Set(readdirSync(tmpdir()));

/** Entries that appeared since `before` and look like ours. */
const ours = (before: Set<string>) => [...tempEntries()].filter((name) => !before.has(name) && name.startsWith("uring-connect-"));

// Every byte value, so nothing survives by being text.
const payload = Uint8Array.from({ length: 256 }, (_, i) => i);

test("a binary payload leaves no temp files, in process", async () => {
  await using server = await startChildServer({ echo: true });
  const before = tempEntries();
  const report = await rate({ target: `127.0.0.1:${server.port}`, connections: 20, concurrency: 5, send: payload, expectBytes: 256 });
  expect(ours(before)).toEqual([]);
  expect(report.connects).toBe(20);
  await waitForAsync(async () => (await server.counts()).bytes === 20 * 256, "every payload at the server");
});

test("a binary payload reaches worker processes whole, and leaves no temp files", async () => {
  await using server = await startChildServer({ echo: true });
  const before = tempEntries();
  const report = await rate({ target: `127.0.0.1:${server.port}`, connections: 20, concurrency: 4, workers: 2, send: payload, expectBytes: 256 });
  expect(ours(before)).toEqual([]);
  expect(report.workers).toBe(2);
  expect(report.connects).toBe(20);
  await waitForAsync(async () => (await server.counts()).bytes === 20 * 256, "every payload at the server");
});
