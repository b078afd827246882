/** The client processes: which ones can run here, and one run of one client against the server. */
import path from "node:path";
import type { ClientReport } from "../clients/common.mjs";
import { ensureBuilt, REF } from "./build.ts";
import { C_BEST, cVariantArgs } from "./c-variants.ts";
import { FatalError } from "./errors.ts";
import type { ClientId, Options } from "./options.ts";
import { BENCH, BUN } from "./paths.ts";
import { failureReason, lastJsonLine, run, tail } from "./process.ts";
import { HOST } from "./server.ts";

export interface ClientSpec {
  /** A ClientId for the rate clients; other sections name their own. */
  id: string;
  label: string;
  cmd: string[];
}

export interface Scenario {
  concurrency: number;
  connections: number;
}

/** The selected clients that can run here; what was skipped goes to `notes`. */
export async function prepareClients(opts: Options, notes: string[]): Promise<ClientSpec[]> {
  const gcc = Bun.which("gcc");

  const node = Bun.which("node");
  const all: Record<ClientId, () => Promise<ClientSpec | string>> = {
    uring: async () => ({ id: "uring", label: "uring connectFd", cmd: [BUN, path.join(BENCH, "clients/uring.ts")] }),
    "uring-socket": async () => ({ id: "uring-socket", label: "uring connect()", cmd: [BUN, path.join(BENCH, "clients/uring-socket.ts")] }),
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
    // The best combination of the C reference's techniques on this machine (c-variants.ts).
    "c-best": async () => {
      const problem = await ensureBuilt(REF, gcc);
      return problem
        ? `C reference (best) skipped: ${problem}`
        : { id: "c-best", label: "C best", cmd: [REF.out, ...cVariantArgs(C_BEST)] };
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

function isClientReport(value: unknown): value is ClientReport {
  const r = value as Partial<ClientReport> | undefined;
  return typeof r?.rate === "number" && typeof r.p50Us === "number" && typeof r.p99Us === "number" && typeof r.errors === "object";
}

/** One client run: its report, or why it failed and what it said on stderr. */
export async function runClient(spec: ClientSpec, port: number, sc: Scenario): Promise<ClientReport | { reason: string; stderrTail: string }> {
  const args = ["--host", HOST, "--port", String(port), "--concurrency", String(sc.concurrency), "--connections", String(sc.connections)];
  const f = await run([...spec.cmd, ...args]);
  const report = lastJsonLine(f.stdout);
  const reason = failureReason(f) ?? (isClientReport(report) ? undefined : "no JSON result on stdout");
  return reason ? { reason, stderrTail: tail(f.stderr) } : (report as ClientReport);
}
