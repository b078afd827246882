import { describe, expect, test } from "bun:test";
import { MAX_REAP_BUDGET, MIN_REAP_BUDGET, ReapBudget, TURN_TARGET_MS } from "../src/reap-budget.ts";

/** One turn: settle all the room there is, starting at `at`, lasting `ms`; cut short or not. */
function turn(budget: ReapBudget, at: number, ms: number, cutShort = true): number {
  const settled = budget.room();
  budget.add(settled, at);
  expect(budget.room()).toBe(0);
  budget.endTurn(cutShort, at + ms);
  return settled;
}

describe("ReapBudget", () => {
  test("a turn's room is the budget less what it settled; the next turn starts afresh", () => {
    const budget = new ReapBudget();
    const full = budget.room();
    budget.add(10, 0);
    expect(budget.room()).toBe(full - 10);
    budget.endTurn(false, 1);
    expect(budget.room()).toBe(full);
  });

  test("turns longer than the target shrink it, towards the count that fits the target", () => {
    const budget = new ReapBudget();
    // Each completion costs 0.1 ms: 20 fit in the target.
    const perCompletionMs = 0.1;
    let before = budget.value;
    for (let i = 0; i < 20; i++) {
      turn(budget, i * 100, before * perCompletionMs);
      expect(budget.value).toBeLessThanOrEqual(before);
      before = budget.value;
    }
    // Halfway steps, rounded: it settles within one of the count.
    expect(Math.abs(budget.value - TURN_TARGET_MS / perCompletionMs)).toBeLessThanOrEqual(1);
  });

  test("short turns grow it, up to the maximum", () => {
    const budget = new ReapBudget();
    for (let i = 0; i < 40; i++) turn(budget, i * 100, 0.2);
    expect(budget.value).toBe(MAX_REAP_BUDGET);
  });

  test("never below the minimum, however slow a turn", () => {
    const budget = new ReapBudget();
    for (let i = 0; i < 40; i++) turn(budget, i * 1000, 500);
    expect(budget.value).toBe(MIN_REAP_BUDGET);
  });

  test("turns it did not cut short leave it as it is, however long", () => {
    const budget = new ReapBudget();
    const value = budget.value;
    turn(budget, 0, 100, false);
    turn(budget, 200, 0.01, false);
    expect(budget.value).toBe(value);
  });

  test("a turn measured at 0 ms does not blow it up", () => {
    const budget = new ReapBudget();
    turn(budget, 5, 0);
    expect(Number.isFinite(budget.value)).toBe(true);
    expect(budget.value).toBeLessThanOrEqual(MAX_REAP_BUDGET);
  });
});
