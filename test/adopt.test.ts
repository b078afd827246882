/** fd -> Bun socket: round trips through adopted sockets against real echo servers. */
import { afterAll, expect, test } from "bun:test";
import type { Socket } from "bun";
import { join } from "node:path";
import { Connector, connect, type Target } from "../src/index.ts";
import { expectClean, fdCount, startServer, tempDir, waitFor } from "./harness.ts";

const connector = new Connector();
afterAll(() => connector.close());

/** Send `message` through an adopted socket and collect the echo until it is all back. */
async function roundTrip(target: Target, message: string, via = connector.connect.bind(connector)): Promise<string> {
  let received = "";
  let closed = false;
  let unsent = Buffer.from(message);
  // Bun sockets do not buffer: write what the kernel takes, the rest on drain.
  const flush = (s: Socket<{ tag: string }>) => {
    unsent = unsent.subarray(s.write(unsent));
  };
  const socket: Socket<{ tag: string }> = await via(target, {
    data: { tag: "mine" },
    socket: {
      data(s, chunk) {
        expect(s.data.tag).toBe("mine");
        received += chunk.toString();
        if (received.length >= message.length) s.end();
      },
      drain: flush,
      close() {
        closed = true;
      },
    },
  });
  flush(socket);
  await waitFor(() => closed, "the adopted socket to close");
  return received;
}

test("TCP round trip through an adopted Bun socket", async () => {
  await using server = await startServer({ echo: true });
  const baseline = fdCount();
  expect(await roundTrip({ host: "127.0.0.1", port: server.port }, "hello over io_uring")).toBe("hello over io_uring");
  await expectClean(connector, baseline);
});

test("64 KiB round trip over IPv6", async () => {
  await using server = await startServer({ host: "::1", echo: true });
  const baseline = fdCount();
  const big = "x".repeat(65536);
  expect(await roundTrip({ host: "::1", port: server.port }, big)).toBe(big);
  await expectClean(connector, baseline);
});

test("unix socket round trip", async () => {
  await using dir = tempDir();
  await using _server = await startServer({ path: join(dir.path, "echo.sock"), echo: true });
  const baseline = fdCount();
  expect(await roundTrip({ unix: join(dir.path, "echo.sock") }, "ping")).toBe("ping");
  await expectClean(connector, baseline);
});

test("top-level connect adopts too", async () => {
  await using server = await startServer({ echo: true });
  expect(await roundTrip({ host: "127.0.0.1", port: server.port }, "shared", connect)).toBe("shared");
});

test("connect without socket handlers is a TypeError, nothing opened", async () => {
  const baseline = fdCount();
  const error = await connector.connect({ host: "127.0.0.1", port: 1 }, {} as never).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(TypeError);
  expect((error as Error).message).toMatch(/options\.socket/);
  expect(fdCount()).toBeLessThanOrEqual(baseline); // nothing opened (earlier closes may still land)
});
