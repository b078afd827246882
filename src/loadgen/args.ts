/**
 * Command-line arguments: argv into the scripting API's options object,
 * checked by the same validator (./options.ts). Every mistake becomes one
 * UsageError line naming the flag; nothing is started until the whole
 * command is valid.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { UsageError } from "../errors.ts";
import { checkJob, checkJobSettings, type Job, type JobSettings, type Spelling } from "./options.ts";

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
      --rate N            open loop: N connects per second, on a fixed schedule
      --timeout MS        per-connect timeout (default 5000; 0 = none)
      --close rst|fin     how to close (default rst: no TIME_WAIT)
      --send DATA|@FILE   send this once connected; DATA understands \\r \\n \\t \\\\ \\xNN
      --expect-bytes N    wait for N reply bytes before closing
      --exchange-timeout MS
                          time for the send and the reply (default: --timeout)
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

/** How the command line spells each option, for messages. */
export const CLI_SPELLING: Spelling = (key) =>
  ({
    target: "TARGET",
    concurrency: "-c/--concurrency",
    connections: "-n/--connections",
    duration: "-d/--duration",
    exchangeTimeout: "--exchange-timeout",
    expectBytes: "--expect-bytes",
  })[key as string] ?? `--${key}`;

/** What the command line asks for, checked. */
export type Invocation =
  | { command: "help" }
  | { command: "compare"; settings: JobSettings; json: boolean; html?: string }
  | { command: "rate" | "hold"; job: Job; json: boolean; html?: string };

const ESCAPES: Record<string, number> = { r: 13, n: 10, t: 9, "\\": 92 };

/**
 * `--send` text as bytes, with tcpkali's escapes: `\r \n \t \\ \xNN`
 * (what users type inside single quotes, where the shell leaves backslashes alone).
 * Throws UsageError for any other escape, so a typo is not sent silently.
 */
export function decodeSendText(text: string): Uint8Array {
  const bytes: number[] = [];
  const utf8 = new TextEncoder();
  let plain = 0;
  const flush = (end: number) => bytes.push(...utf8.encode(text.slice(plain, end)));
  for (let i = text.indexOf("\\"); i >= 0; i = text.indexOf("\\", plain)) {
    flush(i);
    const next = text[i + 1];
    const hex = next === "x" ? /^[0-9a-fA-F]{2}/.exec(text.slice(i + 2)) : null;
    if (next !== undefined && next in ESCAPES) {
      bytes.push(ESCAPES[next]!);
      plain = i + 2;
    } else if (hex) {
      bytes.push(parseInt(hex[0], 16));
      plain = i + 4;
    } else {
      const escape = text.slice(i, next === "x" ? i + 4 : i + 2);
      throw new UsageError(`--send: unknown escape ${escape} at character ${i + 1}: use \\r \\n \\t \\\\ or \\xNN`);
    }
  }
  flush(text.length);
  return new Uint8Array(bytes);
}

/** `--send` as given: `@FILE` is the file's bytes as they are; anything else is text with escapes. */
function sendBytes(text: string): Uint8Array {
  if (!text.startsWith("@")) return decodeSendText(text);
  try {
    return new Uint8Array(readFileSync(text.slice(1)));
  } catch (error) {
    throw new UsageError(`--send ${text}: cannot read ${text.slice(1)} (${(error as NodeJS.ErrnoException).code ?? error})`);
  }
}

/** A number when the flag's text is one, else the text, so the validator can quote what was typed. */
const numeric = (text: string | undefined): number | string | undefined => (text !== undefined && /^-?\d+(?:\.\d+)?$/.test(text) ? Number(text) : text);

/** Parse and check a command line (without `bun` and the script). Throws UsageError. */
export function parseCli(argv: string[]): Invocation {
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
        "exchange-timeout": { type: "string" },
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
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message.split("\n")[0]!);
  }
  const v = parsed.values;
  if (v.help) return { command: "help" };
  const [command = "compare", target, ...extra] = parsed.positionals;
  if (command !== "rate" && command !== "hold" && command !== "compare") {
    throw new UsageError(`unknown command ${JSON.stringify(command)}: expected rate or hold, or no command`);
  }
  if (extra.length > 0 || (command === "compare" && target !== undefined)) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0] ?? target)}`);
  if (command !== "compare" && target === undefined) throw new UsageError(`${command} needs a TARGET (host:port, [v6]:port or unix:/path)`);

  // The scripting API's options object; absent flags stay absent so defaults and "only applies to" checks see them as such.
  const options = Object.fromEntries(
    Object.entries({
      target,
      concurrency: numeric(v.concurrency),
      connections: numeric(v.connections),
      // The compare run's default length is shorter: it runs twice.
      duration: command === "compare" && v.duration === undefined && v.connections === undefined ? "5s" : v.duration,
      rate: numeric(v.rate),
      timeout: numeric(v.timeout),
      exchangeTimeout: numeric(v["exchange-timeout"]),
      close: v.close,
      send: v.send === undefined ? undefined : sendBytes(v.send),
      expectBytes: numeric(v["expect-bytes"]),
      ramp: v.ramp,
      source: v.source,
      workers: numeric(v.workers),
      engine: v.engine,
    }).filter(([, value]) => value !== undefined),
  );
  const output = { json: v.json === true, html: v.html };
  try {
    if (command === "compare") return { command, settings: checkJobSettings("rate", options, CLI_SPELLING), ...output };
    return { command, job: checkJob(command, options, CLI_SPELLING), ...output };
  } catch (error) {
    // The validator's TypeError/RangeError is the user's mistake, said in the CLI's words.
    if (error instanceof TypeError || error instanceof RangeError) throw new UsageError(error.message);
    throw error;
  }
}
