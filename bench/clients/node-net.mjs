// node:net client (run under Node): each connection is reset once established.
import net from "node:net";
import { Recorder, closedLoop, parseArgs } from "./common.mjs";

const { host, port, concurrency, connections } = parseArgs(process.argv.slice(2));
const recorder = new Recorder(connections);
const t0 = performance.now();
await closedLoop(connections, concurrency, (done) => {
  const start = performance.now();
  const socket = net.connect({ host, port });
  socket.once("connect", () => {
    recorder.ok(start, performance.now());
    socket.resetAndDestroy();
    done();
  });
  socket.once("error", (error) => {
    recorder.error(error.code ?? "UNKNOWN");
    socket.destroy();
    done();
  });
});
console.log(JSON.stringify(recorder.report("node:net", performance.now() - t0)));
