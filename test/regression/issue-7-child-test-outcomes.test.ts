/**
 * Issue 7: the suites re-run in child processes were judged by a regex on
 * the console's tally (/ 4\d pass/), so a test skipped, filtered out or lost
 * there passed unnoticed. Now every test's outcome is read by name from the
 * child's JUnit report, and the check must catch each way of not passing.
 */
import { expect, test } from "bun:test";
import { expectAllSelectedPassed, runTestsInChild } from "../child-tests.ts";

const FIXTURE = "./test/fixtures/outcomes.ts";
const SELECTED = /^selected\b/;

test("every test's outcome, by name, including those filtered out", async () => {
  const run = await runTestsInChild([FIXTURE], { select: SELECTED, env: { OUTCOMES: "mixed" } });
  expect(run.cases.map(({ name, outcome }) => `${outcome}: ${name}`)).toEqual([
    "passed: selected > passes",
    "skipped: selected > skipped when mixed",
    "failed: selected > fails when mixed",
    "skipped: unselected > never selected",
  ]);
  expect(() => expectAllSelectedPassed(run, SELECTED)).toThrow();
});

test("a clean run passes the check, and the same run judged by a wider selection does not", async () => {
  const run = await runTestsInChild([FIXTURE], { select: SELECTED });
  expectAllSelectedPassed(run, SELECTED);
  // "unselected > never selected" was filtered out: a check expecting it must fail.
  expect(() => expectAllSelectedPassed(run, /^/)).toThrow();
});
