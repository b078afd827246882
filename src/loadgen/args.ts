/**
 * Command-line arguments: parsing and checking only. Every mistake becomes
 * one UsageError line; nothing is started until the whole command is valid.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { Target } from "../address.ts";
import { parseSourceRange } from "./limits.ts";

export class UsageError extends TypeError {
  override name = "UsageError";
}

export const USAGE = `usage:
  uring-connect                         compare uring-connect and Bun.connect against a local server
  uring-connect rate TARGET [options]   open connections as fast as allowed, close each once established
  uring-connect hold TARGET -c N [options]
                                        open N connections, hold them for -d, report drops

TARGET: host:port | [v6]:port | unix:/path

rate options:
  -c, --concurrency N     connections in flight (default 1000)
  -n, --connections N     stop after N connects            } one of these;
  -d, --duration T        stop after T (10s, 500ms, 2m)    } default -d 10s
      --rate N            open loop: N connects per second
      --timeout MS        per-connect timeout (default 5000)
      --close rst|fin     how to close (default rst: no TIME_WAIT)
      --send STRING|@FILE send this once connected
      --expect-bytes N    wait for N reply bytes before closing
hold options:
  -c, --concurrency N     connections to open and hold (required)
  -d, --duration T        how long to hold them (default 10s)
      --ramp N/s          open N per second (default: all at once)
common options:
      --source A-B        spread local addresses, e.g. 127.0.0.2-127.0.0.250
      --workers N         N processes, one ring each, one merged report
      --engine uring|bun  the client: uring-connect (default) or Bun.connect
      --json              print one JSON object on stdout, nothing else
      --html FILE         write a self-contained HTML report
  -h, --help              this text`;

export interface CliOptions {
  command: "rate" | "hold" | "compare";
  target?: Target;
  /** The target as written, for reports. */
  label: string;
  concurrency: number;
  connections?: number;
  durationMs?: number;
  rate?: number;
  timeoutMs: number;
  closeWith: "rst" | "fin";
  payload?: Uint8Array;
  expectBytes: number;
  rampPerSec?: number;
  sources?: string[];
  workers: number;
  engine: "uring" | "bun";
  json: boolean;
  html?: string;
  help: boolean;
  /** Internal: this process is worker i of a --workers run (prints JSON + progress). */
  workerIndex?: number;
}

/** Parse `host:port`, `[v6]:port` or `unix:/path`. */
export function parseTargetText(text: string): Target {
  if (text.startsWith("unix:")) {
    const path = text.slice(5);
    if (!path) throw new UsageError(`malformed target ${JSON.stringify(text)}: unix: needs a path`);
    return { unix: path };
  }
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port < 1 || port > 65535) {
    throw new UsageError(`malformed target ${JSON.stringify(text)}: expected host:port, [v6]:port or unix:/path`);
  }
  return { host: (match[1] ?? match[2])!, port };
}

