/**
 * Without liburing, for real: a child in a mount namespace of its own where
 * liburing's header is missing, unusable, or where no C header exists at all
 * (test/fixtures/hide-liburing.ts). The error must say what failed and what
 * to install; the Bun fallback, which needs no liburing, still starts.
 */
import { expect, test } from "bun:test";
import { runFixture } from "./harness.ts";
import { canUnshare, withoutLiburing, type LiburingHidden } from "./fixtures/hide-liburing.ts";

/** What test/fixtures/native-error.ts reports. */
interface NativeErrorReport {
  created: boolean;
  native: boolean;
  reason: string;
  message: string;
  fallback: { backend?: string; reason?: string; error?: string };
}

async function report(how: LiburingHidden): Promise<NativeErrorReport> {
  await using namespace = withoutLiburing(how);
  const { stdout, stderr, code } = await runFixture("native-error.ts", { prefix: namespace.prefix });
  expect(stderr).toBe("");
  expect(code).toBe(0);
  return JSON.parse(stdout);
}

const INSTALL_LIBURING =
  "install liburing's development files: Debian/Ubuntu `apt-get install liburing-dev`, " +
  "Fedora `dnf install liburing-devel`, Arch `pacman -S liburing`, Alpine `apk add liburing-dev`";

test.skipIf(!canUnshare)("liburing.h missing: says to install liburing's development files; the fallback starts", async () => {
  const r = await report("missing");
  expect(r.created).toBe(false);
  expect(r.native).toBe(true);
  expect(r.reason).toBe("liburing");
  expect(r.message).toBe(`liburing.h not found: ${INSTALL_LIBURING}`);
  expect(r.fallback).toEqual({ backend: "bun", reason: r.message });
});

test.skipIf(!canUnshare)("liburing.h unusable: the compiler's error and what to install; the fallback starts", async () => {
  const r = await report("unusable");
  expect(r.created).toBe(false);
  expect(r.native).toBe(true);
  expect(r.reason).toBe("compile");
  expect(r.message).toMatch(/^could not compile native\/ring\.c against liburing \(.*IORING_OP_CONNECT.*\); install liburing's development files/s);
  expect(r.fallback).toEqual({ backend: "bun", reason: r.message });
});

test.skipIf(!canUnshare)("no C headers at all: liburing.h not found, and the fallback says it needs libc's headers", async () => {
  const r = await report("noHeaders");
  expect(r.created).toBe(false);
  expect(r.reason).toBe("liburing");
  expect(r.message).toBe(`liburing.h not found: ${INSTALL_LIBURING}`);
  expect(r.fallback.error).toMatch(
    /^NativeUnavailableError: could not compile native\/sys\.c \(.*errno\.h.*\); install the C library's development files: Debian\/Ubuntu `apt-get install libc6-dev`/s,
  );
});
