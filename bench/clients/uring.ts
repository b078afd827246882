// uring-connect's raw path: connectFd through one Connector, each fd reset once connected.
import { Recorder, closedLoop, parseArgs } from "./common.mjs";
import { benchConnector } from "./connector.ts";
import { fdCycle } from "./cycles.ts";

const { host, port, concurrency, connections } = parseArgs(process.argv.slice(2));
const connector = benchConnector(concurrency);
const recorder = new Recorder(connections);
const t0 = performance.now();
await closedLoop(connections, concurrency, fdCycle(connector, { host, port }, recorder));
console.log(JSON.stringify(recorder.report("uring-connect connectFd", performance.now() - t0)));
connector.close();
