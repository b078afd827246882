/**
 * For `bun test` suites: storm a server under test with connections and get
 * the report to assert on.
 *
 *   const report = await storm({ port, connections: 10000, concurrency: 1000 });
 *   expect(report.errors).toEqual({});
 */
import { invalidInput, invalidType } from "./errors.ts";
import { rate, type Report } from "./loadgen/index.ts";
import { rejectUnknownKeys } from "./options.ts";

export type { Report } from "./loadgen/index.ts";

interface StormCommon {
  /** Connections to open in all (default 10000). */
  connections?: number;
  /** Connections in flight at once (default 1000, at most `connections`). */
  concurrency?: number;
  /** Per-connect timeout, ms (default 5000). */
  timeout?: number;
  /** rst (default) or fin. */
  close?: "rst" | "fin";
  /** Send this once connected (a string as its UTF-8 bytes, as written), and wait for `expectBytes` reply bytes. */
  send?: string | Uint8Array;
  expectBytes?: number;
  /** ms for the send and the reply (default `timeout`). */
  exchangeTimeout?: number;
}

/**
 * Where to storm: a TCP `port` (on `host`, default 127.0.0.1) or a `unix`
 * socket path; one of them must be given. `port` admits undefined only
 * because `Bun.serve()`'s `server.port` is typed so; at run time it is a TypeError.
 */
export type StormOptions = StormCommon & ({ port: number | undefined; host?: string; unix?: never } | { unix: string; port?: never; host?: never });

const STORM_KEYS = ["port", "host", "unix", "connections", "concurrency", "timeout", "close", "send", "expectBytes", "exchangeTimeout"] as const;

/**
 * Open `connections` connections, `concurrency` at a time, closing each once
 * established (after the exchange, when `send` is given).
 * Returns the load generator's report: connects, errors by code, rate,
 * latency (and exchanges, exchange errors and latency with `send`/`expectBytes`).
 * Rejects with a TypeError for unknown keys (naming the nearest known one),
 * for neither or both of `port` and `unix`, and for bad values, before
 * anything is opened.
 */
export function storm(options: StormOptions): Promise<Report> {
  try {
    if (options === null || typeof options !== "object" || Array.isArray(options)) throw invalidType("options", "an object", options);
    rejectUnknownKeys(options, STORM_KEYS);
    const { port, host = "127.0.0.1", unix, connections = 10_000, concurrency = 1000, ...rest } = options;
    if ((unix === undefined) === (port === undefined)) throw invalidInput("storm needs either port (with host) or unix: where to connect");
    if (unix !== undefined && options.host !== undefined) throw invalidInput("storm takes host with port, not with unix");
    const target = unix !== undefined ? { unix } : { host, port: port! };
    // A storm smaller than its concurrency opens all of it at once (bad values go to the validator as given).
    const inFlight = typeof concurrency === "number" && typeof connections === "number" ? Math.min(concurrency, connections) : concurrency;
    return rate({ target, connections, concurrency: inFlight, ...rest });
  } catch (error) {
    return Promise.reject(error);
  }
}
