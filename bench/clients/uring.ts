// uring-connect client: connectFd through one Connector, each fd reset once connected.
import { Connector } from "../../src/index.ts";
import { Recorder, closedLoop, parseArgs } from "./common.mjs";
import { closeSync } from "node:fs";

const { host, port, concurrency, connections } = parseArgs(process.argv.slice(2));
const connector = new Connector({ maxInflight: concurrency, entries: Math.min(4096, concurrency) });
const recorder = new Recorder(connections);
const target = { host, port };
const t0 = performance.now();
await closedLoop(connections, concurrency, (done) => {
  const start = performance.now();
  connector.connectFd(target).then(
    (fd) => {
      recorder.ok(start, performance.now());
      connector.closeFd(fd, { reset: true });
      done();
    },
    (error) => {
      recorder.error(error.code ?? "UNKNOWN");
      done();
    },
  );
});
console.log(JSON.stringify(recorder.report("uring-connect", performance.now() - t0)));
connector.close();
