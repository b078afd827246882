#!/usr/bin/env node
// Builds types/: the declarations each `exports` entry names under its
// "types" condition. Runs before `npm pack` and `npm publish` (prepack).
//
// The sources import each other as "./x.ts" (Bun runs them as they are);
// declarations keep those specifiers, which would lead a consumer's
// compiler back into src/ (and fail without allowImportingTsExtensions).
// Rewritten to "./x.js", they resolve to the neighbouring x.d.ts under
// both "bundler" and "nodenext" resolution.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
if (!existsSync(tsc)) {
  console.error("build-types: TypeScript is not installed; run `bun install` (or `npm install`) first");
  process.exit(1);
}

const out = join(root, "types");
rmSync(out, { recursive: true, force: true });
execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.types.json")], { stdio: "inherit" });

const relativeTsSpecifier = /((?:from|import)\s*\(?\s*["']\.{1,2}\/[^"']*)\.ts(["'])/g;
for (const entry of readdirSync(out, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith(".d.ts")) continue;
  const path = join(entry.parentPath, entry.name);
  writeFileSync(path, readFileSync(path, "utf8").replace(relativeTsSpecifier, "$1.js$2"));
}
