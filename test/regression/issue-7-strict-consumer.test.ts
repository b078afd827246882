/**
 * Issue 7, item 11: the package ships TypeScript sources, and a user's
 * `skipLibCheck` cannot shield them from our code; so each export carries
 * generated declarations under a "types" condition. Pack the package as npm
 * would, install the tarball into a throwaway project whose tsconfig turns on
 * the strict flags users commonly set, and type-check a file using every
 * public entry point: zero errors, under both module resolutions.
 */
import { expect, test } from "bun:test";
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runProcess } from "../../tools/process.ts";
import { tempDir } from "../harness.ts";

const root = join(import.meta.dir, "..", "..");

const strictTsconfig = (resolution: "bundler" | "nodenext") => ({
  compilerOptions: {
    target: "ESNext",
    module: resolution === "bundler" ? "preserve" : "nodenext",
    moduleResolution: resolution,
    lib: ["ESNext"],
    types: ["bun"],
    strict: true,
    skipLibCheck: true,
    exactOptionalPropertyTypes: true,
    noPropertyAccessFromIndexSignature: true,
    noUnusedLocals: true,
    noUnusedParameters: true,
    noUncheckedIndexedAccess: true,
    noImplicitReturns: true,
    noImplicitOverride: true,
    noFallthroughCasesInSwitch: true,
    isolatedModules: true,
    verbatimModuleSyntax: true,
    noEmit: true,
  },
  include: ["index.ts"],
});

// Uses each public entry point the way the README shows.
const consumerSource = `
import { Connector, ConnectError, connectFd, Pool, type ConnectCallback } from "uring-connect";
import { connectNet, ioredisConnector, pgStream, postgresSocket, mysql2Stream, undiciConnect } from "uring-connect/node";
import { rate } from "uring-connect/loadgen";
import { storm } from "uring-connect/testing";

export async function main(): Promise<void> {
  using connector = new Connector({ entries: 64 });
  const fd = await connector.connectFd({ host: "127.0.0.1", port: 6379 }, { timeout: 1000 });
  connector.closeFd(fd, { reset: true });
  const onConnected: ConnectCallback = (error, connected) => {
    if (error === null) connector.closeFd(connected);
  };
  connector.connectFdCallback({ host: "127.0.0.1", port: 6379 }, Object.freeze({ timeout: 1000 }), onConnected);
  try {
    await connectFd({ unix: "/tmp/none.sock" });
  } catch (e) {
    if (e instanceof ConnectError) console.log(e.code, e.errno, e.address, e.port);
  }
  const report = await rate({ target: "127.0.0.1:8080", concurrency: 10, duration: "1s" });
  console.log(report.rate, report.latencyUs.p99);
  console.log((await storm({ port: 8080, connections: 10 })).connects);
  using pool = new Pool({ host: "127.0.0.1", port: 5432 }, { min: 2, max: 10 });
  await pool.ready();
  const pooled = await pool.acquireFd();
  pool.release(pooled);
  const socket = await connectNet({ host: "127.0.0.1", port: 6379 }, { timeout: 500 });
  socket.destroy();
  console.log(ioredisConnector(), pgStream(), postgresSocket({ pool }), mysql2Stream(), undiciConnect());
}
`;

async function run(cmd: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  const { code, stdout, stderr } = await runProcess(cmd, { cwd });
  return { code, output: stdout + stderr };
}

/** The package's own files, copied so that packing leaves the checkout untouched. */
function copyPackage(to: string): void {
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { files: string[] };
  for (const file of [...manifest.files, "package.json", "tsconfig.json", "tsconfig.types.json"]) {
    if (file !== "types") cpSync(join(root, file), join(to, file), { recursive: true });
  }
  symlinkSync(join(root, "node_modules"), join(to, "node_modules"));
}

/** A project with `uring-connect` unpacked from `tarball` and its dependencies linked from this checkout (no network). */
async function installTarball(project: string, tarball: string): Promise<void> {
  const installed = join(project, "node_modules", "uring-connect");
  mkdirSync(installed, { recursive: true });
  expect((await run(["tar", "-xzf", tarball, "-C", installed, "--strip-components=1"], project)).code).toBe(0);
  mkdirSync(join(project, "node_modules", "@types"));
  for (const dep of ["@types/bun", "bun-types", "@types/node", "undici-types", "hdr-histogram-js"]) {
    symlinkSync(join(root, "node_modules", dep), join(project, "node_modules", dep));
  }
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", type: "module", private: true }));
  writeFileSync(join(project, "index.ts"), consumerSource);
}

if (Bun.which("npm") === null) console.log("skip: the strict consumer's type check: needs npm (to pack the package as it is published)");

test.skipIf(Bun.which("npm") === null)("a project with strict compiler flags type-checks against the packed package with 0 errors", async () => {
  await using dir = tempDir();
  const pkg = join(dir.path, "package");
  copyPackage(pkg);
  // `npm pack` runs the prepack script, which generates the declarations.
  const pack = await run(["npm", "pack", "--silent", "--pack-destination", dir.path], pkg);
  expect(pack.code).toBe(0);
  const tarball = join(dir.path, pack.output.trim().split("\n").pop()!);

  const project = join(dir.path, "project");
  await installTarball(project, tarball);
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const checks = await Promise.all(
    (["bundler", "nodenext"] as const).map(async (resolution) => {
      const config = join(project, `tsconfig.${resolution}.json`);
      writeFileSync(config, JSON.stringify(strictTsconfig(resolution), null, 2));
      const { output, code } = await run([process.execPath, tsc, "-p", config], project);
      return { resolution, output, code };
    }),
  );
  expect(checks).toEqual([
    { resolution: "bundler", output: "", code: 0 },
    { resolution: "nodenext", output: "", code: 0 },
  ]);
});
