/**
 * The connector suite again, on native/ring.c (with sys.c) built by gcc with
 * -fsanitize=address,undefined and loaded through bun:ffi's dlopen
 * (test/native/sanitize.sh): any sanitizer report fails it.
 */
import { expect, test } from "bun:test";
import { fileURLToPath } from "node:url";
import { runProcess } from "../tools/process.ts";

const script = fileURLToPath(new URL("./native/sanitize.sh", import.meta.url));
const root = fileURLToPath(new URL("..", import.meta.url));
const noGcc = Bun.which("gcc") === null;
// The script runs only connector/adopt/backend tests; this guard is for a run started
// some other way from inside it, which must not start the script again.
const nested = process.env.URING_CONNECT_SANITIZE_RUN === "1";

test.skipIf(noGcc || nested)(
  noGcc
    ? "connector suite under ASan + UBSan (skipped: gcc not found)"
    : "connector suite under ASan + UBSan: passes with no sanitizer report",
  async () => {
    const { stdout, stderr, code } = await runProcess(["bash", script], { cwd: root, env: { BUN: process.execPath }, timeoutMs: 110_000 });
    const output = stdout + stderr;
    if (code !== 0) console.error(output);
    expect(code).toBe(0);
    expect(output).toMatch(/^ *[1-9]\d* pass$/m);
    expect(output).toMatch(/^ *0 fail$/m);
    expect(output).toContain("sanitize: OK: no sanitizer report");
  },
  120_000,
);
