// The load generator's rate engine (what `uring-connect rate` runs), in the
// benchmark's client format. `--engine bun` runs the same engine over
// Bun.connect. No connect timeout, like the other clients.
import { rate } from "../../src/loadgen/index.ts";
import { parseArgs } from "./common.mjs";

const argv = process.argv.slice(2);
const engineAt = argv.indexOf("--engine");
const engine = engineAt >= 0 ? (argv.splice(engineAt, 2)[1] as "uring" | "bun") : "uring";
const { host, port, concurrency, connections } = parseArgs(argv);
const report = await rate({ target: { host, port }, concurrency, connections, timeout: 0, engine });
console.log(
  JSON.stringify({
    client: `loadgen (${report.engine})`,
    connects: report.connects,
    errors: report.errors,
    durationMs: report.durationMs,
    rate: report.rate,
    p50Us: report.latencyUs.p50,
    p99Us: report.latencyUs.p99,
  }),
);
