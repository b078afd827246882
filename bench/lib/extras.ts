/**
 * Measurements outside the rate tables, each in fresh bun processes:
 * import + compile time, and what an open Connector costs while idle
 * (CPU, and whether the process still exits on its own).
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { BUN, ROOT } from "./paths.ts";
import { failureReason, lastJsonLine, run, tail } from "./process.ts";
import { HOST } from "./server.ts";
import { median } from "./stats.ts";

const IDLE_CPU_WINDOW_MS = 3_000;
const EXIT_CHECK_TIMEOUT_MS = 5_000;
const STARTUP_RUNS = 5;

export type Scripts = Record<"importTime" | "empty" | "idleCpu" | "exitsIdle", string>;

/** Small scripts, each run in a fresh bun process; returns their paths in `dir`. */
export function writeScripts(dir: string): Scripts {
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

export interface Startup {
  runs: number;
  importMs: number;
  connectorMs: number;
  totalMs: number;
  processWallMs: number;
  bareBunWallMs: number;
  failures: string[];
}

/** Median import + compile time over fresh processes, next to a bare bun process's startup. */
export async function measureStartup(scripts: Scripts): Promise<Startup> {
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

export interface IdleCpu {
  cpuMs: number | undefined;
  windowMs: number | undefined;
  error: string | undefined;
}

export interface Idle {
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

export async function measureIdle(scripts: Scripts, port: number): Promise<Idle> {
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
