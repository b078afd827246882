// What the hot path (connectFd + closeFd with RST) allocates and keeps.
//
//   alloc.ts --phase allocated|retained --host H --port P --concurrency C --connections N
//
// allocated: JS heap bytes allocated per connect. JSC's heapStats() counts
// only cells marked by the last collection, so it cannot see garbage; run
// with the collector off (BUN_JSC_useGC=0, set by the runner), every cell
// allocated stays, and heapCapacity grows by exactly what was allocated, in
// whole 16 KB blocks. The harness's own share (one then() per connect) is
// measured the same way and reported apart.
//
// retained: with the collector on, RSS and live objects after a full
// collection, before and after N connects: what the path keeps (leaks).
import { heapStats } from "bun:jsc";
import { closedLoop, parseArgs } from "./common.mjs";
import { benchConnector } from "./connector.ts";

const argv = process.argv.slice(2);
const at = argv.indexOf("--phase");
const phase = at >= 0 ? argv.splice(at, 2)[1] : undefined;
if (phase !== "allocated" && phase !== "retained") throw new Error("--phase takes allocated or retained");
const { host, port, concurrency, connections } = parseArgs(argv);
const target = { host, port };
const connector = benchConnector(concurrency);

// One set of handlers for every connect: the harness adds no closure per connect.
const RESET = { reset: true } as const;
let errors = 0;
let done: () => void = () => {};
const onFd = (fd: number) => {
  connector.closeFd(fd, RESET);
  done();
};
const onError = () => {
  errors++;
  done();
};
const connectOnce = (d: () => void) => {
  done = d;
  connector.connectFd(target).then(onFd, onError);
};
// The callback API: no promise, and its request reused.
const onSettled = (error: unknown, fd: number) => {
  if (error === null) connector.closeFd(fd, RESET);
  else errors++;
  done();
};
const callbackOnce = (d: () => void) => {
  done = d;
  connector.connectFdCallback(target, undefined, onSettled);
};
// The harness alone: the same then() on a promise that already holds an fd-like value.
const settled = Promise.resolve(-1);
const onNothing = () => done();
const harnessOnce = (d: () => void) => {
  done = d;
  settled.then(onNothing, onError);
};

/** Enough cycles first that the JIT has settled and the ring, slots and queues have their steady-state size. */
const WARMUP = Math.min(connections, 20_000);
/** JSC allocates cells in blocks of this size: heapCapacity moves in these steps. */
const BLOCK_BYTES = 16 * 1024;

async function heapBytesPer(cycle: (d: () => void) => void, n: number): Promise<{ heap: number; extra: number }> {
  const before = heapStats();
  await closedLoop(n, concurrency, cycle);
  const after = heapStats();
  return { heap: (after.heapCapacity - before.heapCapacity) / n, extra: (after.extraMemorySize - before.extraMemorySize) / n };
}

if (phase === "allocated") {
  // A young, unreachable object that any collection would free: proof the collector stayed off.
  const sentinel = new WeakRef({});
  await closedLoop(WARMUP, concurrency, connectOnce);
  await closedLoop(WARMUP, concurrency, callbackOnce);
  await closedLoop(WARMUP, concurrency, harnessOnce);
  const path = await heapBytesPer(connectOnce, connections);
  const callbackPath = await heapBytesPer(callbackOnce, connections);
  const harness = await heapBytesPer(harnessOnce, connections);
  if (sentinel.deref() === undefined) throw new Error("the garbage collector ran: run with BUN_JSC_useGC=0");
  console.log(
    JSON.stringify({
      phase,
      connections,
      errors,
      heapBytesPerConnect: path.heap,
      callbackHeapBytesPerConnect: callbackPath.heap,
      harnessHeapBytesPerConnect: harness.heap,
      extraBytesPerConnect: path.extra,
      resolutionBytes: BLOCK_BYTES / connections,
    }),
  );
} else {
  await closedLoop(WARMUP, concurrency, connectOnce);
  Bun.gc(true);
  const rss0 = process.memoryUsage().rss;
  const heap0 = heapStats();
  await closedLoop(connections, concurrency, connectOnce);
  Bun.gc(true);
  const rss1 = process.memoryUsage().rss;
  const heap1 = heapStats();
  const grown = Object.entries(heap1.objectTypeCounts)
    .map(([type, n]) => [type, n - (heap0.objectTypeCounts[type] ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5);
  console.log(
    JSON.stringify({
      phase,
      connections,
      errors,
      rssGrowthBytes: rss1 - rss0,
      liveObjectGrowth: heap1.objectCount - heap0.objectCount,
      liveHeapGrowthBytes: heap1.heapSize - heap0.heapSize,
      grownTypes: Object.fromEntries(grown),
    }),
  );
}
connector.close();
