/**
 * A Bun.serve API whose redis connection goes through uring-connect. The one
 * line that differs from a plain ioredis setup is `Connector: ioredisConnector()`.
 *
 *   REDIS_PORT=6379 PORT=3000 bun examples/redis-api.ts
 *   curl -X POST localhost:3000/counters/visits    # {"value":1}
 *   curl localhost:3000/counters/visits            # {"value":1}
 */
import Redis from "ioredis";
import { ioredisConnector } from "uring-connect/node";

export interface ApiOptions {
  /** HTTP port (0: any free one). */
  port: number;
  redisHost: string;
  redisPort: number;
  /** Local address for the redis connection (lets a test see it at the server). */
  localAddress?: string;
}

export interface Api extends AsyncDisposable {
  server: ReturnType<typeof Bun.serve>;
  redis: Redis;
}

/** Start the API; dispose it to stop the HTTP server and quit redis. */
export function startApi(options: ApiOptions): Api {
  const redis = new Redis({
    host: options.redisHost,
    port: options.redisPort,
    Connector: ioredisConnector(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
  });
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: options.port,
    async fetch(request) {
      const name = /^\/counters\/([\w-]+)$/.exec(new URL(request.url).pathname)?.[1];
      if (name === undefined) return new Response("not found\n", { status: 404 });
      const key = `counter:${name}`;
      if (request.method === "POST") return Response.json({ value: await redis.incr(key) });
      if (request.method === "GET") return Response.json({ value: Number((await redis.get(key)) ?? 0) });
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, POST" } });
    },
  });
  return {
    server,
    redis,
    async [Symbol.asyncDispose]() {
      server.stop(true);
      await redis.quit();
    },
  };
}

if (import.meta.main) {
  const api = startApi({
    port: Number(process.env["PORT"] ?? 3000),
    redisHost: process.env["REDIS_HOST"] ?? "127.0.0.1",
    redisPort: Number(process.env["REDIS_PORT"] ?? 6379),
  });
  console.log(`listening on ${api.server.url}`);
}
