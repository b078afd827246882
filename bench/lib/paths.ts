/** Where the benchmark finds the repo, its C sources and binaries, and the bun running it. */
import path from "node:path";

export const ROOT = path.resolve(import.meta.dir, "../..");
export const BENCH = path.join(ROOT, "bench");
export const BIN = path.join(BENCH, "bin");
export const BUN = process.execPath;
