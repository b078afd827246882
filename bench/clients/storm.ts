// Event-loop responsiveness during a connect storm: one closed-loop run of
// a workload (fd: connectFd + closeFd, socket: connect() + terminate, bun:
// Bun.connect) while a 1 ms setInterval measures the gaps between its
// firings; for uring-connect also the longest single native call.
//
//   storm.ts --workload fd|socket|bun --host H --port P --concurrency C --connections N
import { Recorder, closedLoop, parseArgs } from "./common.mjs";
import { benchConnector } from "./connector.ts";
import { bunCycle, fdCycle, socketCycle, type Cycle } from "./cycles.ts";
import { NativeCallTimer } from "./native-timing.ts";
import { TimerGaps } from "./timer-gaps.ts";

const argv = process.argv.slice(2);
const at = argv.indexOf("--workload");
const workload = at >= 0 ? argv.splice(at, 2)[1] : undefined;
if (workload !== "fd" && workload !== "socket" && workload !== "bun") throw new Error("--workload takes fd, socket or bun");
const { host, port, concurrency, connections } = parseArgs(argv);
const target = { host, port };
const recorder = new Recorder(connections);

// The timer wraps the symbol table before the Connector's backend takes it.
const native = workload === "bun" ? undefined : new NativeCallTimer();
const connector = workload === "bun" ? undefined : benchConnector(concurrency);
const cycle: Cycle =
  workload === "fd" ? fdCycle(connector!, target, recorder) : workload === "socket" ? socketCycle(connector!, target, recorder) : bunCycle(target, recorder);

const gaps = new TimerGaps();
gaps.start();
native?.start();
const t0 = performance.now();
await closedLoop(connections, concurrency, cycle);
const durationMs = performance.now() - t0;
const nativeTimes = native?.stop();
const gapSummary = gaps.stop();
console.log(JSON.stringify({ ...recorder.report(`storm ${workload}`, durationMs), gaps: gapSummary, native: nativeTimes }));
connector?.close();
