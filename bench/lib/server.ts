/** The bench server process: start it, ask it for STATS, wait until it is idle, stop it. */
import { SERVER } from "./build.ts";
import { FatalError } from "./errors.ts";
import { spawn, tail, type Child } from "./process.ts";
import { readLines } from "../../src/loadgen/lines.ts";

/** The address the server listens on and every client connects to. */
export const HOST = "127.0.0.1";
export const IDLE_WAIT_MS = 5_000;

export interface ServerStats {
  accepted: number;
  closed: number;
  open: number;
  shed: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The bench server, talked to through its stdout lines and signals. */
export class BenchServer {
  private readonly lines: string[] = [];
  private wake: (() => void) | undefined;
  private ended = false;
  private stderr = "";
  private stopping: Promise<ServerStats | undefined> | undefined;

  private constructor(
    private readonly proc: Child,
    public port = 0,
  ) {
    void this.collect(proc.stdout);
    // Drained so a chatty server never blocks on a full pipe; kept for error messages.
    void (async () => {
      for await (const line of readLines(proc.stderr)) this.stderr = tail(`${this.stderr}\n${line}`);
    })();
  }

  static async start(): Promise<BenchServer> {
    const server = new BenchServer(spawn([SERVER.out, "--host", HOST, "--port", "0"]));
    const port = Number(await server.nextLine("LISTENING ", 5000));
    if (!port) {
      await server.stop();
      throw new FatalError(`bench server did not start listening: ${server.stderr || "no output"}`);
    }
    server.port = port;
    return server;
  }

  private async collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    for await (const line of readLines(stream)) {
      this.lines.push(line);
      this.notify();
    }
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** The rest of the next stdout line starting with `prefix`, or undefined on timeout/exit. */
  private async nextLine(prefix: string, timeoutMs: number): Promise<string | undefined> {
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

  async stats(): Promise<ServerStats | undefined> {
    // Drop lines from an earlier request that timed out, so this answer is fresh.
    this.lines.length = 0;
    this.proc.kill("SIGUSR1");
    const json = await this.nextLine("STATS ", 1000);
    return json === undefined ? undefined : (JSON.parse(json) as ServerStats);
  }

  /** Poll until no connection is open; returns the open count it ended with. */
  async waitIdle(): Promise<number> {
    const deadline = performance.now() + IDLE_WAIT_MS;
    for (;;) {
      const open = (await this.stats())?.open ?? -1;
      if (open === 0 || performance.now() >= deadline) return open;
      await sleep(20);
    }
  }

  /** SIGTERM makes the server print its final STATS and exit. Safe to call twice. */
  stop(): Promise<ServerStats | undefined> {
    this.stopping ??= this.terminate();
    return this.stopping;
  }

  private async terminate(): Promise<ServerStats | undefined> {
    this.lines.length = 0;
    this.proc.kill("SIGTERM");
    const json = await this.nextLine("STATS ", 2000);
    const exited = await Promise.race([this.proc.exited.then(() => true), sleep(2000).then(() => false)]);
    if (!exited) this.proc.kill("SIGKILL");
    return json === undefined ? undefined : (JSON.parse(json) as ServerStats);
  }
}
