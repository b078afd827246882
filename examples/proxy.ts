/**
 * A reverse proxy over a warm Pool: an HTTP front whose requests go to an
 * upstream TCP service that answers each line with one line (an echo
 * server, a line protocol, redis' inline commands). Each request takes a
 * connection the pool already opened, sends the request body as one line,
 * answers with the upstream's reply line, and gives the connection back for
 * the next request; a connection whose exchange went wrong is dropped.
 *
 *   UPSTREAM_PORT=6379 PORT=3000 bun examples/proxy.ts
 *   curl -d PING localhost:3000     # +PONG
 *
 * Status codes: 502 when the upstream refuses, fails or hangs up; 503 when
 * no pooled connection becomes free within acquireTimeout (or too many
 * requests wait); 504 when the reply does not come within replyTimeout.
 */
import type { Socket, SocketHandler } from "bun";
import { Pool, PoolAcquireTimeoutError, PoolQueueFullError, type PoolOptions, type Target } from "uring-connect";

export interface ProxyOptions {
  /** HTTP port (0: any free one). */
  port: number;
  upstream: Target;
  /** The pool's options, over these defaults: min 4, max 64, preconnect 0.5, idleTimeout 30 s, acquireTimeout 5 s. */
  pool?: PoolOptions;
  /** Milliseconds to wait for the upstream's reply line (default 5000). */
  replyTimeout?: number;
}

export interface Proxy extends Disposable {
  server: ReturnType<typeof Bun.serve>;
  pool: Pool;
}

const POOL_DEFAULTS: PoolOptions = { min: 4, max: 64, preconnect: 0.5, idleTimeout: 30_000, acquireTimeout: 5_000 };
const NEWLINE = 0x0a;

/** The upstream did not reply in time. */
class ReplyTimeoutError extends Error {
  override name = "ReplyTimeoutError";
}

/** One request on an upstream connection: the line going out, the reply line coming back. */
class Exchange {
  private readonly reply = Promise.withResolvers<string>();
  private unsent: Buffer;
  private received: Buffer[] = [];
  private settled = false;
  /** The reply came, and nothing after it: the connection is between requests, fit to reuse. */
  clean = false;

  constructor(line: string) {
    this.unsent = Buffer.from(`${line}\n`);
  }

  get replied(): Promise<string> {
    return this.reply.promise;
  }

  /** Write what the socket takes now; the drain handler calls this again for the rest. */
  send(socket: Socket<Exchange>): void {
    if (this.unsent.length === 0) return;
    const written = socket.write(this.unsent);
    this.unsent = this.unsent.subarray(Math.max(written, 0));
  }

  receive(chunk: Buffer): void {
    if (this.settled) {
      // Bytes nobody asked for: the protocol state is unknown, so the connection goes.
      this.clean = false;
      return;
    }
    this.received.push(chunk);
    const end = chunk.indexOf(NEWLINE);
    if (end < 0) return;
    const all = Buffer.concat(this.received);
    const lineEnd = all.indexOf(NEWLINE);
    this.settled = true;
    this.clean = lineEnd === all.length - 1;
    this.reply.resolve(all.toString("utf8", 0, lineEnd).replace(/\r$/, ""));
  }

  fail(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.reply.reject(error);
  }
}

/** One handler object for every upstream socket; each socket's `data` is its Exchange. */
const upstreamHandlers: SocketHandler<Exchange> = {
  data: (socket, chunk) => socket.data.receive(chunk),
  drain: (socket) => socket.data.send(socket),
  end: (socket) => socket.data.fail(new Error("the upstream ended the connection before replying")),
  error: (socket, error) => socket.data.fail(error),
  close: (socket) => socket.data.fail(new Error("the upstream connection closed before the reply")),
};

/** Send `line` on a pooled connection and return the reply line; the connection goes back to the pool only if clean. */
async function forward(pool: Pool, line: string, replyTimeout: number): Promise<string> {
  const exchange = new Exchange(line);
  const socket = await pool.acquire({ socket: upstreamHandlers, data: exchange });
  const timer = setTimeout(() => exchange.fail(new ReplyTimeoutError(`no reply within ${replyTimeout} ms`)), replyTimeout);
  try {
    exchange.send(socket);
    const reply = await exchange.replied;
    if (exchange.clean) pool.release(socket);
    else pool.destroy(socket);
    return reply;
  } catch (error) {
    // Its state is unknown (half a reply may still come): never reuse it. A no-op if the peer closed it.
    pool.destroy(socket);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** The HTTP answer for a failed forward. */
function failure(error: unknown): Response {
  const message = `${error instanceof Error ? error.message : String(error)}\n`;
  if (error instanceof ReplyTimeoutError) return new Response(message, { status: 504 });
  if (error instanceof PoolAcquireTimeoutError || error instanceof PoolQueueFullError) return new Response(message, { status: 503 });
  return new Response(message, { status: 502 });
}

/** Start the proxy (the pool starts opening `min` connections at once); dispose it to stop both. */
export function startProxy(options: ProxyOptions): Proxy {
  const pool = new Pool(options.upstream, { ...POOL_DEFAULTS, ...options.pool });
  const replyTimeout = options.replyTimeout ?? 5_000;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: options.port,
    async fetch(request) {
      if (request.method !== "POST") return new Response("POST one line\n", { status: 405, headers: { allow: "POST" } });
      const line = await request.text();
      if (line.includes("\n")) return new Response("one line per request\n", { status: 400 });
      try {
        return new Response(`${await forward(pool, line, replyTimeout)}\n`);
      } catch (error) {
        return failure(error);
      }
    },
  });
  return {
    server,
    pool,
    [Symbol.dispose]() {
      server.stop(true);
      pool.close();
    },
  };
}

if (import.meta.main) {
  const proxy = startProxy({
    port: Number(process.env["PORT"] ?? 3000),
    upstream: { host: process.env["UPSTREAM_HOST"] ?? "127.0.0.1", port: Number(process.env["UPSTREAM_PORT"] ?? 6379) },
  });
  console.log(`listening on ${proxy.server.url}`);
  // Down upstream: the proxy still starts, answers 502, and the pool reconnects once the upstream is back.
  await proxy.pool.ready().then(
    () => console.log(`${proxy.pool.stats().idle} upstream connections open`),
    (error: unknown) => console.warn(`upstream not reachable yet: ${String(error)}`),
  );
}