/** `10s`, `500ms`, `2m`, `1h`, or plain seconds. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text);
  if (!match) throw new UsageError(`${flag} must be a duration like 10s, 500ms or 2m, got ${JSON.stringify(text)}`);
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? "s"]!;
  const ms = Number(match[1]) * scale;
  if (ms <= 0) throw new UsageError(`${flag} must be longer than zero`);
  return ms;
}

function positive(text: string | undefined, flag: string, { allowZero = false } = {}): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || (!allowZero && n === 0)) {
    throw new UsageError(`${flag} must be a ${allowZero ? "non-negative" : "positive"} integer, got ${JSON.stringify(text)}`);
  }
  return n;
}

function payloadOf(text: string | undefined): Uint8Array | undefined {
  if (text === undefined) return undefined;
  if (!text.startsWith("@")) return new TextEncoder().encode(text);
  try {
    return new Uint8Array(readFileSync(text.slice(1)));
  } catch (error) {
    throw new UsageError(`--send ${text}: cannot read ${text.slice(1)} (${(error as NodeJS.ErrnoException).code ?? error})`);
  }
}

/** Parse and check a command line (without `bun` and the script). Throws UsageError. */
export function parseCli(argv: string[]): CliOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        concurrency: { type: "string", short: "c" },
        connections: { type: "string", short: "n" },
        duration: { type: "string", short: "d" },
        rate: { type: "string" },
        timeout: { type: "string" },
        close: { type: "string" },
        send: { type: "string" },
        "expect-bytes": { type: "string" },
        ramp: { type: "string" },
        source: { type: "string" },
        workers: { type: "string" },
        engine: { type: "string" },
        json: { type: "boolean" },
        html: { type: "string" },
        help: { type: "boolean", short: "h" },
        "worker-index": { type: "string" },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message.split("\n")[0]!);
  }
  const v = parsed.values;
  const [command = "compare", targetText, ...extra] = parsed.positionals;
  const help = v.help === true;
  if (help) return { command: "compare", label: "", concurrency: 0, timeoutMs: 0, closeWith: "rst", expectBytes: 0, workers: 1, engine: "uring", json: false, help };
  if (command !== "rate" && command !== "hold" && command !== "compare") {
    throw new UsageError(`unknown command ${JSON.stringify(command)}: expected rate or hold, or no command`);
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
  if (command !== "compare" && targetText === undefined) throw new UsageError(`${command} needs a TARGET (host:port, [v6]:port or unix:/path)`);

  const only = (flag: string, allowed: string, present: unknown) => {
    if (present !== undefined) throw new UsageError(`${flag} only applies to ${allowed}`);
  };
  if (command !== "rate") {
    only("--rate", "rate", v.rate);
    only("--send", "rate", v.send);
    only("--expect-bytes", "rate", v["expect-bytes"]);
    only("-n/--connections", "rate", v.connections);
  }
  if (command !== "hold") only("--ramp", "hold", v.ramp);
  if (v.connections !== undefined && v.duration !== undefined) {
    throw new UsageError("-n/--connections and -d/--duration contradict each other: give one");
  }
  if (command === "hold" && v.concurrency === undefined) throw new UsageError("hold needs -c N, the number of connections to hold");

  const close = v.close ?? "rst";
  if (close !== "rst" && close !== "fin") throw new UsageError(`--close must be rst or fin, got ${JSON.stringify(close)}`);
  const engine = v.engine ?? "uring";
  if (engine !== "uring" && engine !== "bun") throw new UsageError(`--engine must be uring or bun, got ${JSON.stringify(engine)}`);
  let rampPerSec: number | undefined;
  if (v.ramp !== undefined) {
    const match = /^(\d+)(?:\/s)?$/.exec(v.ramp);
    if (!match || Number(match[1]) === 0) throw new UsageError(`--ramp must look like 500/s, got ${JSON.stringify(v.ramp)}`);
    rampPerSec = Number(match[1]);
  }
  let sources: string[] | undefined;
  if (v.source !== undefined) {
    try {
      sources = parseSourceRange(v.source);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  // Bun.connect cannot bind a local address before connecting.
  if (sources && engine === "bun") throw new UsageError("--source needs --engine uring: Bun.connect cannot bind a local address");
  const target = targetText === undefined ? undefined : parseTargetText(targetText);
  if (sources && target && "unix" in target) throw new UsageError("--source does not apply to unix: targets");
  const workers = positive(v.workers, "--workers") ?? 1;
  if (workers > 64) throw new UsageError(`--workers must be at most 64, got ${workers}`);
  const concurrency = positive(v.concurrency, "-c/--concurrency") ?? 1000;
  if (concurrency < workers) throw new UsageError(`-c/--concurrency (${concurrency}) must be at least --workers (${workers})`);
  const connections = positive(v.connections, "-n/--connections");
  const durationMs =
    v.duration !== undefined ? parseDuration(v.duration, "-d/--duration") : connections === undefined ? (command === "compare" ? 5_000 : 10_000) : undefined;

  return {
    command,
    target,
    label: targetText ?? "",
    concurrency,
    connections,
    durationMs,
    rate: positive(v.rate, "--rate"),
    timeoutMs: positive(v.timeout, "--timeout", { allowZero: true }) ?? 5000,
    closeWith: close,
    payload: payloadOf(v.send),
    expectBytes: positive(v["expect-bytes"], "--expect-bytes", { allowZero: true }) ?? 0,
    rampPerSec,
    sources,
    workers,
    engine,
    json: v.json === true,
    html: v.html,
    help,
    workerIndex: positive(v["worker-index"], "--worker-index", { allowZero: true }),
  };
}
