// HTTP load: `concurrency` keep-alive fetch loops against one server until
// `connections` requests have been answered, after a warm-up of one
// request per loop's worth of rounds that is not recorded. Each answer must
// be 200 with the body the upstream echoed; anything else counts as an
// error by its status (or the fetch error's code).
//
//   http-load.ts --host H --port P --concurrency C --connections N
import { closedLoop, parseArgs, Recorder } from "./common.mjs";

const EXPECTED = "ping\n";
const WARMUP_ROUNDS = 10;

const { host, port, concurrency, connections } = parseArgs(process.argv.slice(2));
const url = `http://${host}:${port}/`;

function request(recorder: Recorder | undefined, done: () => void): void {
  const t0 = performance.now();
  fetch(url).then(
    async (response) => {
      const body = await response.text();
      if (response.status === 200 && body === EXPECTED) recorder?.ok(t0, performance.now());
      else recorder?.error(`HTTP ${response.status}`);
      done();
    },
    (error: { code?: string }) => {
      recorder?.error(error.code ?? "fetch failed");
      done();
    },
  );
}

// Opens the keep-alive connections and lets both servers' code warm up.
await closedLoop(concurrency * WARMUP_ROUNDS, concurrency, (done) => request(undefined, done));
const recorder = new Recorder(connections);
const t0 = performance.now();
await closedLoop(connections, concurrency, (done) => request(recorder, done));
console.log(JSON.stringify(recorder.report("http", performance.now() - t0)));
