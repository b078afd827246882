/** Interleaved runs of every client over a list of scenarios, summarized into one table of rows per scenario. */
import { counterGrowth, readTcpCounters, type TcpCounters } from "../../src/loadgen/kernel-counters.ts";
import type { ClientReport } from "../clients/common.mjs";
import { runClient, type ClientSpec, type Scenario } from "./clients.ts";
import { IDLE_WAIT_MS, type BenchServer } from "./server.ts";
import { rowsFor, type Row } from "./stats.ts";

/**
 * A client's report, with what the kernel's TCP counters grew by during its
 * run (undefined: /proc/net unreadable) and how many connections the server
 * shed (accepted and dropped at once, out of fds) meanwhile.
 */
export type RunReport = ClientReport & { kernel: TcpCounters | undefined; serverShed: number | undefined };

export interface Failure {
  client: string;
  concurrency: number;
  connections: number;
  rep: number;
  reason: string;
  stderrTail: string;
}

/** Reports per scenario index, then per client id. */
export type Results = Map<number, Map<string, RunReport[]>>;

export interface Runner {
  server: BenchServer;
  clients: ClientSpec[];
  failures: Failure[];
  notes: string[];
  progress: (message: string) => void;
}

/** One scenario's outcome: what was run, and a row per client. */
export interface Measured extends Scenario {
  rows: Row[];
}

/** `items` rotated left by `by`: the order of a rep, so a different client goes first each rep. */
export function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** One run of one client, with the kernel's counters read around it. */
async function measuredRun(spec: ClientSpec, server: BenchServer, sc: Scenario): Promise<RunReport | { reason: string; stderrTail: string }> {
  const shedBefore = (await server.stats())?.shed;
  const before = readTcpCounters();
  const outcome = await runClient(spec, server.port, sc);
  const after = readTcpCounters();
  const shedAfter = (await server.stats())?.shed;
  if ("reason" in outcome) return outcome;
  return {
    ...outcome,
    kernel: before && after ? counterGrowth(before, after) : undefined,
    serverShed: shedBefore !== undefined && shedAfter !== undefined ? shedAfter - shedBefore : undefined,
  };
}

/** Run every client once per scenario per rep, interleaved, rotating who goes first each rep. */
export async function runSeries(r: Runner, title: string, scenarios: Scenario[], reps: number): Promise<Results> {
  const results: Results = new Map(scenarios.map((_, i) => [i, new Map(r.clients.map((c) => [c.id, [] as RunReport[]]))]));
  for (let rep = 0; rep < reps; rep++) {
    const order = rotate(r.clients, rep);
    for (const [i, sc] of scenarios.entries()) {
      for (const spec of order) {
        r.progress(`${title}: rep ${rep + 1}/${reps}, concurrency ${sc.concurrency}, ${spec.label}`);
        // One client's half-closed leftovers must not load the next client's run.
        const open = await r.server.waitIdle();
        if (open !== 0) r.notes.push(`server still had ${open < 0 ? "unknown" : open} open connections after ${IDLE_WAIT_MS / 1000} s before ${spec.label} (${title}, concurrency ${sc.concurrency}, rep ${rep + 1})`);
        const outcome = await measuredRun(spec, r.server, sc);
        if ("reason" in outcome) r.failures.push({ client: spec.label, ...sc, rep: rep + 1, ...outcome });
        else results.get(i)!.get(spec.id)!.push(outcome);
      }
    }
  }
  return results;
}

/** `runSeries`, then each scenario's reports summarized into rows; failed runs land in `r.failures`. */
export async function measureScenarios(r: Runner, title: string, scenarios: Scenario[], reps: number): Promise<Measured[]> {
  const results = await runSeries(r, title, scenarios, reps);
  return scenarios.map((sc, i) => ({ ...sc, rows: rowsFor(r.clients, results.get(i)!, reps) }));
}
