/**
 * Plain `bun test` gets the per-test timeout `npm test` passes
 * (`bun test --timeout 60000`): storms of real connects and child processes
 * take seconds on a loaded machine. Bun 1.4.4 ignores a `timeout` key in
 * bunfig.toml's [test] section (it reads no such key: oven-sh/bun#7789), and
 * setDefaultTimeout() holds only for the file that calls it, so this preload
 * (bunfig.toml) has each test file call it first. A --timeout given on the
 * command line wins.
 */
import { plugin } from "bun";
import { readFileSync } from "node:fs";

const TIMEOUT_MS = 60_000;

const args = readFileSync("/proc/self/cmdline", "utf8").split("\0");
const timeoutGiven = args.some((arg) => arg === "--timeout" || arg.startsWith("--timeout="));

if (!timeoutGiven) {
  plugin({
    name: "uring-connect default test timeout",
    setup(build) {
      build.onLoad({ filter: /\.test\.ts$/ }, ({ path }) => ({
        // On the file's first line, so line numbers in failures stay right.
        contents: `import { setDefaultTimeout as setDefaultTimeout_ } from "bun:test"; setDefaultTimeout_(${TIMEOUT_MS}); ${readFileSync(path, "utf8")}`,
        loader: "ts",
      }));
    },
  });
}
