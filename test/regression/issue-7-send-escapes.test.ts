/**
 * Issue 7, item 3: `--send '*1\r\n$4\r\nPING\r\n'` (single quotes, as
 * tcpkali users type it) sent the backslashes literally. The CLI now reads
 * `\r \n \t \\ \xNN` in --send text, as tcpkali's -m does; `@file` is sent
 * as its raw bytes; the scripting API's `send` string is sent as written
 * (it is already a JS string, escapes included).
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { decodeSendText } from "../../src/loadgen/args.ts";
import { rate } from "../../src/loadgen/index.ts";
import type { Report } from "../../src/loadgen/stats.ts";
import { runCli } from "../cli-run.ts";
import { tempDir } from "../harness.ts";

/** A Bun server answering each connection's first `request.length` bytes with `reply` (or "-ERR" when they differ); records what it got. */
function respServer(request: Uint8Array, reply: string): Disposable & { port: number; received: Uint8Array[] } {
  const received: Uint8Array[] = [];
  const server = Bun.listen<{ got: number[] }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        socket.data = { got: [] };
      },
      data(socket, chunk) {
        socket.data.got.push(...chunk);
        if (socket.data.got.length < request.length) return;
        const got = new Uint8Array(socket.data.got);
        received.push(got);
        socket.write(Buffer.from(got).equals(Buffer.from(request)) ? reply : "-ERR unknown\r\n");
      },
      error() {},
    },
  });
  return { port: server.port, received, [Symbol.dispose]: () => server.stop(true) };
}

const PING = new TextEncoder().encode("*1\r\n$4\r\nPING\r\n");

describe("--send escapes", () => {
  test("a RESP PING typed in single quotes reaches the server as CR LF bytes and gets +PONG", async () => {
    using server = respServer(PING, "+PONG\r\n");
    // Exactly what a shell passes for '*1\r\n$4\r\nPING\r\n': backslashes and letters.
    const run = await runCli(["rate", `127.0.0.1:${server.port}`, "-n", "5", "-c", "1", "--send", "*1\\r\\n$4\\r\\nPING\\r\\n", "--expect-bytes", "7", "--json"]);
    expect(run.code).toBe(0);
    expect(server.received.map((bytes) => Buffer.from(bytes).toString())).toEqual(Array(5).fill("*1\r\n$4\r\nPING\r\n"));
    const r = JSON.parse(run.stdout) as Report;
    expect(r.exchanges).toBe(5);
  });

  test("every escape, and bytes above 0x7f", () => {
    expect([...decodeSendText("a\\tb\\\\c\\x00\\xff\\xA0\\n\\r")]).toEqual([97, 9, 98, 92, 99, 0, 255, 160, 10, 13]);
    expect(new TextDecoder().decode(decodeSendText("héllo"))).toBe("héllo");
    expect([...decodeSendText("")]).toEqual([]);
  });

  test("an unknown escape is a usage error, not bytes sent silently", async () => {
    expect(() => decodeSendText("a\\qb")).toThrow("--send: unknown escape \\q at character 2: use \\r \\n \\t \\\\ or \\xNN");
    expect(() => decodeSendText("\\x4")).toThrow("unknown escape \\x4");
    const run = await runCli(["rate", "127.0.0.1:1", "--send", "\\e"]);
    expect(run.code).toBe(2);
    expect(run.stderr.split("\n")[0]).toBe("uring-connect: --send: unknown escape \\e at character 1: use \\r \\n \\t \\\\ or \\xNN");
  });

  test("@file is sent as its bytes, backslashes and all", async () => {
    await using dir = tempDir();
    const file = join(dir.path, "request");
    const literal = new TextEncoder().encode("lit\\r\\n");
    await Bun.write(file, literal);
    using server = respServer(literal, "ok");
    const run = await runCli(["rate", `127.0.0.1:${server.port}`, "-n", "3", "-c", "1", "--send", `@${file}`, "--expect-bytes", "2", "--json"]);
    expect(run.code).toBe(0);
    expect((JSON.parse(run.stdout) as Report).exchanges).toBe(3);
    expect(server.received.map((bytes) => Buffer.from(bytes).toString())).toEqual(Array(3).fill("lit\\r\\n"));
  });
});

test("the scripting API sends a string as written: a JS string's escapes are already characters", async () => {
  using server = respServer(PING, "+PONG\r\n");
  const report = await rate({ target: `127.0.0.1:${server.port}`, connections: 2, concurrency: 1, send: "*1\r\n$4\r\nPING\r\n", expectBytes: 7 });
  expect(report.exchanges).toBe(2);
  expect(server.received.map((bytes) => Buffer.from(bytes).toString())).toEqual(["*1\r\n$4\r\nPING\r\n", "*1\r\n$4\r\nPING\r\n"]);
});
