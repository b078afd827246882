/**
 * Run test files in a child `bun test` and read every test's outcome from
 * its JUnit report: which tests the files define, which were selected,
 * which passed; then check them by name. A count printed on the console can
 * drift unnoticed; a list of named outcomes cannot.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runProcess, type Finished } from "../tools/process.ts";
import { tempDir } from "./harness.ts";

const ROOT = join(import.meta.dir, "..");

export type Outcome = "passed" | "failed" | "skipped";

/** One test the files define: its full name as `-t` matches it ("describe > test") and how it went. */
export interface TestCase {
  file: string;
  name: string;
  outcome: Outcome;
}

export interface ChildTestRun extends Finished {
  /** Every test the files define, selected or not (filtered-out tests count as skipped). */
  cases: TestCase[];
}

/**
 * `bun test <files>` in a child (from the repo root) with only the tests whose
 * full name matches `select`, under `env`, with `preload` scripts and behind
 * `prefix` (e.g. an `unshare` line).
 */
export async function runTestsInChild(
  files: string[],
  options: { select: RegExp; env?: Record<string, string>; preload?: string[]; prefix?: string[] },
): Promise<ChildTestRun> {
  await using dir = tempDir();
  const report = join(dir.path, "junit.xml");
  const cmd = [process.execPath, "test", "--timeout", "60000", "--reporter=junit", `--reporter-outfile=${report}`];
  for (const script of options.preload ?? []) cmd.push("--preload", script);
  cmd.push("--test-name-pattern", options.select.source, ...files);
  // The hang guard stays below the caller's own per-test timeout, so a hang still shows the child's output.
  const run = await runProcess(cmd, { cwd: ROOT, env: options.env, prefix: options.prefix, timeoutMs: 50_000 });
  let xml = "";
  try {
    xml = readFileSync(report, "utf8");
  } catch {
    // No report: the run died early; `code` and `stderr` say why.
  }
  return { ...run, cases: parseJUnit(xml) };
}

/**
 * Every test the files define whose name `select` matches ran and passed,
 * and nothing else ran: a test skipped, filtered out by mistake, failing or
 * lost with its file cannot pass unnoticed. Throws naming each such test,
 * with the end of the child's output.
 */
export function expectAllSelectedPassed(run: ChildTestRun, select: RegExp): void {
  const selected = run.cases.filter((c) => select.test(c.name));
  const problems = [
    ...selected.filter((c) => c.outcome !== "passed").map((c) => `${c.outcome}: ${c.file} > ${c.name}`),
    ...run.cases.filter((c) => !select.test(c.name) && c.outcome !== "skipped").map((c) => `ran though not selected: ${c.name}`),
  ];
  if (selected.length === 0) problems.push("no test selected");
  // The console's own tally must agree with the report.
  if (!run.stderr.includes(`\n ${selected.length} pass\n`) || !run.stderr.includes("\n 0 fail\n")) {
    problems.push(`the console does not say ${selected.length} pass, 0 fail`);
  }
  if (run.code !== 0) problems.push(run.timedOut ? "killed by the hang guard" : `exit code ${run.code}`);
  if (problems.length > 0) {
    throw new Error(`child bun test:\n  ${problems.join("\n  ")}\n--- its output, last lines ---\n${run.stderr.slice(-4000)}`);
  }
}

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (whole, entity: string) => {
    if (entity[0] !== "#") return ENTITIES[entity] ?? whole;
    return String.fromCodePoint(entity[1] === "x" ? parseInt(entity.slice(2), 16) : Number(entity.slice(1)));
  });
}

/**
 * The test cases of a Bun JUnit report. Files are the outer <testsuite>s,
 * describe blocks the nested ones; a <testcase> holding <failure> failed,
 * one holding <skipped> did not run.
 */
export function parseJUnit(xml: string): TestCase[] {
  const cases: TestCase[] = [];
  const suites: string[] = [];
  let open: TestCase | undefined;
  for (const [, closing, tag, attributes, selfClosing] of xml.matchAll(/<(\/?)(testsuites|testsuite|testcase|failure|error|skipped)\b([^>]*?)(\/?)>/g)) {
    const name = unescapeXml(/\bname="([^"]*)"/.exec(attributes!)?.[1] ?? "");
    if (tag === "testsuite") {
      if (closing) suites.pop();
      else if (!selfClosing) suites.push(name);
    } else if (tag === "testcase") {
      if (closing) open = undefined;
      else {
        const testCase: TestCase = { file: suites[0] ?? "", name: [...suites.slice(1), name].join(" > "), outcome: "passed" };
        cases.push(testCase);
        open = selfClosing ? undefined : testCase;
      }
    } else if (open && !closing && tag !== "testsuites") {
      open.outcome = tag === "skipped" ? "skipped" : "failed";
    }
  }
  return cases;
}
