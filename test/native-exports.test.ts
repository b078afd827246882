/**
 * Every export of native/ring.c and native/sys.c, tested from C
 * (test/native/ring-test.c, sys-test.c; liburing's test/ is the model):
 * built with gcc, under ASan, UBSan and LeakSanitizer when gcc has them,
 * each C test run in a process of its own so one broken promise is one
 * failure naming its line.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runProcess } from "../tools/process.ts";

const root = join(import.meta.dir, "..");
const gcc = Bun.which("gcc");
const dir = mkdtempSync(join(tmpdir(), "uc-native-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** -fsanitize flags when gcc ships the runtimes (a standalone program needs no preload). */
async function sanitizerFlags(): Promise<string[]> {
  const asan = (await runProcess(["gcc", "-print-file-name=libasan.so"])).stdout.trim();
  return existsSync(asan) ? ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"] : [];
}

/** Build test/native/<name>.c with test/fixtures/sockets.c; the binary's path. */
async function build(name: string, libraries: string[]): Promise<string> {
  const out = join(dir, name);
  const { code, stderr } = await runProcess(
    ["gcc", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-g", "-O1", "-fno-omit-frame-pointer", ...(await sanitizerFlags()),
      "-o", out, join(root, "test/native", `${name}.c`), join(root, "test/fixtures/sockets.c"), ...libraries],
  );
  if (code !== 0) throw new Error(`gcc could not build test/native/${name}.c:\n${stderr}`);
  return out;
}

// Both built at once (gcc with the sanitizers is the slow part).
const programs = gcc
  ? await Promise.all([
      build("sys-test", []).then((bin) => ({ name: "sys-test", bin })),
      build("ring-test", ["-luring", "-lpthread"]).then((bin) => ({ name: "ring-test", bin })),
    ])
  : [];

if (!gcc) test.skip("C tests of native/ (skipped: gcc not found)", () => {});

for (const { name, bin } of programs) {
  const cases = (await runProcess([bin, "--list"])).stdout.trim().split("\n");
  describe(name, () => {
    test.each(cases)("%s", async (testName) => {
      const run = await runProcess([bin, testName]);
      expect({ code: run.code, stdout: run.stdout, stderr: run.stderr }).toEqual({
        code: 0,
        stdout: `ok ${testName}\n`,
        stderr: "",
      });
    });
  });
}
