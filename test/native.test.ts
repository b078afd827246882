/**
 * Without liburing, for real: a child in its own mount namespace where
 * liburing's header is hidden (a tmpfs over /usr/include) or empty (/dev/null
 * bound over it). The error must say what failed and what to install.
 */
import { expect, test } from "bun:test";
import { runFixture } from "./harness.ts";

// Mount namespaces need root (CAP_SYS_ADMIN) and util-linux's unshare.
const canUnshare = process.getuid?.() === 0 && Bun.which("unshare") !== null;

async function inNamespace(mounts: string): Promise<{ created: boolean; native: boolean; reason: string; message: string }> {
  const prefix = ["unshare", "--mount", "--propagation", "private", "sh", "-c", `${mounts} && exec "$0" "$@"`];
  const { stdout, stderr, code } = await runFixture("native-error.ts", { prefix });
  expect(stderr).toBe("");
  expect(code).toBe(0);
  return JSON.parse(stdout);
}

test.skipIf(!canUnshare)("liburing.h missing: says to install liburing's development files", async () => {
  const report = await inNamespace("mount -t tmpfs none /usr/include && mount -t tmpfs none /usr/local/include");
  expect(report.created).toBe(false);
  expect(report.native).toBe(true);
  expect(report.reason).toBe("liburing");
  expect(report.message).toBe(
    "liburing.h not found: install liburing's development files: Debian/Ubuntu `apt-get install liburing-dev`, " +
      "Fedora `dnf install liburing-devel`, Arch `pacman -S liburing`, Alpine `apk add liburing-dev`",
  );
});

test.skipIf(!canUnshare)("liburing.h unusable: the compiler's error and what to install", async () => {
  const report = await inNamespace("mount --bind /dev/null /usr/include/liburing.h");
  expect(report.created).toBe(false);
  expect(report.reason).toBe("compile");
  expect(report.message).toMatch(/^could not compile native\/shim\.c against liburing \(.*IORING_OP_CONNECT.*\); install liburing's development files/s);
});
