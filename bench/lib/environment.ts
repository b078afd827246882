/** The machine and toolchain the numbers were measured on, for the header and the JSON. */
import os from "node:os";
import { failureReason, run } from "./process.ts";

export interface Environment {
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

export async function describeEnvironment(): Promise<Environment> {
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
