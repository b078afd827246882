import { describe, expect, test } from "bun:test";
import { Fifo, IntQueue } from "../src/queues.ts";

describe("IntQueue", () => {
  test("feed offers at most max values, drops what was taken, keeps the rest in order", () => {
    const queue = new IntQueue(4);
    for (let i = 0; i < 40; i++) queue.push(i); // grows past its first capacity
    const offered: number[] = [];
    const taken = queue.feed((values) => {
      offered.push(values.length);
      return values.length - 2; // a prefix, as a full submission queue takes
    }, 10);
    expect(offered).toEqual([10]);
    expect(taken).toBe(8);
    expect(queue.length).toBe(32);
    expect([...queue.head()]).toEqual(Array.from({ length: 32 }, (_, i) => i + 8));
  });

  test("feed without max offers everything; an empty queue offers nothing", () => {
    const queue = new IntQueue(16);
    expect(queue.feed(() => 1)).toBe(0);
    for (let i = 0; i < 5; i++) queue.push(i);
    expect(queue.feed((values) => values.length)).toBe(5);
    expect(queue.length).toBe(0);
  });

  test("retain keeps the values asked for, in order", () => {
    const queue = new IntQueue(16);
    for (let i = 0; i < 10; i++) queue.push(i);
    queue.retain((value) => value % 3 === 0);
    expect([...queue.head()]).toEqual([0, 3, 6, 9]);
  });
});

describe("Fifo", () => {
  test("first in, first out", () => {
    const fifo = new Fifo<number>();
    for (let i = 0; i < 100; i++) fifo.push(i);
    const out: number[] = [];
    for (let value = fifo.peek(); value !== undefined; value = fifo.peek()) {
      out.push(value);
      fifo.shift();
    }
    expect(out).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });
});
