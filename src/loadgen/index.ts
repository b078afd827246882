/**
 * Scripting API: the CLI's engines from code. `rate` and `hold` take the
 * CLI's options as an object and resolve with the same report `--json` prints.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Target } from "../address.ts";
import { parseCli } from "./args.ts";
import type { Progress } from "./engine.ts";
import { runJob } from "./job.ts";
import type { Report } from "./stats.ts";

export type { Report, LatencySummary } from "./stats.ts";
export type { Progress } from "./engine.ts";
export { mergeReports } from "./stats.ts";

interface CommonOptions {
  /** `host:port`, `[v6]:port`, `unix:/path`, or a target object. */
  target: string | Target;
  concurrency?: number;
  /** ms, or a duration string like "10s". */
  duration?: number | string;
  timeout?: number;
  close?: "rst" | "fin";
  /** Source address range, e.g. "127.0.0.2-127.0.0.250". */
  source?: string;
  workers?: number;
  engine?: "uring" | "bun";
  /** Stops the run early; the promise still resolves with what was done. */
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
}

export interface RateOptions extends CommonOptions {
  connections?: number;
  /** Open loop: connects per second. */
  rate?: number;
  send?: string | Uint8Array;
  expectBytes?: number;
}

export interface HoldOptions extends CommonOptions {
  /** Connections per second while opening. */
  ramp?: number;
}

function targetText(target: string | Target): string {
  if (typeof target === "string") return target;
  if ("unix" in target) return `unix:${target.unix}`;
  return target.host.includes(":") ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
}

/** The equivalent command line, so the API and the CLI share one validation. */
function toArgv(command: "rate" | "hold", o: RateOptions & HoldOptions): string[] {
  const argv: string[] = [command, targetText(o.target)];
  const flag = (name: string, value: unknown) => {
    if (value !== undefined) argv.push(name, String(value));
  };
  flag("--concurrency", o.concurrency);
  flag("--connections", o.connections);
  flag("--duration", typeof o.duration === "number" ? `${o.duration}ms` : o.duration);
  flag("--rate", o.rate);
  flag("--timeout", o.timeout);
  flag("--close", o.close);
  flag("--expect-bytes", o.expectBytes);
  flag("--source", o.source);
  flag("--workers", o.workers);
  flag("--engine", o.engine);
  flag("--ramp", o.ramp === undefined ? undefined : `${o.ramp}/s`);
  if (typeof o.send === "string") flag("--send", o.send.startsWith("@") ? `@${writeTemp(new TextEncoder().encode(o.send))}` : o.send);
  else if (o.send) flag("--send", `@${writeTemp(o.send)}`);
  return argv;
}

/** Binary payloads travel to worker processes as a file. */
function writeTemp(bytes: Uint8Array): string {
  const path = join(mkdtempSync(join(tmpdir(), "uring-connect-")), "payload");
  writeFileSync(path, bytes);
  return path;
}

function run(command: "rate" | "hold", options: RateOptions & HoldOptions): Promise<Report> {
  if (options === null || typeof options !== "object") return Promise.reject(new TypeError("options must be an object"));
  try {
    const argv = toArgv(command, options);
    return runJob(parseCli(argv), argv, { signal: options.signal, onProgress: options.onProgress });
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Open connections as fast as allowed (or at `rate`), closing each once
 * established. Resolves with the report; rejects with a TypeError naming the
 * option for bad input, before anything is opened.
 */
export function rate(options: RateOptions): Promise<Report> {
  return run("rate", options);
}

/** Open `concurrency` connections, hold them for `duration`, report drops. */
export function hold(options: HoldOptions): Promise<Report> {
  return run("hold", options);
}
