/** Interleaved runs of every client over a list of scenarios, summarized into one table of rows per scenario. */
import type { ClientReport } from "../clients/common.mjs";
import { runClient, type ClientSpec, type Scenario } from "./clients.ts";
import type { ClientId } from "./options.ts";
import { IDLE_WAIT_MS, type BenchServer } from "./server.ts";
import { rowsFor, type Row } from "./stats.ts";

export interface Failure {
  client: string;
  concurrency: number;
  connections: number;
  rep: number;
  reason: string;
  stderrTail: string;
}

/** Reports per scenario index, then per client. */
type Results = Map<number, Map<ClientId, ClientReport[]>>;

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

/** `runSeries`, then each scenario's reports summarized into rows; failed runs land in `r.failures`. */
export async function measureScenarios(r: Runner, title: string, scenarios: Scenario[], reps: number): Promise<Measured[]> {
  const results = await runSeries(r, title, scenarios, reps);
  return scenarios.map((sc, i) => ({ ...sc, rows: rowsFor(r.clients, results.get(i)!, reps) }));
}
