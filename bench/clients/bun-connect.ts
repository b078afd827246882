// Bun.connect client: opens each connection and resets it once established.
import { Recorder, closedLoop, parseArgs } from "./common.mjs";
import { bunCycle } from "./cycles.ts";

const { host, port, concurrency, connections } = parseArgs(process.argv.slice(2));
const recorder = new Recorder(connections);
const t0 = performance.now();
await closedLoop(connections, concurrency, bunCycle({ host, port }, recorder));
console.log(JSON.stringify(recorder.report("Bun.connect", performance.now() - t0)));
