/**
 * The server `uring-connect` (no target) runs against: bench/server.c built
 * with gcc when possible (one epoll thread, backlog = somaxconn, so it
 * measures the clients, not itself), else a node:net server in a child.
 */
import { existsSync, mkdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readLines } from "./lines.ts";

const SOURCE = fileURLToPath(new URL("../../bench/server.c", import.meta.url));
const FALLBACK = fileURLToPath(new URL("./server-process.ts", import.meta.url));

export interface LocalServer extends AsyncDisposable {
  port: number;
  /** What is serving, for the report header. */
  kind: string;
}

/** Build the C server into a cache directory; undefined when gcc or the source is missing. */
async function buildC(): Promise<string | undefined> {
  const gcc = Bun.which("gcc");
  if (!gcc || !existsSync(SOURCE)) return undefined;
  const dir = join(tmpdir(), `uring-connect-${process.getuid?.() ?? 0}`);
  const binary = join(dir, "server");
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(SOURCE).mtimeMs) return binary;
  mkdirSync(dir, { recursive: true });
  const build = Bun.spawn({ cmd: [gcc, "-O2", "-o", binary, SOURCE], stdout: "ignore", stderr: "pipe" });
  return (await build.exited) === 0 ? binary : undefined;
}

/** Start the local server; dispose to stop it. */
export async function startLocalServer(): Promise<LocalServer> {
  const binary = await buildC();
  const cmd = binary ? [binary, "--host", "127.0.0.1", "--port", "0"] : [process.execPath, FALLBACK];
  const proc = Bun.spawn({ cmd, stdout: "pipe", stderr: "inherit" });
  const line = (await readLines(proc.stdout).next()).value ?? "";
  const port = Number(/^LISTENING (\d+)/.exec(line)?.[1]);
  if (!port) {
    proc.kill();
    throw new Error(`the local server did not start (${line || `exit ${await proc.exited}`})`);
  }
  return {
    port,
    kind: binary ? "bench/server.c (epoll, C)" : "node:net in a child process (gcc not found)",
    async [Symbol.asyncDispose]() {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}
