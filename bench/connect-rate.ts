/**
 * Side-by-side connect-rate benchmark: uring-connect against Bun.connect,
 * node:net and a C liburing client, all hitting one epoll server.
 *
 *   bun bench/connect-rate.ts [--connections N] [--reps R]
 *     [--concurrency 100,1000,10000] [--clients uring,bun,node,c,c-async,loadgen,loadgen-bun] [--quick] [--json]
 *
 * Every client runs as its own process so no runtime shares a heap, event
 * loop or fd table with another; runs are interleaved and the client order
 * rotates each rep so drift (thermal, page cache, noisy neighbours) spreads
 * over all clients instead of always hitting the same one.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Subprocess } from "bun";
import type { ClientReport } from "./clients/common.mjs";

const ROOT = path.resolve(import.meta.dir, "..");
const BENCH = path.join(ROOT, "bench");
const BIN = path.join(BENCH, "bin");
const HOST = "127.0.0.1";
const BUN = process.execPath;
/** Generous: node:net at 10k concurrency is the slowest run and takes seconds, not minutes. */
const CLIENT_TIMEOUT_MS = 180_000;
const IDLE_WAIT_MS = 5_000;
const IDLE_CPU_WINDOW_MS = 3_000;
const EXIT_CHECK_TIMEOUT_MS = 5_000;
const STARTUP_RUNS = 5;
/** The concurrency the closing summary line compares at. */
const SUMMARY_CONCURRENCY = 1000;

// ---------------------------------------------------------------- options

type ClientId = "uring" | "bun" | "node" | "c" | "c-async" | "loadgen" | "loadgen-bun";
const CLIENT_IDS: readonly ClientId[] = ["uring", "bun", "node", "c", "c-async", "loadgen", "loadgen-bun"];
/** Run unless --clients names them: the load generator's own rows. */
const DEFAULT_CLIENTS: readonly ClientId[] = ["uring", "bun", "node", "c", "c-async"];

interface Options {
  connections: number;
  reps: number;
  concurrency: number[];
  clients: ClientId[];
  /** Connections per run of the concurrency-1 latency measurement. */
  latencyConnections: number;
  quick: boolean;
  json: boolean;
}

const USAGE = `usage: bun bench/connect-rate.ts [--connections N] [--reps R] [--concurrency 100,1000,10000]
                                [--clients uring,bun,node,c,c-async,loadgen,loadgen-bun] [--quick] [--json]`;

class UsageError extends Error {}

/** Errors that end the run with exit 1 and just their message (no stack). */
class FatalError extends Error {}

function positiveInt(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < 1) throw new UsageError(`${flag} needs a positive integer, got ${value ?? "nothing"}`);
  return n;
}

