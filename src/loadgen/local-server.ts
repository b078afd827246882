/**
 * The local target server, built and started here only: `uring-connect` with
 * no target, the connect-rate benchmark and the tests all use this module.
 *
 * It is src/loadgen/server.c (one epoll thread, listen backlog =
 * net.core.somaxconn unless told otherwise, so a storm measures the client,
 * not the server), built with gcc once per version of the source into a
 * per-user cache directory. Without gcc, `startLocalServer` falls back to a
 * node:net server in a child process speaking the same protocol, unless the
 * caller needs the C server (`require: "c"`).
 *
 * Protocol (both servers): "LISTENING <port>" on stdout once listening; a
 * "STATS {json}" line on SIGUSR1, and on SIGTERM just before exiting.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LocalServerError } from "../errors.ts";
import { readLines } from "./lines.ts";

const SOURCE = fileURLToPath(new URL("./server.c", import.meta.url));
const FALLBACK = fileURLToPath(new URL("./server-process.ts", import.meta.url));
const CFLAGS = ["-O2", "-Wall", "-Wextra"];
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 2_000;

/** What the server counted, as its STATS line says. */
export interface ServerStats {
  accepted: number;
  closed: number;
  open: number;
  /** Connections accepted and dropped at once because the server was out of fds. */
  shed: number;
}

export interface LocalServerOptions {
  /** IPv4 or IPv6 literal to listen on (default 127.0.0.1). */
  host?: string;
  /** Echo what arrives (default: read and discard, never reply). */
  echo?: boolean;
  /** listen() backlog (default net.core.somaxconn). */
  backlog?: number;
  /** "c": fail instead of falling back to node:net when the C server cannot be built. */
  require?: "c";
}

export interface LocalServer extends AsyncDisposable {
  readonly port: number;
  readonly pid: number;
  /** What is serving, for report headers. */
  readonly kind: string;
  /** The server's counters now (SIGUSR1), or undefined if it did not answer within `timeoutMs`. */
  stats(timeoutMs?: number): Promise<ServerStats | undefined>;
  /** Stop it (SIGTERM) and return its final counters. Safe to call twice. */
  stop(): Promise<ServerStats | undefined>;
}

let building: Promise<string> | undefined;

/**
 * Build src/loadgen/server.c (once per source version and user; concurrent
 * builders each write their own file and rename it into place).
 * Returns the binary's path. Throws LocalServerError when gcc is missing or fails.
 */
export function buildServer(): Promise<string> {
  building ??= compile().catch((error: unknown) => {
    building = undefined;
    throw error;
  });
  return building;
}

async function compile(): Promise<string> {
  const gcc = Bun.which("gcc");
  if (!gcc) throw new LocalServerError("gcc not found; install gcc (Debian/Ubuntu: apt-get install gcc) to build src/loadgen/server.c");
  const version = Bun.hash(`${CFLAGS.join(" ")}\n${readFileSync(SOURCE, "utf8")}`).toString(16);
  const dir = join(tmpdir(), `uring-connect-${process.getuid?.() ?? 0}`);
  const binary = join(dir, `server-${version}`);
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  const partial = `${binary}.${process.pid}.tmp`;
  const build = Bun.spawn({ cmd: [gcc, ...CFLAGS, "-o", partial, SOURCE], stdout: "ignore", stderr: "pipe" });
  const [stderr, code] = await Promise.all([new Response(build.stderr).text(), build.exited]);
  if (code !== 0) {
    rmSync(partial, { force: true });
    throw new LocalServerError(`gcc failed building src/loadgen/server.c (exit ${code}):\n${stderr.trimEnd().split("\n").slice(-10).join("\n")}`);
  }
  renameSync(partial, binary);
  return binary;
}

/** The server's stdout as a queue of lines, waited on by prefix. */
class LineQueue {
  private readonly lines: string[] = [];
  private wake: (() => void) | undefined;
  private ended = false;

  constructor(stream: ReadableStream<Uint8Array>) {
    void (async () => {
      for await (const line of readLines(stream)) {
        this.lines.push(line);
        this.notify();
      }
      this.ended = true;
      this.notify();
    })();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Forget lines not asked for yet (e.g. the answer to a request that timed out). */
  clear(): void {
    this.lines.length = 0;
  }

  /** The rest of the next line starting with `prefix`, or undefined on timeout or exit. */
  async next(prefix: string, timeoutMs: number): Promise<string | undefined> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const at = this.lines.findIndex((line) => line.startsWith(prefix));
      if (at >= 0) return this.lines.splice(0, at + 1)[at]!.slice(prefix.length);
      const left = deadline - performance.now();
      if (this.ended || left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}

/**
 * Start a local server on a kernel-chosen port.
 * Throws LocalServerError when it cannot start (with `require: "c"`: when the C server cannot be built).
 */
export async function startLocalServer(options: LocalServerOptions = {}): Promise<LocalServer> {
  let binary: string | undefined;
  try {
    binary = await buildServer();
  } catch (error) {
    if (options.require === "c") throw error;
  }
  const args = [
    ...(options.host ? ["--host", options.host] : []),
    ...(options.echo ? ["--echo"] : []),
    ...(options.backlog !== undefined ? ["--backlog", String(options.backlog)] : []),
  ];
  const cmd = binary ? [binary, "--port", "0", ...args] : [process.execPath, FALLBACK, ...args];
  const proc = Bun.spawn({ cmd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const stdout = new LineQueue(proc.stdout);
  // Drained so a chatty server never blocks on a full pipe; the tail explains a failed start.
  let stderr = "";
  void (async () => {
    for await (const line of readLines(proc.stderr)) stderr = `${stderr}\n${line}`.split("\n").slice(-5).join("\n");
  })();

  const port = Number(await stdout.next("LISTENING ", START_TIMEOUT_MS));
  if (!port) {
    proc.kill("SIGKILL");
    const code = await proc.exited;
    throw new LocalServerError(`the local server did not start listening (exit ${code}): ${stderr.trim() || "no output"}`);
  }

  let stopping: Promise<ServerStats | undefined> | undefined;
  const parse = (json: string | undefined) => (json === undefined ? undefined : (JSON.parse(json) as ServerStats));
  const stop = async (): Promise<ServerStats | undefined> => {
    stdout.clear();
    proc.kill("SIGTERM");
    const final = await stdout.next("STATS ", STOP_TIMEOUT_MS);
    const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(STOP_TIMEOUT_MS).then(() => false)]);
    if (!exited) proc.kill("SIGKILL");
    return parse(final);
  };
  return {
    port,
    pid: proc.pid,
    kind: binary ? "src/loadgen/server.c (epoll, C)" : "node:net in a child process (gcc not found)",
    async stats(timeoutMs = 1000) {
      if (stopping) return undefined;
      stdout.clear();
      proc.kill("SIGUSR1");
      return parse(await stdout.next("STATS ", timeoutMs));
    },
    stop: () => (stopping ??= stop()),
    async [Symbol.asyncDispose]() {
      await (stopping ??= stop());
    },
  };
}
