/** The slot pool's states, generations and counters. */
import { expect, test } from "bun:test";
import { SlotPool, SlotState } from "../src/slots.ts";

test("acquire until empty, counters add up, release returns the slot", () => {
  const pool = new SlotPool<string>(3);
  const slots = [pool.acquire("a"), pool.acquire("b"), pool.acquire("c")];
  expect(new Set(slots).size).toBe(3);
  expect(pool.acquire("d")).toBe(-1);
  expect(pool.stats()).toEqual({ capacity: 3, free: 0, pending: 3, inFlight: 0, orphaned: 0 });
  pool.move(slots[0]!, SlotState.InFlight);
  pool.move(slots[0]!, SlotState.Orphaned);
  expect(pool.stats()).toEqual({ capacity: 3, free: 0, pending: 2, inFlight: 0, orphaned: 1 });
  pool.move(slots[0]!, SlotState.Free);
  expect(pool.owner(slots[0]!)).toBeUndefined();
  expect(pool.acquire("e")).toBe(slots[0]!);
});

test("each reuse bumps the generation, so a stale completion cannot match", () => {
  const pool = new SlotPool<string>(1);
  const slot = pool.acquire("a");
  const first = pool.generation(slot);
  pool.move(slot, SlotState.Free);
  pool.acquire("b");
  expect(pool.generation(slot)).toBe(first + 1);
});

test("illegal moves throw", () => {
  const pool = new SlotPool<string>(1);
  expect(() => pool.move(0, SlotState.InFlight)).toThrow(/illegal move free -> inFlight/);
  const slot = pool.acquire("a");
  expect(() => pool.move(slot, SlotState.Orphaned)).toThrow(/pending -> orphaned/);
});
