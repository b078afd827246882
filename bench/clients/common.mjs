// Shared by every benchmark client (Bun and Node): arguments, latency
// samples and the one-line JSON report the runner parses.

/** Parse `--host H --port P --concurrency C --connections N`. */
export function parseArgs(argv) {
  const args = { host: "127.0.0.1", port: 0, concurrency: 100, connections: 10000 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, "");
    if (!(key in args)) throw new Error(`unknown argument ${argv[i]}`);
    args[key] = key === "host" ? argv[i + 1] : Number(argv[i + 1]);
  }
  if (!args.port) throw new Error("--port is required");
  return args;
}

/** Per-connect latency samples in microseconds, and error counts. */
export class Recorder {
  constructor(total) {
    this.samples = new Float64Array(total);
    this.count = 0;
    this.errors = {};
  }
  ok(startMs, nowMs) {
    this.samples[this.count++] = (nowMs - startMs) * 1000;
  }
  error(code) {
    this.errors[code] = (this.errors[code] ?? 0) + 1;
  }
  report(client, durationMs) {
    const sorted = this.samples.subarray(0, this.count).sort();
    const at = (q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : 0);
    return {
      client,
      connects: this.count,
      errors: this.errors,
      durationMs,
      rate: this.count / (durationMs / 1000),
      p50Us: at(0.5),
      p99Us: at(0.99),
    };
  }
}

/**
 * Keep `concurrency` connects going until `total` have finished.
 * `startOne(done)` begins one connect and calls `done()` when it has settled.
 */
export function closedLoop(total, concurrency, startOne) {
  return new Promise((resolve) => {
    let started = 0;
    let finished = 0;
    const done = () => {
      finished++;
      if (started < total) {
        started++;
        startOne(done);
      } else if (finished === total) resolve();
    };
    const initial = Math.min(concurrency, total);
    for (; started < initial; ) {
      started++;
      startOne(done);
    }
  });
}
