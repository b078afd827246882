/** The soak, bounded for CI: 40,000 connects of every kind; nothing lost. (`bun run soak` runs 1,000,000.) */
import { expect, test } from "bun:test";
import { describeSoak, runSoak, SettleLedger } from "./soak/soak.ts";

const OPS = 40_000;

test("soak: 40,000 connects each settle exactly once, as caused, leaving no fd, slot or memory behind", async () => {
  const report = await runSoak({ ops: OPS, seed: 7, concurrency: 2000, closeEvery: OPS / 5 });
  const { text, ok } = describeSoak(report);
  console.log(text);
  expect(report.ops).toBe(OPS);
  expect(report.neverSettled).toEqual([]);
  expect(report.settledTwice).toBe(0);
  expect(report.settledOnce).toBe(OPS);
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
});

test("the soak's ledger tells a connect settled twice, and one never settled, from those settled once", () => {
  const ledger = new SettleLedger(4);
  ledger.record(0);
  ledger.record(1);
  ledger.record(1);
  ledger.record(3);
  expect(ledger.tally()).toEqual({ once: 2, twice: 1, never: [2] });
});
