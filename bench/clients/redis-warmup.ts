// Warm-up: the time until N connections to redis-server are open, one way
// per process (a fresh process each run):
//   pool          new Pool(target, { min: N, max: N }); await pool.ready()
//   ioredis       N × new Redis(...), until every client emitted 'ready'
//                 (connected, and ioredis' INFO ready check answered)
//   ioredis-fast  the same with enableReadyCheck: false ('ready' on connect)
//   net           N × net.connect(...), until every socket emitted 'connect'
//   bun           N × Bun.connect(...), until every one resolved (open)
//   connectfd     N × connector.connectFd(...): the Connector alone, no pool
// The clock starts just before the first connect is asked for. The shared
// Connector is started before it (its compile is process startup, reported
// apart as connectorMs), as the ioredis import is.
//
//   redis-warmup.ts --mode pool|ioredis|ioredis-fast|net|bun|connectfd --port P --connections N
//
// Prints one JSON line: { mode, connections, ms, connectorMs?, serverClients },
// serverClients being what redis itself counted while they were all open.
import net from "node:net";
import Redis from "ioredis";
import { Pool, sharedConnector } from "../../src/index.ts";
import { flagValue } from "./flags.ts";
import { redisConnectedClients } from "./redis-info.ts";

const HOST = "127.0.0.1";
const MODES = ["pool", "ioredis", "ioredis-fast", "net", "bun", "connectfd"] as const;
type Mode = (typeof MODES)[number];

const mode = flagValue("--mode") as Mode;
if (!MODES.includes(mode)) throw new Error(`--mode takes ${MODES.join(", ")}`);
const port = Number(flagValue("--port"));
const connections = Number(flagValue("--connections") ?? 1000);
if (!port || !(connections > 0)) throw new Error("--port and a positive --connections are required");

/** Open `connections` the chosen way; resolves with what closes them, once all are open. */
type Opener = () => Promise<() => void>;

const openers: Record<Mode, Opener> = {
  async pool() {
    const pool = new Pool({ host: HOST, port }, { min: connections, max: connections });
    await pool.ready();
    return () => pool.close();
  },
  ioredis: () => openRedis(true),
  "ioredis-fast": () => openRedis(false),
  async net() {
    const sockets = Array.from({ length: connections }, () => net.connect({ host: HOST, port }));
    await Promise.all(sockets.map((socket) => new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject))));
    return () => sockets.forEach((socket) => socket.destroy());
  },
  async bun() {
    const sockets = await Promise.all(Array.from({ length: connections }, () => Bun.connect({ hostname: HOST, port, socket: { data() {} } })));
    return () => sockets.forEach((socket) => socket.end());
  },
  async connectfd() {
    const connector = sharedConnector();
    const fds = await Promise.all(Array.from({ length: connections }, () => connector.connectFd({ host: HOST, port })));
    return () => fds.forEach((fd) => connector.closeFd(fd));
  },
};

async function openRedis(enableReadyCheck: boolean): Promise<() => void> {
  // No retries: a failed connect must fail the run, not be tried again.
  const options = { host: HOST, port, enableReadyCheck, retryStrategy: () => null, maxRetriesPerRequest: 0 };
  const clients = Array.from({ length: connections }, () => new Redis(options));
  await Promise.all(clients.map((client) => new Promise((resolve, reject) => client.once("ready", resolve).once("error", reject))));
  return () => clients.forEach((client) => client.disconnect());
}

let connectorMs: number | undefined;
if (mode === "pool" || mode === "connectfd") {
  const t = performance.now();
  sharedConnector();
  connectorMs = performance.now() - t;
}
const t0 = performance.now();
const close = await openers[mode]();
const ms = performance.now() - t0;
const serverClients = (await redisConnectedClients(port)) - 1;
close();
console.log(JSON.stringify({ mode, connections, ms, connectorMs, serverClients }));
process.exit(0);
