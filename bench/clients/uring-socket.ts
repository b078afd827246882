// uring-connect's Bun-socket path: connect() adopts each connection as a Bun
// socket, terminate() resets it. What a Bun server making outbound
// connections sees, since it needs a socket, not an fd.
import { Recorder, closedLoop, parseArgs } from "./common.mjs";
import { benchConnector } from "./connector.ts";
import { socketCycle } from "./cycles.ts";

const { host, port, concurrency, connections } = parseArgs(process.argv.slice(2));
const connector = benchConnector(concurrency);
const recorder = new Recorder(connections);
const t0 = performance.now();
await closedLoop(connections, concurrency, socketCycle(connector, { host, port }, recorder));
console.log(JSON.stringify(recorder.report("uring-connect connect()", performance.now() - t0)));
connector.close();
