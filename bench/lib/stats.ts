/** From client reports to table rows: medians across reps, spread, ratios to Bun.connect and the best C client, kernel counters. */
import type { ClientSpec } from "./clients.ts";
import type { RunReport } from "./series.ts";

export interface Row {
  client: string;
  id: string;
  /** Successful runs out of attempted ones. */
  ok: number;
  runs: number;
  rate: number | undefined;
  /** Half the max-min spread of the rate across reps, as % of the median. */
  spreadPct: number | undefined;
  vsBunConnect: number | undefined;
  vsCBest: number | undefined;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  errors: Record<string, number>;
  /** TcpExt ListenOverflows and Tcp RetransSegs growth summed over this client's runs (undefined: not readable). */
  listenOverflows: number | undefined;
  retransSegs: number | undefined;
  /** Connections the server shed (out of fds) during this client's runs: it fell behind. */
  serverShed: number;
  rates: number[];
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The sum of a kernel counter over runs, or undefined when any run could not read it. */
function counterSum(reports: RunReport[], pick: (k: NonNullable<RunReport["kernel"]>) => number): number | undefined {
  let sum = 0;
  for (const r of reports) {
    if (!r.kernel) return undefined;
    sum += pick(r.kernel);
  }
  return sum;
}

function summarize(spec: ClientSpec, reports: RunReport[], runs: number): Row {
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
    vsCBest: undefined,
    p50Ms: has ? median(reports.map((r) => r.p50Us)) / 1000 : undefined,
    p99Ms: has ? median(reports.map((r) => r.p99Us)) / 1000 : undefined,
    errors,
    listenOverflows: has ? counterSum(reports, (k) => k.listenOverflows) : undefined,
    retransSegs: has ? counterSum(reports, (k) => k.retransSegs) : undefined,
    serverShed: reports.reduce((n, r) => n + (r.serverShed ?? 0), 0),
    rates,
  };
}

export function rowsFor(clients: ClientSpec[], byClient: Map<string, RunReport[]>, reps: number): Row[] {
  const rows = clients.map((spec) => summarize(spec, byClient.get(spec.id) ?? [], reps));
  const rateOf = (id: string) => rows.find((row) => row.id === id)?.rate;
  const ratio = (rate: number | undefined, base: number | undefined) => (rate && base ? rate / base : undefined);
  for (const row of rows) {
    row.vsBunConnect = ratio(row.rate, rateOf("bun"));
    row.vsCBest = ratio(row.rate, rateOf("c-best"));
  }
  return rows;
}
