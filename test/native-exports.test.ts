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

const root = join(import.meta.dir, "..");
const gcc = Bun.which("gcc");
const dir = mkdtempSync(join(tmpdir(), "uc-native-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** -fsanitize flags when gcc ships the runtimes (a standalone program needs no preload). */
function sanitizerFlags(): string[] {
  const asan = Bun.spawnSync(["gcc", "-print-file-name=libasan.so"]).stdout.toString().trim();
  return existsSync(asan) ? ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"] : [];
}

/** Build test/native/<name>.c with test/fixtures/sockets.c; the binary's path. */
function build(name: string, libraries: string[]): string {
  const out = join(dir, name);
  const { exitCode, stderr } = Bun.spawnSync(
    ["gcc", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-g", "-O1", "-fno-omit-frame-pointer", ...sanitizerFlags(),
      "-o", out, join(root, "test/native", `${name}.c`), join(root, "test/fixtures/sockets.c"), ...libraries],
  );
  if (exitCode !== 0) throw new Error(`gcc could not build test/native/${name}.c:\n${stderr}`);
  return out;
}

const programs = gcc
  ? [
      { name: "sys-test", bin: build("sys-test", []) },
      { name: "ring-test", bin: build("ring-test", ["-luring", "-lpthread"]) },
    ]
  : [];

if (!gcc) test.skip("C tests of native/ (skipped: gcc not found)", () => {});

for (const { name, bin } of programs) {
  const cases = Bun.spawnSync([bin, "--list"]).stdout.toString().trim().split("\n");
  describe(name, () => {
    test.each(cases)("%s", (testName) => {
      // The timeout is a hang guard only.
      const run = Bun.spawnSync([bin, testName], { timeout: 60_000 });
      expect({ code: run.exitCode, stdout: run.stdout.toString(), stderr: run.stderr.toString() }).toEqual({
        code: 0,
        stdout: `ok ${testName}\n`,
        stderr: "",
      });
    });
  });
}
