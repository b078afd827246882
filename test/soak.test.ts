/** The soak, bounded for CI: 100,000 connects of every kind; nothing lost. */
import { expect, test } from "bun:test";
import { describeSoak, runSoak } from "./soak/soak.ts";

test("soak: 100,000 connects settle exactly once, as caused, leaving no fd, slot or memory behind", async () => {
  const report = await runSoak({ ops: 100_000, seed: 7, concurrency: 2000, closeEvery: 20_000 });
  const { text, ok } = describeSoak(report);
  console.log(text);
  expect(report.settledOnce).toBe(100_000);
  expect(report.settledTwice).toBe(0);
  expect(report.unexpected).toEqual([]);
  expect(report.fdLeak).toBeLessThanOrEqual(0);
  expect(report.slotLeak).toBe(0);
  expect(report.rssGrowthMB).toBeLessThanOrEqual(32);
  expect(report.connectorsClosed).toBe(5);
  // Every cause happened, and each ended in an outcome it allows.
  for (const cause of ["accept", "refuse", "timeout", "reset", "abortBefore", "abortInFlight", "abortRace"]) {
    expect(Object.keys(report.tally[cause] ?? {}).length).toBeGreaterThan(0);
  }
  expect(ok).toBe(true);
}, 120_000);
