/** The bench's server: the package's local C server (src/loadgen/local-server.ts), and waiting until it is idle. */
import { LocalServerError } from "../../src/errors.ts";
import { startLocalServer, type LocalServer, type ServerStats } from "../../src/loadgen/local-server.ts";
import { FatalError } from "./errors.ts";

export type { ServerStats } from "../../src/loadgen/local-server.ts";

/** The address the server listens on and every client connects to. */
export const HOST = "127.0.0.1";
export const IDLE_WAIT_MS = 5_000;

/** The C server every client runs against, with the waits the bench needs between runs. */
export class BenchServer {
  private constructor(private readonly server: LocalServer) {}

  get port(): number {
    return this.server.port;
  }

  /** What is serving, for report headers. */
  get kind(): string {
    return this.server.kind;
  }

  /**
   * Build (when the source changed) and start the C server, echoing what it
   * reads when `echo`; FatalError saying why when it cannot.
   */
  static async start(options: { echo?: boolean } = {}): Promise<BenchServer> {
    try {
      return new BenchServer(await startLocalServer({ host: HOST, require: "c", echo: options.echo }));
    } catch (error) {
      if (error instanceof LocalServerError) throw new FatalError(`cannot start the bench server: ${error.message}`);
      throw error;
    }
  }

  stats(): Promise<ServerStats | undefined> {
    return this.server.stats();
  }

  /** Poll until no connection is open; returns the open count it ended with. */
  async waitIdle(): Promise<number> {
    const deadline = performance.now() + IDLE_WAIT_MS;
    for (;;) {
      const open = (await this.server.stats())?.open ?? -1;
      if (open === 0 || performance.now() >= deadline) return open;
      await Bun.sleep(20);
    }
  }

  /** SIGTERM makes the server print its final STATS and exit. Safe to call twice. */
  stop(): Promise<ServerStats | undefined> {
    return this.server.stop();
  }
}
