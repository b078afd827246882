/** What the node:net and client tests share: a target whose connects hang, a counting Connector, socket options read back. */
import { dlopen, ptr } from "bun:ffi";
import { closeSync } from "node:fs";
import type net from "node:net";
import type Redis from "ioredis";
import { Connector, type ConnectOptions, type Target } from "../../src/index.ts";
import { blackholeListener } from "../fixtures/sockets.ts";

export interface HangingTarget extends Disposable {
  port: number;
}

/**
 * A 127.0.0.1 port where connects hang: a never-accepting listener with
 * backlog 0 whose one queue place is taken by a connection made here.
 */
export async function hangingTarget(connector: Connector): Promise<HangingTarget> {
  const listener = blackholeListener();
  const filler = await connector.connectFd({ host: "127.0.0.1", port: listener.port });
  return {
    port: listener.port,
    [Symbol.dispose]() {
      closeSync(filler);
      listener[Symbol.dispose]();
    },
  };
}

/**
 * A real Connector that counts the connects asked of it: proof that a
 * client's connection came through it where no source address can show it
 * (unix sockets).
 */
export class CountingConnector extends Connector {
  connects = 0;
  override connectFd(target: Target, options?: ConnectOptions): Promise<number> {
    this.connects++;
    return super.connectFd(target, options);
  }
}

const libc = dlopen("libc.so.6", {
  getsockopt: { args: ["i32", "i32", "i32", "ptr", "ptr"], returns: "i32" },
});

/** Socket options as the kernel has them (linux/tcp.h, asm-generic/socket.h). */
export const SockOpt = {
  noDelay: [6, 1], // IPPROTO_TCP, TCP_NODELAY
  keepAlive: [1, 9], // SOL_SOCKET, SO_KEEPALIVE
  keepIdle: [6, 4], // IPPROTO_TCP, TCP_KEEPIDLE (seconds)
} as const;

/** An int socket option of a connected net.Socket, read with getsockopt(2) on its fd. */
export function sockopt(socket: net.Socket, [level, name]: readonly [number, number]): number {
  // Bun's net.Socket keeps its fd on its handle.
  const fd = (socket as unknown as { _handle: { fd: number } | null })._handle?.fd;
  if (fd === undefined) throw new Error("the socket has no fd (not connected)");
  const value = new Int32Array(1);
  const length = new Uint32Array([4]);
  if (libc.symbols.getsockopt(fd, level, name, ptr(value), ptr(length)) !== 0) throw new Error(`getsockopt(${fd}, ${level}, ${name}) failed`);
  return value[0]!;
}

/** The clients redis-server lists, by `addr` (ip:port as it sees them). */
export async function clientAddresses(redis: Redis): Promise<string[]> {
  const list = (await redis.client("LIST")) as string;
  return list
    .trim()
    .split("\n")
    .map((line) => /(?:^| )addr=(\S+)/.exec(line)?.[1] ?? line);
}
