/** Shared test helpers: real local servers, fd counting, waiting on conditions, child processes. */
import net from "node:net";
import { closeSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "bun:test";
import type { Connector } from "../src/index.ts";
import { readLines } from "../src/loadgen/lines.ts";
import { runProcess, type Finished } from "../tools/process.ts";
import { raiseBacklog } from "./fixtures/sockets.ts";

/**
 * How long a wait may take before it counts as a hang. Only a hang guard:
 * generous, so a loaded machine never trips it, and below the per-test
 * timeout so a hang says what it was waiting for.
 */
const HANG_GUARD_MS = 30_000;

/** Open fds of this process, as /proc/self/fd lists them. */
export function fdCount(): number {
  return readdirSync("/proc/self/fd").length;
}

/** Poll `condition` until it holds; fail with `what` if it never does (a hang guard, not a deadline). */
export async function waitFor(condition: () => boolean, what: string, ms = HANG_GUARD_MS): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

/** Like waitFor, for a condition that must ask another process. */
export async function waitForAsync(condition: () => Promise<boolean>, what: string, ms = HANG_GUARD_MS): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

export interface TestServer extends AsyncDisposable {
  port: number;
  /** Connections accepted so far. */
  accepted(): number;
  /** Connections currently open on the server side. */
  open(): number;
  /** The peer address of each accepted connection, in the order accepted. */
  peers(): string[];
}

/**
 * A node:net server on `host` and `port` (default: a free one) or a unix
 * `path` that holds each connection until the peer closes it, echoing data
 * when `echo`. Its backlog is raised to somaxconn, so storms measure the
 * connector, not a full accept queue.
 */
export async function startServer(options: { host?: string; port?: number; path?: string; echo?: boolean } = {}): Promise<TestServer> {
  let accepted = 0;
  const peers: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    accepted++;
    peers.push(socket.remoteAddress ?? "");
    sockets.add(socket);
    socket.on("data", (data) => options.echo && socket.write(data));
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    if (options.path) server.listen({ path: options.path }, resolve);
    else server.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 0 }, resolve);
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  raiseBacklog(options.path ? { path: options.path } : { port });
  return {
    port,
    accepted: () => accepted,
    open: () => sockets.size,
    peers: () => [...peers],
    async [Symbol.asyncDispose]() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** What the child server has seen. */
export interface ServerCounts {
  accepted: number;
  open: number;
  bytes: number;
  peers: string[];
}

export interface ChildServer extends AsyncDisposable {
  port: number;
  counts(): Promise<ServerCounts>;
  /** Reset `n` of the open connections from the server side. */
  drop(n: number): Promise<ServerCounts>;
}

/** The same server in a child process (test/fixtures/server.ts): its accept loop never waits on the test. */
export async function startChildServer(options: { echo?: boolean; reset?: boolean } = {}): Promise<ChildServer> {
  const flags = [...(options.echo ? ["--echo"] : []), ...(options.reset ? ["--reset"] : [])];
  const proc = Bun.spawn({
    cmd: [process.execPath, `${import.meta.dir}/fixtures/server.ts`, ...flags],
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  });
  const lines = readLines(proc.stdout);
  const first = (await lines.next()).value ?? "";
  const port = Number(/^PORT (\d+)$/.exec(first)?.[1]);
  if (!port) throw new Error(`child server did not start: ${first}`);
  const ask = async (command: string): Promise<ServerCounts> => {
    proc.stdin.write(`${command}\n`);
    proc.stdin.flush();
    return JSON.parse((await lines.next()).value ?? "{}");
  };
  return {
    port,
    counts: () => ask("count"),
    drop: (n) => ask(`drop ${n}`),
    async [Symbol.asyncDispose]() {
      proc.kill();
      await proc.exited;
    },
  };
}

/**
 * Assert nothing leaked: every slot free, nothing waiting, and the process's
 * fd count back to `baseline` (the server side closes asynchronously, so wait).
 */
export async function expectClean(connector: Connector, baseline: number): Promise<void> {
  await waitFor(() => connector.stats().free === connector.stats().capacity, "every slot to be free");
  await waitFor(() => connector.stats().closing === 0, "every close to complete").catch((error: Error) => {
    throw new Error(`${error.message}: stats ${JSON.stringify(connector.stats())}, ring ${JSON.stringify(connector.ringInfo())}`);
  });
  await waitFor(() => fdCount() <= baseline, `fd count to return to ${baseline} (now ${fdCount()})`);
  const stats = connector.stats();
  expect(stats).toEqual({ capacity: stats.capacity, free: stats.capacity, pending: 0, inFlight: 0, orphaned: 0, waiting: 0, closing: 0 });
  expect(fdCount()).toBeLessThanOrEqual(baseline);
}

/** The source address of the connection expectNothingReached makes. */
const SENTINEL = "127.0.0.2";

/**
 * Assert that no connection reached `server` (an IPv4 TestServer) before now,
 * by a positive event rather than a pause: a sentinel connect from 127.0.0.2
 * must be the first connection the server accepts, since its accept queue is
 * FIFO and anything that connected earlier would be ahead of the sentinel.
 */
export async function expectNothingReached(server: TestServer, connector: Connector): Promise<void> {
  const fd = await connector.connectFd({ host: "127.0.0.1", port: server.port }, { localAddress: SENTINEL });
  try {
    await waitFor(() => server.peers().includes(SENTINEL), "the sentinel connection to be accepted");
    expect(server.peers()).toEqual([SENTINEL]);
  } finally {
    closeSync(fd);
  }
}

/** A temporary directory removed on dispose (for unix socket paths). */
export function tempDir(): AsyncDisposable & { path: string } {
  const path = mkdtempSync(join(tmpdir(), "uc-"));
  return { path, [Symbol.asyncDispose]: async () => rmSync(path, { recursive: true, force: true }) };
}

/** How a fixture run ended: `killed` when a signal (e.g. the hang guard) ended it. */
export interface FixtureRun extends Finished {
  killed: boolean;
}

/**
 * Run `test/fixtures/<name>` in a child Bun (behind `prefix`, e.g. unshare or
 * prlimit) to its end; `timeoutMs` is a hang guard (default 45 s, below the
 * per-test timeout so a hang still shows the child's output).
 */
export async function runFixture(
  name: string,
  options: { args?: string[]; prefix?: string[]; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<FixtureRun> {
  const run = await runProcess([process.execPath, join(import.meta.dir, "fixtures", name), ...(options.args ?? [])], {
    prefix: options.prefix,
    env: options.env,
    timeoutMs: options.timeoutMs ?? 45_000,
  });
  return { ...run, killed: run.signal !== null };
}

/**
 * `promise`, or a clear failure naming `what` if it has not settled within
 * `hangGuardMs`: a hang guard, far beyond any loaded machine's run, so that a
 * hang says what hung instead of hitting the test's timeout.
 */
export async function settles<T>(promise: Promise<T>, what: string, hangGuardMs = 30_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle in ${hangGuardMs} ms`)), hangGuardMs);
  });
  try {
    return await Promise.race([promise, hung]);
  } finally {
    clearTimeout(timer);
  }
}