function parseClients(value: string | undefined): ClientId[] {
  const ids = (value ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const bad = ids.filter((id) => !CLIENT_IDS.includes(id as ClientId));
  if (ids.length === 0 || bad.length > 0) throw new UsageError(`--clients takes a list of ${CLIENT_IDS.join(",")}`);
  return [...new Set(ids as ClientId[])];
}

function parseOptions(argv: string[]): Options {
  // --quick only changes defaults, so explicit flags win wherever it appears.
  const quick = argv.includes("--quick");
  const opts: Options = {
    connections: quick ? 5000 : 50000,
    reps: quick ? 1 : 3,
    concurrency: quick ? [100, 1000] : [100, 1000, 10000],
    clients: [...DEFAULT_CLIENTS],
    latencyConnections: quick ? 1000 : 2000,
    quick,
    json: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    switch (flag) {
      case "--quick":
        break;
      case "--json":
        opts.json = true;
        break;
      case "--connections":
        opts.connections = positiveInt(flag, argv[++i]);
        break;
      case "--reps":
        opts.reps = positiveInt(flag, argv[++i]);
        break;
      case "--concurrency":
        opts.concurrency = (argv[++i] ?? "").split(",").map((s) => positiveInt(flag, s.trim()));
        break;
      case "--clients":
        opts.clients = parseClients(argv[++i]);
        break;
      case "--help":
      case "-h":
        console.log(USAGE);
        process.exit(0);
      default:
        throw new UsageError(`unknown argument ${flag}`);
    }
  }
  return opts;
}

// ---------------------------------------------------------------- processes

/** Every child still running, so an error or Ctrl-C never leaves one behind. */
const live = new Set<Subprocess>();

type Child = Subprocess<"ignore", "pipe", "pipe">;

function spawn(cmd: string[]): Child {
  const proc = Bun.spawn(cmd, { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  live.add(proc);
  void proc.exited.finally(() => live.delete(proc));
  return proc;
}

function killAll(): void {
  for (const proc of live) proc.kill("SIGKILL");
  live.clear();
}

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
  wallMs: number;
  timedOut: boolean;
}

/** Run a command to completion, killing it after `timeoutMs`. */
async function run(cmd: string[], timeoutMs = CLIENT_TIMEOUT_MS): Promise<Finished> {
  const t0 = performance.now();
  const proc = spawn(cmd);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, timeoutMs);
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  return { code: timedOut ? null : code, stdout, stderr, wallMs: performance.now() - t0, timedOut };
}

function tail(text: string, lines = 5): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Why a finished process counts as failed, or undefined if it succeeded. */
function failureReason(f: Finished): string | undefined {
  if (f.timedOut) return "timed out";
  if (f.code !== 0) return `exit code ${f.code}`;
  return undefined;
}

function lastJsonLine(stdout: string): unknown {
  const line = stdout.trimEnd().split("\n").pop() ?? "";
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

// ---------------------------------------------------------------- build

interface CTarget {
  name: string;
  src: string;
  out: string;
  libs: string[];
}

const SERVER: CTarget = { name: "server", src: path.join(BENCH, "server.c"), out: path.join(BIN, "server"), libs: [] };
const REF: CTarget = { name: "ref", src: path.join(BENCH, "ref.c"), out: path.join(BIN, "ref"), libs: ["-luring"] };
const INSTALL_GCC = "install gcc (Debian/Ubuntu: apt-get install gcc)";

function isStale(t: CTarget): boolean {
  return !existsSync(t.out) || statSync(t.out).mtimeMs < statSync(t.src).mtimeMs;
}

/** Build `t` if needed; returns undefined when the binary is ready, else why not. */
async function ensureBuilt(t: CTarget, gcc: string | null): Promise<string | undefined> {
  if (!isStale(t)) return undefined;
  if (!gcc) return `gcc not found; ${INSTALL_GCC}`;
  mkdirSync(BIN, { recursive: true });
  const f = await run([gcc, "-O2", "-Wall", "-Wextra", "-o", t.out, t.src, ...t.libs]);
  const reason = failureReason(f);
  return reason && `gcc ${reason} building bench/${t.name}.c:\n${tail(f.stderr, 10)}`;
}

// ---------------------------------------------------------------- clients

interface ClientSpec {
  id: ClientId;
  label: string;
  cmd: string[];
}

/** The selected clients that can run here; what was skipped goes to `notes`. */
async function prepareClients(opts: Options, notes: string[]): Promise<ClientSpec[]> {
  const gcc = Bun.which("gcc");
  const serverProblem = await ensureBuilt(SERVER, gcc);
  if (serverProblem) throw new FatalError(`cannot build the bench server: ${serverProblem}`);

  const node = Bun.which("node");
  const all: Record<ClientId, () => Promise<ClientSpec | string>> = {
    uring: async () => ({ id: "uring", label: "uring-connect", cmd: [BUN, path.join(BENCH, "clients/uring.ts")] }),
    bun: async () => ({ id: "bun", label: "Bun.connect", cmd: [BUN, path.join(BENCH, "clients/bun-connect.ts")] }),
    loadgen: async () => ({ id: "loadgen", label: "uring-connect rate", cmd: [BUN, path.join(BENCH, "clients/loadgen.ts")] }),
    "loadgen-bun": async () => ({
      id: "loadgen-bun",
      label: "rate --engine bun",
      cmd: [BUN, path.join(BENCH, "clients/loadgen.ts"), "--engine", "bun"],
    }),
    node: async () =>
      node
        ? { id: "node", label: "node:net", cmd: [node, path.join(BENCH, "clients/node-net.mjs")] }
        : "node:net skipped: `node` not found on PATH",
    c: async () => {
      const problem = await ensureBuilt(REF, gcc);
      return problem ? `C reference skipped: ${problem}` : { id: "c", label: "C liburing", cmd: [REF.out] };
    },
    // The same C client closing as uring-connect does (through the ring, in a
    // kernel worker): the ceiling for this technique on this machine.
    "c-async": async () => {
      const problem = await ensureBuilt(REF, gcc);
      return problem
        ? `C reference (async close) skipped: ${problem}`
        : { id: "c-async", label: "C, async close", cmd: [REF.out, "--close", "async"] };
    },
  };
  const specs: ClientSpec[] = [];
  for (const id of opts.clients) {
    const result = await all[id]();
    if (typeof result === "string") notes.push(result);
    else specs.push(result);
  }
  if (specs.length === 0) throw new FatalError("no client can run here");
  return specs;
}

// ---------------------------------------------------------------- server

interface ServerStats {
  accepted: number;
  closed: number;
  open: number;
  shed: number;
}

async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true });
    for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
      yield buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
    }
  }
  if (buffered) yield buffered;
}

