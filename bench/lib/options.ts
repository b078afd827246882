/** Command-line flags, the usage text and the --quick defaults. */
import { UsageError } from "./errors.ts";

export type ClientId = "uring" | "uring-socket" | "bun" | "node" | "c" | "c-async" | "c-best" | "loadgen" | "loadgen-bun";
const CLIENT_IDS: readonly ClientId[] = ["uring", "uring-socket", "bun", "node", "c", "c-async", "c-best", "loadgen", "loadgen-bun"];
/** Run unless --clients names them: the load generator's own rows. */
const DEFAULT_CLIENTS: readonly ClientId[] = ["uring", "uring-socket", "bun", "node", "c", "c-async", "c-best"];

export interface Options {
  connections: number;
  reps: number;
  concurrency: number[];
  clients: ClientId[];
  /** Connections per run of the concurrency-1 latency measurement. */
  latencyConnections: number;
  /** The storm the event-loop responsiveness is measured during. */
  stormConnections: number;
  stormConcurrency: number;
  /** Storms are short (~1 s each), so their ratios swing more than the rate tables': more reps than --reps. */
  stormReps: number;
  /** Connects the JS heap allocation per connect is measured over (collector off: memory grows with it). */
  allocConnections: number;
  /** Connects the RSS and live-object growth are measured over. */
  retainConnections: number;
  /** Also run every C reference variant (socket creation × ring setup), to see which techniques pay. */
  cVariants: boolean;
  quick: boolean;
  json: boolean;
}

export const USAGE = `usage: bun bench/connect-rate.ts [--connections N] [--reps R] [--concurrency 100,1000,10000]
                                [--clients ${CLIENT_IDS.join(",")}]
                                [--storm-connections N] [--storm-concurrency C] [--storm-reps R] [--alloc-connections N]
                                [--retain-connections N] [--c-variants] [--quick] [--json]`;

/** A flag's value as a positive integer; UsageError naming the flag otherwise. */
export function positiveInt(flag: string, value: string | undefined): number {
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

export function parseOptions(argv: string[]): Options {
  // --quick only changes defaults, so explicit flags win wherever it appears.
  const quick = argv.includes("--quick");
  const opts: Options = {
    connections: quick ? 5000 : 50000,
    reps: quick ? 1 : 3,
    concurrency: quick ? [100, 1000] : [100, 1000, 10000],
    clients: [...DEFAULT_CLIENTS],
    latencyConnections: quick ? 1000 : 2000,
    stormConnections: 20_000,
    stormConcurrency: 2000,
    stormReps: quick ? 1 : 5,
    allocConnections: quick ? 10_000 : 100_000,
    retainConnections: quick ? 20_000 : 1_000_000,
    cVariants: false,
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
      case "--storm-connections":
        opts.stormConnections = positiveInt(flag, argv[++i]);
        break;
      case "--storm-concurrency":
        opts.stormConcurrency = positiveInt(flag, argv[++i]);
        break;
      case "--storm-reps":
        opts.stormReps = positiveInt(flag, argv[++i]);
        break;
      case "--alloc-connections":
        opts.allocConnections = positiveInt(flag, argv[++i]);
        break;
      case "--retain-connections":
        opts.retainConnections = positiveInt(flag, argv[++i]);
        break;
      case "--c-variants":
        opts.cVariants = true;
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
