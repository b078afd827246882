/**
 * Event-loop responsiveness during a connect storm (bench/clients/storm.ts):
 * the gaps between a 1 ms timer's firings and, for uring-connect, the
 * longest single native call, per workload, interleaved over reps.
 */
import path from "node:path";
import type { NativeCallTimes } from "../clients/native-timing.ts";
import type { GapSummary } from "../clients/timer-gaps.ts";
import type { ClientSpec, Scenario } from "./clients.ts";
import { BENCH, BUN } from "./paths.ts";
import { runSeries, type RunReport, type Runner } from "./series.ts";
import { median, rowsFor, type Row } from "./stats.ts";

type StormReport = RunReport & { gaps: GapSummary; native?: NativeCallTimes };

export interface StormRow extends Row {
  /** Medians over reps of each run's gap p50 and p99; the longest gap of any run. */
  gapP50Ms: number | undefined;
  gapP99Ms: number | undefined;
  gapMaxMs: number | undefined;
  /** The longest single native call of any run, and which symbol it was (uring-connect only). */
  nativeMaxMs: number | undefined;
  nativeMaxSymbol: string | undefined;
}

export interface Storm extends Scenario {
  rows: StormRow[];
}

/** The storm's workloads; "bun" is the id the ratio column divides by. */
export function stormSpecs(): ClientSpec[] {
  const storm = path.join(BENCH, "clients/storm.ts");
  return [
    { id: "uring", label: "uring connectFd", cmd: [BUN, storm, "--workload", "fd"] },
    { id: "uring-socket", label: "uring connect()", cmd: [BUN, storm, "--workload", "socket"] },
    { id: "bun", label: "Bun.connect", cmd: [BUN, storm, "--workload", "bun"] },
  ];
}

const worst = (values: number[]) => (values.length ? Math.max(...values) : undefined);
const mid = (values: number[]) => (values.length ? median(values) : undefined);

export async function measureStorm(r: Runner, sc: Scenario, reps: number): Promise<Storm> {
  const clients = stormSpecs();
  const results = (await runSeries({ ...r, clients }, "storm", [sc], reps)).get(0)!;
  const rows = rowsFor(clients, results, reps).map((row): StormRow => {
    const reports = (results.get(row.id) ?? []) as StormReport[];
    const natives = reports.flatMap((x) => (x.native ? [x.native] : []));
    const longest = natives.reduce<NativeCallTimes | undefined>((a, b) => (a && a.maxMs >= b.maxMs ? a : b), undefined);
    return {
      ...row,
      gapP50Ms: mid(reports.map((x) => x.gaps.p50Ms)),
      gapP99Ms: mid(reports.map((x) => x.gaps.p99Ms)),
      gapMaxMs: worst(reports.map((x) => x.gaps.maxMs)),
      nativeMaxMs: longest?.maxMs,
      nativeMaxSymbol: longest?.maxSymbol,
    };
  });
  return { ...sc, rows };
}
