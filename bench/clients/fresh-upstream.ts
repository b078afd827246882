// A Bun.serve server that opens one fresh upstream connection per request:
// it sends a line to an echo upstream, reads it back and closes the
// connection, then answers the HTTP request with the line. The upstream
// connection comes from Bun.connect (--mode bun) or, already open, from a
// warm uring-connect Pool (--mode pool), which is told to close it after
// use (destroy, not release) and refills in batches to stay warm.
//
//   fresh-upstream.ts --mode pool|bun --upstream-port P [--min N] [--max N]
//
// Prints "LISTENING <port>" once serving; on SIGTERM, "STATS {json}" (requests
// answered, failures by code, CPU time used since it started serving, and
// for the pool the acquires that found no idle connection and its
// counters), then exits.
import type { Socket, SocketHandler } from "bun";
import { Pool, sharedConnector } from "../../src/index.ts";
import { flagValue } from "./flags.ts";

const LINE = Buffer.from("ping\n");
const NEWLINE = 0x0a;
const HOST = "127.0.0.1";

const mode = flagValue("--mode");
if (mode !== "pool" && mode !== "bun") throw new Error("--mode takes pool or bun");
const upstreamPort = Number(flagValue("--upstream-port"));
if (!upstreamPort) throw new Error("--upstream-port is required");
const min = Number(flagValue("--min") ?? 128);
const max = Number(flagValue("--max") ?? 4 * min);

/** One request's upstream exchange: settled once its line has come back (or the connection failed). */
interface Exchange {
  resolve: (reply: string) => void;
  reject: (error: Error) => void;
  received: Buffer[];
  /** Closes the connection once the reply is in: Bun's end(), or the pool's destroy(). */
  finish: (socket: Socket<Exchange>) => void;
}

const fail = (socket: Socket<Exchange>, error: Error) => socket.data.reject(error);

const handlers: SocketHandler<Exchange> = {
  // Runs for a Bun.connect and for each pool.acquire alike.
  open: (socket) => void socket.write(LINE),
  data(socket, chunk) {
    const exchange = socket.data;
    exchange.received.push(chunk);
    if (chunk.indexOf(NEWLINE) < 0) return;
    // Settled first: closing runs the close handler, which would reject.
    exchange.resolve(Buffer.concat(exchange.received).toString());
    exchange.finish(socket);
  },
  error: fail,
  connectError: fail,
  end: (socket) => fail(socket, new Error("upstream ended the connection before replying")),
  close: (socket) => fail(socket, new Error("upstream connection closed before the reply")),
};

const counts = { requests: 0, failures: {} as Record<string, number>, acquiresWithoutIdle: 0 };
let pool: Pool | undefined;

function exchange(finish: Exchange["finish"]): { data: Exchange; reply: Promise<string> } {
  const { promise, resolve, reject } = Promise.withResolvers<string>();
  return { data: { resolve, reject, received: [], finish }, reply: promise };
}

const endSocket = (socket: Socket<Exchange>) => socket.end();

async function viaBunConnect(): Promise<string> {
  const { data, reply } = exchange(endSocket);
  await Bun.connect({ hostname: HOST, port: upstreamPort, socket: handlers, data });
  return reply;
}

async function viaPool(warm: Pool): Promise<string> {
  if (warm.stats().idle === 0) counts.acquiresWithoutIdle++;
  const { data, reply } = exchange((socket) => warm.destroy(socket));
  await warm.acquire({ socket: handlers, data });
  return reply;
}

if (mode === "pool") {
  // The Connector's compile and the prewarm happen before the server listens, as in a real server's start.
  sharedConnector();
  pool = new Pool({ host: HOST, port: upstreamPort }, { min, max, preconnect: 1 });
  await pool.ready();
}

const server = Bun.serve({
  hostname: HOST,
  port: 0,
  async fetch() {
    try {
      const reply = await (pool ? viaPool(pool) : viaBunConnect());
      counts.requests++;
      return new Response(reply);
    } catch (error) {
      const code = (error as { code?: string }).code ?? (error as Error).name;
      counts.failures[code] = (counts.failures[code] ?? 0) + 1;
      return new Response(`${String(error)}\n`, { status: 502 });
    }
  },
});
// CPU from here on: the requests, not the start (the Connector's compile, the prewarm).
const cpuAtStart = process.cpuUsage();
console.log(`LISTENING ${server.port}`);

process.on("SIGTERM", () => {
  const cpu = process.cpuUsage(cpuAtStart);
  console.log(`STATS ${JSON.stringify({ ...counts, cpuUs: cpu.user + cpu.system, pool: pool?.stats() })}`);
  server.stop(true);
  pool?.close();
  process.exit(0);
});
