/**
 * The load generator's options, checked in one place for both callers: the
 * scripting API passes its options object here as it is; the CLI parses argv
 * into the same shape and passes it here too. Every error names the option
 * as that caller spells it (`timeout` from code, `--timeout` on the command
 * line), and nothing is opened until the whole job is valid.
 */
import type { Target } from "../address.ts";
import { invalidInput, invalidRange, invalidType, outOfRange } from "../errors.ts";
import { MAX_TIMEOUT_MS, rejectUnknownKeys } from "../options.ts";
import type { Progress } from "./engine.ts";
import { parseSourceRange } from "./limits.ts";

interface CommonOptions {
  /** `host:port`, `[v6]:port`, `unix:/path`, or a target object. */
  target: string | Target;
  /** rate: connections in flight (default 1000); hold: connections to hold (required). */
  concurrency?: number;
  /** ms, or a duration string like "10s" (a bare number in a string is seconds). */
  duration?: number | string;
  /** Per-connect timeout, ms (default 5000; 0 = none). */
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

/** Options of `rate()`: the CLI's `rate` flags as an object. */
export interface RateOptions extends CommonOptions {
  connections?: number;
  /** Open loop: connects per second. */
  rate?: number;
  /**
   * Sent once connected. A string is sent as its UTF-8 bytes, exactly as
   * written: escapes like `\r\n` are already characters in a JS string (the
   * CLI's `--send` interprets backslash escapes because a shell cannot).
   */
  send?: string | Uint8Array;
  /** Reply bytes to wait for before closing. */
  expectBytes?: number;
  /** ms for the exchange (sending `send` and receiving `expectBytes`); default `timeout`, 0 = none. */
  exchangeTimeout?: number;
}

/** Options of `hold()`: the CLI's `hold` flags as an object. */
export interface HoldOptions extends CommonOptions {
  /** Connections opened per second while opening (default: as fast as allowed). */
  ramp?: number;
}

/** A load-generation job, checked: what runJob, the engines and worker processes take. */
export interface Job {
  mode: "rate" | "hold";
  target: Target;
  /** The target as the caller wrote it, for reports. */
  label: string;
  concurrency: number;
  connections?: number;
  durationMs?: number;
  rate?: number;
  timeoutMs: number;
  exchangeTimeoutMs: number;
  closeWith: "rst" | "fin";
  payload?: Uint8Array;
  expectBytes: number;
  rampPerSec?: number;
  sources?: string[];
  workers: number;
  engine: "uring" | "bun";
}

/** A job without its target yet (the CLI's compare run starts its server first). */
export type JobSettings = Omit<Job, "target" | "label">;

type OptionKey = keyof RateOptions | keyof HoldOptions;

/** How a caller spells each option in messages. */
export type Spelling = (key: OptionKey) => string;

/** The scripting API names options by their keys. */
const API_SPELLING: Spelling = (key) => key;

const COMMON_KEYS = ["target", "concurrency", "duration", "timeout", "close", "source", "workers", "engine", "signal", "onProgress"] as const;
const ONLY: Record<"rate" | "hold", readonly OptionKey[]> = {
  rate: ["connections", "rate", "send", "expectBytes", "exchangeTimeout"],
  hold: ["ramp"],
};
const MAX_WORKERS = 64;

/** Parse `host:port`, `[v6]:port` or `unix:/path`; throws TypeError. */
function parseTargetText(text: string): Target {
  if (text.startsWith("unix:")) {
    const path = text.slice(5);
    if (!path) throw invalidInput(`malformed target ${JSON.stringify(text)}: unix: needs a path`);
    return { unix: path };
  }
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port < 1 || port > 65535) {
    throw invalidInput(`malformed target ${JSON.stringify(text)}: expected host:port, [v6]:port or unix:/path`);
  }
  return { host: (match[1] ?? match[2])!, port };
}

/** A target as a user would write it on the command line. */
function targetLabel(target: Target): string {
  if ("unix" in target) return `unix:${target.unix}`;
  return target.host.includes(":") ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
}

function checkTarget(value: unknown, name: string): { target: Target; label: string } {
  if (typeof value === "string") return { target: parseTargetText(value), label: value };
  if (value === null || typeof value !== "object") throw invalidType(name, 'a string like "127.0.0.1:8080" or { host, port } or { unix }', value);
  const t = value as Record<string, unknown>;
  if (typeof t.unix === "string" && t.unix !== "" && t.host === undefined && t.port === undefined) {
    return { target: { unix: t.unix }, label: targetLabel({ unix: t.unix }) };
  }
  if (typeof t.host === "string" && t.host !== "" && t.unix === undefined) {
    if (typeof t.port !== "number" || !Number.isInteger(t.port) || t.port < 1 || t.port > 65535) {
      throw invalidRange(`${name}.port`, "an integer in 1..65535", t.port);
    }
    const target = { host: t.host, port: t.port };
    return { target, label: targetLabel(target) };
  }
  throw invalidType(name, "{ host, port } or { unix } with a non-empty host or path", value);
}

/** `10s`, `500ms`, `2m`, `1h`, or plain seconds; a number is ms. */
function durationMs(value: unknown, name: string): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value <= 0) throw invalidRange(name, "a positive number of milliseconds", value);
    return value;
  }
  const match = typeof value === "string" ? /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value) : null;
  if (!match) throw invalidType(name, "a duration like 10s, 500ms or 2m", value);
  const ms = Number(match[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? "s"]!;
  if (ms <= 0) throw invalidRange(name, "longer than zero", value);
  return ms;
}