/** The bench server, talked to through its stdout lines and signals. */
class BenchServer {
  private readonly lines: string[] = [];
  private wake: (() => void) | undefined;
  private ended = false;
  private stderr = "";
  private stopping: Promise<ServerStats | undefined> | undefined;

  private constructor(
    private readonly proc: Child,
    public port = 0,
  ) {
    void this.collect(proc.stdout);
    // Drained so a chatty server never blocks on a full pipe; kept for error messages.
    void (async () => {
      for await (const line of readLines(proc.stderr)) this.stderr = tail(`${this.stderr}\n${line}`);
    })();
  }

  static async start(): Promise<BenchServer> {
    const server = new BenchServer(spawn([SERVER.out, "--host", HOST, "--port", "0"]));
    const port = Number(await server.nextLine("LISTENING ", 5000));
    if (!port) {
      await server.stop();
      throw new FatalError(`bench server did not start listening: ${server.stderr || "no output"}`);
    }
    server.port = port;
    return server;
  }

  private async collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    for await (const line of readLines(stream)) {
      this.lines.push(line);
      this.notify();
    }
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** The rest of the next stdout line starting with `prefix`, or undefined on timeout/exit. */
  private async nextLine(prefix: string, timeoutMs: number): Promise<string | undefined> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const at = this.lines.findIndex((line) => line.startsWith(prefix));
      if (at >= 0) return this.lines.splice(0, at + 1)[at]!.slice(prefix.length);
      const left = deadline - performance.now();
      if (this.ended || left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  async stats(): Promise<ServerStats | undefined> {
    // Drop lines from an earlier request that timed out, so this answer is fresh.
    this.lines.length = 0;
    this.proc.kill("SIGUSR1");
    const json = await this.nextLine("STATS ", 1000);
    return json === undefined ? undefined : (JSON.parse(json) as ServerStats);
  }

  /** Poll until no connection is open; returns the open count it ended with. */
  async waitIdle(): Promise<number> {
    const deadline = performance.now() + IDLE_WAIT_MS;
    for (;;) {
      const open = (await this.stats())?.open ?? -1;
      if (open === 0 || performance.now() >= deadline) return open;
      await sleep(20);
    }
  }

  /** SIGTERM makes the server print its final STATS and exit. Safe to call twice. */
  stop(): Promise<ServerStats | undefined> {
    this.stopping ??= this.terminate();
    return this.stopping;
  }

  private async terminate(): Promise<ServerStats | undefined> {
    this.lines.length = 0;
    this.proc.kill("SIGTERM");
    const json = await this.nextLine("STATS ", 2000);
    const exited = await Promise.race([this.proc.exited.then(() => true), sleep(2000).then(() => false)]);
    if (!exited) this.proc.kill("SIGKILL");
    return json === undefined ? undefined : (JSON.parse(json) as ServerStats);
  }
}

// ---------------------------------------------------------------- client runs

interface Failure {
  client: string;
  concurrency: number;
  connections: number;
  rep: number;
  reason: string;
  stderrTail: string;
}

interface Scenario {
  concurrency: number;
  connections: number;
}

function isClientReport(value: unknown): value is ClientReport {
  const r = value as Partial<ClientReport> | undefined;
  return typeof r?.rate === "number" && typeof r.p50Us === "number" && typeof r.p99Us === "number" && typeof r.errors === "object";
}

/** One client run: its report, or why it failed and what it said on stderr. */
async function runClient(spec: ClientSpec, port: number, sc: Scenario): Promise<ClientReport | { reason: string; stderrTail: string }> {
  const args = ["--host", HOST, "--port", String(port), "--concurrency", String(sc.concurrency), "--connections", String(sc.connections)];
  const f = await run([...spec.cmd, ...args]);
  const report = lastJsonLine(f.stdout);
  const reason = failureReason(f) ?? (isClientReport(report) ? undefined : "no JSON result on stdout");
  return reason ? { reason, stderrTail: tail(f.stderr) } : (report as ClientReport);
}

/** Reports per scenario index, then per client. */
type Results = Map<number, Map<ClientId, ClientReport[]>>;

interface Runner {
  server: BenchServer;
  clients: ClientSpec[];
  failures: Failure[];
  notes: string[];
  progress: (message: string) => void;
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** Run every client once per scenario per rep, interleaved, rotating who goes first each rep. */
async function runSeries(r: Runner, title: string, scenarios: Scenario[], reps: number): Promise<Results> {
  const results: Results = new Map(scenarios.map((_, i) => [i, new Map(r.clients.map((c) => [c.id, [] as ClientReport[]]))]));
  for (let rep = 0; rep < reps; rep++) {
    const order = rotate(r.clients, rep);
    for (const [i, sc] of scenarios.entries()) {
      for (const spec of order) {
        r.progress(`${title}: rep ${rep + 1}/${reps}, concurrency ${sc.concurrency}, ${spec.label}`);
        // One client's half-closed leftovers must not load the next client's run.
        const open = await r.server.waitIdle();
        if (open !== 0) r.notes.push(`server still had ${open < 0 ? "unknown" : open} open connections after ${IDLE_WAIT_MS / 1000} s before ${spec.label} (${title}, concurrency ${sc.concurrency}, rep ${rep + 1})`);
        const outcome = await runClient(spec, r.server.port, sc);
        if ("reason" in outcome) r.failures.push({ client: spec.label, ...sc, rep: rep + 1, ...outcome });
        else results.get(i)!.get(spec.id)!.push(outcome);
      }
    }
  }
  return results;
}

// ---------------------------------------------------------------- aggregation

interface Row {
  client: string;
  id: ClientId;
  /** Successful runs out of attempted ones. */
  ok: number;
  runs: number;
  rate: number | undefined;
  /** Half the max-min spread of the rate across reps, as % of the median. */
  spreadPct: number | undefined;
  vsBunConnect: number | undefined;
  vsCRef: number | undefined;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  errors: Record<string, number>;
  rates: number[];
}

function summarize(spec: ClientSpec, reports: ClientReport[], runs: number): Row {
  const rates = reports.map((r) => r.rate);
  const errors: Record<string, number> = {};
  for (const r of reports) for (const [code, n] of Object.entries(r.errors)) errors[code] = (errors[code] ?? 0) + n;
  const has = reports.length > 0;
  const rate = has ? median(rates) : undefined;
  return {
    client: spec.label,
    id: spec.id,
    ok: reports.length,
    runs,
    rate,
    spreadPct: rate ? ((Math.max(...rates) - Math.min(...rates)) / 2 / rate) * 100 : undefined,
    vsBunConnect: undefined,
    vsCRef: undefined,
    p50Ms: has ? median(reports.map((r) => r.p50Us)) / 1000 : undefined,
    p99Ms: has ? median(reports.map((r) => r.p99Us)) / 1000 : undefined,
    errors,
    rates,
  };
}

function rowsFor(clients: ClientSpec[], byClient: Map<ClientId, ClientReport[]>, reps: number): Row[] {
  const rows = clients.map((spec) => summarize(spec, byClient.get(spec.id) ?? [], reps));
  const rateOf = (id: ClientId) => rows.find((row) => row.id === id)?.rate;
  const ratio = (rate: number | undefined, base: number | undefined) => (rate && base ? rate / base : undefined);
  for (const row of rows) {
    row.vsBunConnect = ratio(row.rate, rateOf("bun"));
    row.vsCRef = ratio(row.rate, rateOf("c"));
  }
  return rows;
}

// ---------------------------------------------------------------- output

interface Printer {
  line: (text?: string) => void;
  bold: (text: string) => string;
  warn: (text: string) => string;
}

function makePrinter(opts: Options): Printer {
  const color = process.stdout.isTTY === true && !opts.json;
  const paint = (code: number) => (text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  // In --json mode the one JSON object is the only thing on stdout.
  return { line: opts.json ? () => {} : (text = "") => console.log(text), bold: paint(1), warn: paint(33) };
}

const dash = "-";
const plural = (n: number, word: string) => `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;
const fixed = (digits: number) => (n: number | undefined) => (n === undefined ? dash : n.toFixed(digits));
const fmtMs = fixed(2);
const fmtUs = fixed(0);
const fmtRate = (n: number | undefined) => (n === undefined ? "failed" : Math.round(n).toLocaleString("en-US"));
const fmtSpread = (n: number | undefined) => (n === undefined ? dash : `±${n.toFixed(1)}%`);
const fmtRatio = (n: number | undefined) => (n === undefined ? dash : `${n.toFixed(2)}×`);
const fmtErrors = (errors: Record<string, number>) =>
  Object.entries(errors).map(([code, n]) => `${code}:${n}`).join(", ") || dash;

/** Plain-text table: first and `leftAligned` columns padded right, the rest left. */
function renderTable(header: string[], rows: string[][], leftAligned: number[], p: Printer): void {
  const widths = header.map((h, col) => Math.max(h.length, ...rows.map((row) => row[col]!.length)));
  const format = (cells: string[]) =>
    cells
      .map((cell, col) => (col === 0 || leftAligned.includes(col) ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!)))
      .join("  ")
      .trimEnd();
  p.line(p.bold(`  ${format(header)}`));
  for (const row of rows) p.line(`  ${format(row)}`);
}

function printRateTable(sc: Scenario, rows: Row[], reps: number, p: Printer): void {
  p.line();
  p.line(p.bold(`concurrency ${sc.concurrency} — ${plural(sc.connections, "connection")} × ${plural(reps, "rep")}`));
  renderTable(
    ["client", "connects/s", "±", "× Bun.connect", "× C ref", "p50 ms", "p99 ms", "errors"],
    rows.map((r) => [
      okSuffix(r),
      fmtRate(r.rate),
      fmtSpread(r.spreadPct),
      fmtRatio(r.vsBunConnect),
      fmtRatio(r.vsCRef),
      fmtMs(r.p50Ms),
      fmtMs(r.p99Ms),
      fmtErrors(r.errors),
    ]),
    [7],
    p,
  );
}

/** The client name, marked when some of its runs failed. */
function okSuffix(r: Row): string {
  return r.ok === r.runs ? r.client : `${r.client} (${r.ok}/${r.runs} ok)`;
}

function printFailures(failures: Failure[], p: Printer): void {
  for (const f of failures) {
    p.line(p.warn(`  ! ${f.client} failed (concurrency ${f.concurrency}, rep ${f.rep}): ${f.reason}`));
    for (const line of f.stderrTail.split("\n").filter(Boolean)) p.line(p.warn(`      ${line}`));
  }
}

// ---------------------------------------------------------------- environment

interface Environment {
  kernel: string;
  bun: string;
  liburing: string;
  cpus: number;
  cpuModel: string;
  node: string;
}

async function firstLine(cmd: string[]): Promise<string | undefined> {
  if (!Bun.which(cmd[0]!)) return undefined;
  const f = await run(cmd, 10_000);
  return failureReason(f) ? undefined : f.stdout.trim().split("\n")[0] || undefined;
}

async function describeEnvironment(): Promise<Environment> {
  const cpuinfo = await Bun.file("/proc/cpuinfo").text().catch(() => "");
  return {
    kernel: os.release(),
    bun: Bun.version,
    liburing: (await firstLine(["dpkg-query", "-W", "-f=${Version}", "liburing-dev"])) ?? "unknown",
    cpus: os.cpus().length,
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    node: (await firstLine(["node", "--version"])) ?? "not found",
  };
}

function printHeader(env: Environment, opts: Options, port: number, clients: ClientSpec[], notes: string[], p: Printer): void {
  p.line(p.bold("uring-connect connect-rate benchmark"));
  p.line(`  kernel    ${env.kernel}`);
  p.line(`  bun       ${env.bun}`);
  p.line(`  liburing  ${env.liburing}`);
  p.line(`  cpu       ${env.cpus} × ${env.cpuModel}`);
  p.line(`  node      ${env.node}`);
  p.line(`  clients   ${clients.map((c) => c.label).join(", ")}`);
  p.line(`  runs      ${plural(opts.connections, "connection")} × ${plural(opts.reps, "rep")} at concurrency ${opts.concurrency.join(", ")}; server ${HOST}:${port}`);
  for (const note of notes) p.line(p.warn(`  note: ${note.replaceAll("\n", "\n        ")}`));
}

// ---------------------------------------------------------------- extra measurements

type Scripts = Record<"importTime" | "empty" | "idleCpu" | "exitsIdle", string>;

/** Small scripts, each run in a fresh bun process; returns their paths in `dir`. */
function writeScripts(dir: string): Scripts {
  const src = JSON.stringify(path.join(ROOT, "src/index.ts"));
  const bodies: Scripts = {
    // Each process compiles the shim again: bun's cc() keeps no cache between runs.
    importTime: `
      const t0 = performance.now();
      const { Connector } = await import(${src});
      const t1 = performance.now();
      const c = new Connector();
      c.close();
      const t2 = performance.now();
      console.log(JSON.stringify({ importMs: t1 - t0, connectorMs: t2 - t1, totalMs: t2 - t0 }));`,
    // The baseline for process startup. Not \`bun -e ''\`: an empty -e prints
    // bun's help and exits without ever starting the JavaScript runtime.
    empty: `// intentionally empty`,
    // With "baseline" instead of host and port: the same idle wait without a
    // Connector, to show what an idle bun process costs on its own.
    idleCpu: `
      import { closeSync } from "node:fs";
      let c;
      if (process.argv[2] !== "baseline") {
        const { Connector } = await import(${src});
        c = new Connector();
        closeSync(await c.connectFd({ host: process.argv[2], port: Number(process.argv[3]) }));
      }
      await new Promise((r) => setTimeout(r, 100)); // let the connect's own work settle first
      const before = process.cpuUsage();
      const t0 = performance.now();
      setTimeout(() => {
        const used = process.cpuUsage(before);
        console.log(JSON.stringify({ userUs: used.user, systemUs: used.system, windowMs: performance.now() - t0 }));
        c?.close();
      }, ${IDLE_CPU_WINDOW_MS});`,
    // Nothing closes the Connector: the process must still exit once idle.
    exitsIdle: `
      import { closeSync } from "node:fs";
      const { Connector } = await import(${src});
      const c = new Connector();
      closeSync(await c.connectFd({ host: process.argv[2], port: Number(process.argv[3]) }));
      console.log("connected");`,
  };
  const paths = { ...bodies };
  for (const name of Object.keys(bodies) as (keyof Scripts)[]) {
    paths[name] = path.join(dir, `${name}.mjs`);
    writeFileSync(paths[name], `${bodies[name].trim()}\n`);
  }
  return paths;
}

interface Startup {
  runs: number;
  importMs: number;
  connectorMs: number;
  totalMs: number;
  processWallMs: number;
  bareBunWallMs: number;
  failures: string[];
}

/** Median import + compile time over fresh processes, next to a bare bun process's startup. */
async function measureStartup(scripts: Scripts): Promise<Startup> {
  const inner: { importMs: number; connectorMs: number; totalMs: number }[] = [];
  const walls: number[] = [];
  const bare: number[] = [];
  const failures: string[] = [];
  for (let i = 0; i < STARTUP_RUNS; i++) {
    const f = await run([BUN, scripts.importTime], 60_000);
    const result = lastJsonLine(f.stdout) as (typeof inner)[number] | undefined;
    const reason = failureReason(f) ?? (typeof result?.totalMs === "number" ? undefined : "no JSON result");
    if (reason) failures.push(`${reason}: ${tail(f.stderr, 3)}`);
    else {
      inner.push(result!);
      walls.push(f.wallMs);
    }
    bare.push((await run([BUN, scripts.empty], 60_000)).wallMs);
  }
  const med = (pick: (x: (typeof inner)[number]) => number) => (inner.length ? median(inner.map(pick)) : NaN);
  return {
    runs: STARTUP_RUNS,
    importMs: med((x) => x.importMs),
    connectorMs: med((x) => x.connectorMs),
    totalMs: med((x) => x.totalMs),
    processWallMs: walls.length ? median(walls) : NaN,
    bareBunWallMs: median(bare),
    failures,
  };
}

interface IdleCpu {
  cpuMs: number | undefined;
  windowMs: number | undefined;
  error: string | undefined;
}

interface Idle {
  connector: IdleCpu;
  baseline: IdleCpu;
  exitsWhenIdle: "yes" | "no" | "error";
  exitMs: number;
  exitError: string | undefined;
}

/** CPU (user + system) a process used over its idle window, as it reports itself. */
async function idleCpu(script: string, args: string[]): Promise<IdleCpu> {
  const f = await run([BUN, script, ...args], IDLE_CPU_WINDOW_MS + 30_000);
  const usage = lastJsonLine(f.stdout) as { userUs: number; systemUs: number; windowMs: number } | undefined;
  const error = failureReason(f) ?? (typeof usage?.userUs === "number" ? undefined : "no JSON result");
  if (error) return { cpuMs: undefined, windowMs: undefined, error: `${error}: ${tail(f.stderr, 3)}` };
  return { cpuMs: (usage!.userUs + usage!.systemUs) / 1000, windowMs: usage!.windowMs, error: undefined };
}

async function measureIdle(scripts: Scripts, port: number): Promise<Idle> {
  const connector = await idleCpu(scripts.idleCpu, [HOST, String(port)]);
  const baseline = await idleCpu(scripts.idleCpu, ["baseline"]);
  const exits = await run([BUN, scripts.exitsIdle, HOST, String(port)], EXIT_CHECK_TIMEOUT_MS);
  const connected = exits.stdout.includes("connected");
  const exitsWhenIdle = exits.timedOut ? (connected ? "no" : "error") : exits.code === 0 && connected ? "yes" : "error";
  return {
    connector,
    baseline,
    exitsWhenIdle,
    exitMs: exits.wallMs,
    exitError: exitsWhenIdle === "error" ? `${failureReason(exits) ?? "did not connect"}: ${tail(exits.stderr, 3)}` : undefined,
  };
}

function printLatency(sc: Scenario, rows: Row[], reps: number, p: Printer): void {
  p.line();
  p.line(p.bold(`single-connect latency — concurrency 1, ${plural(sc.connections, "connection")} × ${plural(reps, "rep")}`));
  renderTable(
    ["client", "p50 µs", "p99 µs", "connects/s", "errors"],
    rows.map((r) => [okSuffix(r), fmtUs(r.p50Ms && r.p50Ms * 1000), fmtUs(r.p99Ms && r.p99Ms * 1000), fmtRate(r.rate), fmtErrors(r.errors)]),
    [4],
    p,
  );
}

function printStartup(s: Startup, p: Printer): void {
  p.line();
  p.line(p.bold(`import + compile — median of ${s.runs} fresh bun processes`));
  p.line(`  import("src/index.ts")          ${fmtMs(s.importMs)} ms`);
  p.line(`  new Connector() + close()       ${fmtMs(s.connectorMs)} ms  (cc() compiles native/shim.c every process)`);
  p.line(`  total, in-process               ${fmtMs(s.totalMs)} ms`);
  p.line(`  whole process, wall             ${fmtMs(s.processWallMs)} ms`);
  p.line(`  bare bun (empty script), wall   ${fmtMs(s.bareBunWallMs)} ms`);
  for (const f of s.failures) p.line(p.warn(`  ! run failed: ${f}`));
}

function printIdle(idle: Idle, p: Printer): void {
  p.line();
  p.line(p.bold("idle"));
  const cpu = (label: string, m: IdleCpu) =>
    p.line(m.error ? p.warn(`  ! ${label}: measurement failed: ${m.error}`) : `  ${label}  ${fmtMs(m.cpuMs)} ms CPU over ${fmtMs((m.windowMs ?? 0) / 1000)} s`);
  cpu("open Connector, idle         ", idle.connector);
  cpu("bare bun process, idle       ", idle.baseline);
  const exit = idle.exitsWhenIdle === "yes" ? `yes (whole process ${Math.round(idle.exitMs)} ms)` : idle.exitsWhenIdle;
  p.line(`  exits when idle (Connector never closed): ${exit}`);
  if (idle.exitError) p.line(p.warn(`  ! ${idle.exitError}`));
}

function summaryLine(rates: { concurrency: number; rows: Row[] }[]): { text: string; vsBunConnect?: number; vsCRef?: number } {
  const uring = rates.find((t) => t.concurrency === SUMMARY_CONCURRENCY)?.rows.find((r) => r.id === "uring");
  if (!uring) return { text: `summary: uring-connect was not measured at concurrency ${SUMMARY_CONCURRENCY}` };
  const versus = (ratio: number | undefined, name: string) => (ratio === undefined ? `${name}: not measured` : `${fmtRatio(ratio)} ${name}`);
  return {
    text: `summary: at concurrency ${SUMMARY_CONCURRENCY}, uring-connect is ${versus(uring.vsBunConnect, "Bun.connect")} and ${versus(uring.vsCRef, "C ref")}`,
    vsBunConnect: uring.vsBunConnect,
    vsCRef: uring.vsCRef,
  };
}

// ---------------------------------------------------------------- main

let tmpDir: string | undefined;

function cleanup(): void {
  killAll();
  if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
  tmpDir = undefined;
}

function makeProgress(): (message: string) => void {
  // Progress goes to stderr, and only to a terminal: logs and --json stay clean.
  if (!process.stderr.isTTY) return () => {};
  return (message) => process.stderr.write(`\r\x1b[K${message}`);
}

async function main(): Promise<void> {
  const opts = parseOptions(Bun.argv.slice(2));
  const p = makePrinter(opts);
  const progress = makeProgress();
  const notes: string[] = [];
  const env = await describeEnvironment();
  const clients = await prepareClients(opts, notes);
  const server = await BenchServer.start();
  const failures: Failure[] = [];
  const runner: Runner = { server, clients, failures, notes: [], progress };
  try {
    printHeader(env, opts, server.port, clients, notes, p);

    const scenarios = opts.concurrency.map((concurrency) => ({ concurrency, connections: opts.connections }));
    const rateResults = await runSeries(runner, "rates", scenarios, opts.reps);
    const rates = scenarios.map((sc, i) => ({ ...sc, rows: rowsFor(clients, rateResults.get(i)!, opts.reps) }));
    progress("");
    for (const t of rates) {
      printRateTable(t, t.rows, opts.reps, p);
      printFailures(failures.filter((f) => f.concurrency === t.concurrency && f.connections === t.connections), p);
    }

    const latencyScenario = { concurrency: 1, connections: opts.latencyConnections };
    const failedBefore = failures.length;
    const latencyResults = await runSeries(runner, "latency", [latencyScenario], opts.reps);
    const latency = { ...latencyScenario, rows: rowsFor(clients, latencyResults.get(0)!, opts.reps) };
    progress("");
    printLatency(latencyScenario, latency.rows, opts.reps, p);
    printFailures(failures.slice(failedBefore), p);

    tmpDir = mkdtempSync(path.join(os.tmpdir(), "uring-connect-bench-"));
    const scripts = writeScripts(tmpDir);
    progress("import + compile time");
    const startup = await measureStartup(scripts);
    progress("");
    printStartup(startup, p);
    progress("idle CPU");
    await server.waitIdle();
    const idle = await measureIdle(scripts, server.port);
    progress("");
    printIdle(idle, p);

    const serverStats = await server.stop();
    if (serverStats?.shed) runner.notes.push(`the server shed ${serverStats.shed} connections (out of fds); rates may be skewed`);
    if (runner.notes.length) {
      p.line();
      for (const note of runner.notes) p.line(p.warn(`note: ${note.replaceAll("\n", "\n      ")}`));
    }
    const summary = summaryLine(rates);
    p.line();
    p.line(p.bold(summary.text));

    if (opts.json) {
      console.log(JSON.stringify({ environment: env, options: opts, notes: [...notes, ...runner.notes], rates, latency, startup, idle, failures, server: serverStats, summary }));
    }
  } finally {
    await server.stop().catch(() => undefined);
    cleanup();
  }
}

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  process.on(signal, () => {
    cleanup();
    process.stderr.write(`\n${signal}: stopped, bench processes killed\n`);
    process.exit(code);
  });
}

main().catch((error: unknown) => {
  cleanup();
  if (error instanceof UsageError) console.error(`${error.message}\n${USAGE}`);
  else console.error(error instanceof FatalError ? error.message : error);
  process.exit(error instanceof UsageError ? 2 : 1);
});
