import { expect, test } from "bun:test";
import { Coalesced } from "../src/coalesced.ts";

test("asked for many times before it runs, the task runs once; asked again after, once more", async () => {
  let runs = 0;
  const task = new Coalesced("tick", () => runs++);
  for (let i = 0; i < 5; i++) task.queue();
  expect(runs).toBe(0); // not before the current code is done
  await Promise.resolve();
  expect(runs).toBe(1);
  task.queue();
  await Promise.resolve();
  expect(runs).toBe(2);
});

test("'tick' runs with this tick's microtasks; 'turn' after them, in the next check phase", async () => {
  const order: string[] = [];
  const turn = new Coalesced("turn", () => order.push("turn"));
  const tick = new Coalesced("tick", () => order.push("tick"));
  turn.queue();
  tick.queue();
  queueMicrotask(() => order.push("microtask"));
  await new Promise((resolve) => setImmediate(resolve));
  expect(order).toEqual(["tick", "microtask", "turn"]);
});