function integer(value: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const expected = max === Number.MAX_SAFE_INTEGER ? (min === 0 ? "a non-negative integer" : "a positive integer") : `an integer in ${min}..${max}`;
  if (typeof value !== "number") throw invalidType(name, expected, value);
  if (!Number.isInteger(value) || value < min || value > max) throw invalidRange(name, expected, value);
  return value;
}

function positiveNumber(value: unknown, name: string): number {
  if (typeof value !== "number") throw invalidType(name, "a positive number", value);
  if (!Number.isFinite(value) || value <= 0) throw invalidRange(name, "a positive number", value);
  return value;
}

function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) throw invalidType(name, allowed.join(" or "), value);
  return value as T;
}

/** Connections per second: a number, or "500/s" as the CLI writes it. */
function perSecond(value: unknown, name: string): number {
  const match = typeof value === "string" ? /^(\d+(?:\.\d+)?)(?:\/s)?$/.exec(value) : null;
  return positiveNumber(match ? Number(match[1]) : value, name);
}

function payload(value: unknown, name: string): Uint8Array {
  if (typeof value === "string") return new TextEncoder().encode(value);
  if (value instanceof Uint8Array) return value;
  throw invalidType(name, "a string or a Uint8Array", value);
}

/**
 * Check everything but the target. Throws TypeError/RangeError naming the
 * option as `spell` writes it; unknown keys are a TypeError suggesting the
 * nearest known one.
 */
export function checkJobSettings(mode: "rate" | "hold", options: unknown, spell: Spelling = API_SPELLING): JobSettings {
  if (options === null || typeof options !== "object" || Array.isArray(options)) throw invalidType("options", "an object", options);
  const o = options as Partial<Record<OptionKey, unknown>>;
  const given = (key: OptionKey) => o[key] !== undefined;
  const other = mode === "rate" ? "hold" : "rate";
  for (const key of ONLY[other]) if (given(key)) throw invalidInput(`${spell(key)} only applies to ${other}`);
  rejectUnknownKeys(options, [...COMMON_KEYS, ...ONLY[mode]]);

  if (given("connections") && given("duration")) {
    throw invalidInput(`${spell("connections")} and ${spell("duration")} contradict each other: give one`);
  }
  if (mode === "hold" && !given("concurrency")) throw invalidInput(`hold needs ${spell("concurrency")}: the number of connections to hold`);
  if (given("signal") && !(o.signal instanceof AbortSignal)) throw invalidType(spell("signal"), "an AbortSignal", o.signal);
  if (given("onProgress") && typeof o.onProgress !== "function") throw invalidType(spell("onProgress"), "a function", o.onProgress);

  const engine = given("engine") ? oneOf(o.engine, spell("engine"), ["uring", "bun"] as const) : "uring";
  const sources = given("source") ? sourceRange(o.source, spell("source")) : undefined;
  // Bun.connect cannot bind a local address before connecting.
  if (sources && engine === "bun") throw invalidInput(`${spell("source")} needs ${spell("engine")} uring: Bun.connect cannot bind a local address`);
  const workers = given("workers") ? integer(o.workers, spell("workers"), 1, MAX_WORKERS) : 1;
  const concurrency = given("concurrency") ? integer(o.concurrency, spell("concurrency"), 1) : 1000;
  if (concurrency < workers) throw outOfRange(`${spell("concurrency")} (${concurrency}) must be at least ${spell("workers")} (${workers})`);
  const connections = given("connections") ? integer(o.connections, spell("connections"), 1) : undefined;
  const timeoutMs = given("timeout") ? integer(o.timeout, spell("timeout"), 0, MAX_TIMEOUT_MS) : 5000;

  return {
    mode,
    concurrency,
    connections,
    durationMs: given("duration") ? durationMs(o.duration, spell("duration")) : connections === undefined ? 10_000 : undefined,
    rate: given("rate") ? positiveNumber(o.rate, spell("rate")) : undefined,
    timeoutMs,
    exchangeTimeoutMs: given("exchangeTimeout") ? integer(o.exchangeTimeout, spell("exchangeTimeout"), 0, MAX_TIMEOUT_MS) : timeoutMs,
    closeWith: given("close") ? oneOf(o.close, spell("close"), ["rst", "fin"] as const) : "rst",
    payload: given("send") ? payload(o.send, spell("send")) : undefined,
    expectBytes: given("expectBytes") ? integer(o.expectBytes, spell("expectBytes"), 0) : 0,
    rampPerSec: given("ramp") ? perSecond(o.ramp, spell("ramp")) : undefined,
    sources,
    workers,
    engine,
  };
}

function sourceRange(value: unknown, name: string): string[] {
  if (typeof value !== "string") throw invalidType(name, "an IPv4 range like 127.0.0.2-127.0.0.250", value);
  return parseSourceRange(value, name);
}

/** Check a whole job, target included. Throws TypeError/RangeError naming the option. */
export function checkJob(mode: "rate" | "hold", options: unknown, spell: Spelling = API_SPELLING): Job {
  const settings = checkJobSettings(mode, options, spell);
  const { target, label } = checkTarget((options as { target?: unknown }).target, spell("target"));
  if (settings.sources && "unix" in target) throw invalidInput(`${spell("source")} does not apply to unix: targets`);
  return { ...settings, target, label };
}

/** A job as JSON (for worker processes and report pages): the payload travels as base64. */
export function jobToJson(job: Job): string {
  return JSON.stringify({ ...job, payload: job.payload && Buffer.from(job.payload).toString("base64") });
}

/** The job jobToJson wrote. */
export function jobFromJson(json: string): Job {
  const job = JSON.parse(json) as Omit<Job, "payload"> & { payload?: string };
  return { ...job, payload: job.payload === undefined ? undefined : new Uint8Array(Buffer.from(job.payload, "base64")) };
}
