/** The gcc build of the C reference client, redone only when the source is newer (the server is built by src/loadgen/local-server.ts). */
import { existsSync, mkdirSync, statSync } from "node:fs";
import path from "node:path";
import { BENCH, BIN } from "./paths.ts";
import { failureReason, run, tail } from "./process.ts";

interface CTarget {
  name: string;
  src: string;
  out: string;
  libs: string[];
}

export const REF: CTarget = { name: "ref", src: path.join(BENCH, "ref.c"), out: path.join(BIN, "ref"), libs: ["-luring"] };
const INSTALL_GCC = "install gcc (Debian/Ubuntu: apt-get install gcc)";

function isStale(t: CTarget): boolean {
  return !existsSync(t.out) || statSync(t.out).mtimeMs < statSync(t.src).mtimeMs;
}

/** Build `t` if needed; returns undefined when the binary is ready, else why not. */
export async function ensureBuilt(t: CTarget, gcc: string | null): Promise<string | undefined> {
  if (!isStale(t)) return undefined;
  if (!gcc) return `gcc not found; ${INSTALL_GCC}`;
  mkdirSync(BIN, { recursive: true });
  const f = await run([gcc, "-O2", "-Wall", "-Wextra", "-o", t.out, t.src, ...t.libs]);
  const reason = failureReason(f);
  return reason && `gcc ${reason} building bench/${t.name}.c:\n${tail(f.stderr, 10)}`;
}
