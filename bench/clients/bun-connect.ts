// Bun.connect client: opens each connection and resets it once established.
import { Recorder, closedLoop, parseArgs } from "./common.mjs";

const { host, port, concurrency, connections } = parseArgs(process.argv.slice(2));
const recorder = new Recorder(connections);
const t0 = performance.now();
await closedLoop(connections, concurrency, (done) => {
  const start = performance.now();
  Bun.connect({
    hostname: host,
    port,
    socket: {
      open(socket) {
        recorder.ok(start, performance.now());
        socket.terminate();
        done();
      },
      connectError(_socket, error) {
        recorder.error((error as NodeJS.ErrnoException).code ?? "UNKNOWN");
        done();
      },
      data() {},
    },
  }).catch(() => {});
});
console.log(JSON.stringify(recorder.report("Bun.connect", performance.now() - t0)));
