/**
 * For `bun test` suites: storm a server under test with connections and get
 * the report to assert on.
 *
 *   const report = await storm({ port, connections: 10000, concurrency: 1000 });
 *   expect(report.errors).toEqual({});
 */
import { rate, type Report } from "./loadgen/index.ts";

export type { Report } from "./loadgen/index.ts";

export interface StormOptions {
  /** Port on `host` (default 127.0.0.1). */
  port?: number;
  host?: string;
  /** A unix socket path instead of host and port. */
  unix?: string;
  /** Connections to open in all (default 10000). */
  connections?: number;
  /** Connections in flight at once (default 1000). */
  concurrency?: number;
  /** Per-connect timeout, ms (default 5000). */
  timeout?: number;
  /** rst (default) or fin. */
  close?: "rst" | "fin";
  /** Send this once connected, and wait for `expectBytes` reply bytes. */
  send?: string | Uint8Array;
  expectBytes?: number;
}

/**
 * Open `connections` connections, `concurrency` at a time, closing each once
 * established (after the exchange, when `send` is given). Resolves with the
 * load generator's report: connects, errors by code, rate, latency.
 */
export function storm(options: StormOptions): Promise<Report> {
  const { port, host = "127.0.0.1", unix, connections = 10_000, concurrency = 1000, ...rest } = options ?? {};
  if (unix === undefined && port === undefined) return Promise.reject(new TypeError("storm needs a port (or a unix path)"));
  const target = unix !== undefined ? { unix } : { host, port: port! };
  return rate({ target, connections, concurrency: Math.min(concurrency, connections), ...rest });
}
