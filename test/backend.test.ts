/**
 * The Backend contract, for both backends (io_uring and Bun's sockets),
 * driven directly over a SlotPool against real loopback sockets: a prepare
 * that takes only what fits, bad slot ids rejected before anything opens,
 * cancels racing their connects' completions, and closes counted until done.
 */
import { describe, expect, test } from "bun:test";
import type { Socket } from "bun";
import { closeSync, readSync } from "node:fs";
import { encodeIp } from "../src/address.ts";
import type { Backend, SlotOwner } from "../src/backend/index.ts";
import { BunBackend } from "../src/backend/bun.ts";
import { UringBackend } from "../src/backend/uring.ts";
import { Errno, NativeUnavailableError } from "../src/errors.ts";
import { SlotPool, SlotState } from "../src/slots.ts";
import { fdCount, startChildServer, waitFor, waitForAsync } from "./harness.ts";
import { blackholeListener } from "./fixtures/sockets.ts";

const CAPACITY = 8;
const POLLIN = 0x1;

/** Whether this machine can open a ring; the io_uring cases skip (saying so) when it cannot. */
function uringUnavailable(): string | undefined {
  try {
    new UringBackend(new SlotPool<SlotOwner>(1), 2).shutdown([]);
    return undefined;
  } catch (error) {
    if (error instanceof NativeUnavailableError) return error.message;
    throw error;
  }
}
const noUring = uringUnavailable();

const KINDS = [
  // Two entries: room for two connects without a timeout, so a batch of five cannot fit.
  { kind: "io_uring", open: (pool: SlotPool<SlotOwner>) => new UringBackend(pool, 2), skip: noUring },
  { kind: "bun", open: (pool: SlotPool<SlotOwner>) => new BunBackend(pool, "under test"), skip: undefined },
] as const;

interface Completion {
  slot: number;
  generation: number;
  res: number;
}

/** A backend over its own pool, its completions collected as its waker brings them. */
class Rig implements Disposable {
  readonly pool = new SlotPool<SlotOwner>(CAPACITY);
  readonly backend: Backend;
  readonly completions: Completion[] = [];

  /** `reapOnWake` false: completions stay in the backend until the test reaps them itself. */
  constructor(open: (pool: SlotPool<SlotOwner>) => Backend, reapOnWake = true) {
    this.backend = open(this.pool);
    this.backend.startWaker(() => reapOnWake && this.reap());
  }

  reap(): void {
    this.backend.reap((slot, generation, res) => this.completions.push({ slot, generation, res }), Number.MAX_SAFE_INTEGER);
  }

  /** Acquire a slot for a connect to 127.0.0.1:`port`. */
  stage(port: number, timeoutMs = 0): number {
    const peer = encodeIp("127.0.0.1", port)!;
    const slot = this.pool.acquire({ peer, local: undefined });
    this.pool.write(slot, peer, undefined, 0, timeoutMs);
    return slot;
  }

  /** Prepare `slots` with as many prepares and submits as the queue needs; returns each prepare's count. */
  prepareAll(slots: number[]): number[] {
    const ids = Int32Array.from(slots);
    const counts: number[] = [];
    for (let done = 0; done < ids.length; ) {
      const taken = this.backend.prepareConnects(ids.subarray(done));
      counts.push(taken);
      done += taken;
      expect(this.backend.submit()).toBeGreaterThanOrEqual(0);
    }
    return counts;
  }

  /**
   * Wait until each of `slots` has completed in its current generation, then
   * return every completion seen for them (any generation), in slot order.
   */
  async completionsOf(slots: number[]): Promise<Completion[]> {
    const current = (c: Completion) => c.generation === this.pool.generation(c.slot);
    await waitFor(() => {
      this.reap();
      return slots.every((slot) => this.completions.some((c) => c.slot === slot && current(c)));
    }, `completions of slots ${slots.join(", ")}`);
    return slots.flatMap((slot) => this.completions.filter((c) => c.slot === slot));
  }

  [Symbol.dispose](): void {
    this.backend.shutdown([]);
  }
}

describe.each(KINDS)("$kind backend", ({ kind, open, skip }) => {
  // Skipped only where io_uring cannot start, and the skip says why.
  const it = skip ? test.skip : test;
  if (skip) test.skip(`every case (io_uring unavailable: ${skip})`, () => {});

  it("prepare takes only what fits; nothing is opened for the rest until a submit makes room", async () => {
    await using server = await startChildServer();
    using rig = new Rig(open);
    const slots = Array.from({ length: 5 }, () => rig.stage(server.port));
    const ids = Int32Array.from(slots);
    const before = fdCount();
    const taken = rig.backend.prepareConnects(ids);
    if (kind === "io_uring") {
      expect(taken).toBe(2); // the queue's two entries
      expect(fdCount()).toBe(before + 2);
    } else {
      expect(taken).toBe(5); // nothing is queued: every connect starts at once
    }
    // Each taken slot has its socket; the others are untouched.
    for (const [i, slot] of slots.entries()) {
      const fd = rig.pool.fd(slot);
      if (i < taken && kind === "io_uring") expect(fd).toBeGreaterThanOrEqual(0);
      if (i >= taken) expect(fd).toBe(-1);
    }
    expect(rig.backend.submit()).toBeGreaterThanOrEqual(0);
    const counts = [taken, ...rig.prepareAll(slots.slice(taken))];
    expect(counts.reduce((a, b) => a + b)).toBe(5);
    const completions = await rig.completionsOf(slots);
    // Exactly one completion per slot, each connected to the server.
    expect(completions.map((c) => [c.slot, c.res])).toEqual(slots.map((slot) => [slot, 0]));
    await waitForAsync(async () => (await server.counts()).accepted === 5, "the server to accept all five");
    for (const slot of slots) closeSync(rig.pool.takeFd(slot));
  });

  it("reap hands out at most max completions per call; the rest come with later calls, each once", async () => {
    await using server = await startChildServer();
    using rig = new Rig(open, false);
    const slots = Array.from({ length: 5 }, () => rig.stage(server.port));
    rig.prepareAll(slots);
    const seen: number[] = [];
    await waitFor(() => {
      const n = rig.backend.reap((slot) => seen.push(slot), 2);
      expect(n).toBeLessThanOrEqual(2);
      return seen.length >= slots.length;
    }, "all five completions, two at a time");
    expect(seen.toSorted((a, b) => a - b)).toEqual(slots.toSorted((a, b) => a - b));
    expect(rig.backend.reap((slot) => seen.push(slot), 2)).toBe(0);
    for (const slot of slots) closeSync(rig.pool.takeFd(slot));
  });

  it("reap still finds completions after the JIT has compiled it: its batch size reaches the shim as an int", async () => {
    // Bun's FFI passed 0 for an integral double (Math.min's result) to an
    // i32 once the caller was JIT-compiled, so every reap found nothing and
    // connects hung: warm the reap up past that point, then connect.
    await using server = await startChildServer();
    using rig = new Rig(open, false);
    const settle = () => {};
    for (let i = 0; i < 100_000; i++) rig.backend.reap(settle, Number.MAX_SAFE_INTEGER - (i & 1));
    const slot = rig.stage(server.port);
    rig.prepareAll([slot]);
    const seen: number[] = [];
    await waitFor(() => {
      rig.backend.reap((s) => seen.push(s), Number.MAX_SAFE_INTEGER);
      return seen.length > 0;
    }, "the connect's completion");
    expect(seen).toEqual([slot]);
    closeSync(rig.pool.takeFd(slot));
  });

  it("bad slot ids: RangeError naming the id, nothing opened, the backend still works", async () => {
    await using server = await startChildServer();
    using rig = new Rig(open);
    const slot = rig.stage(server.port);
    const before = fdCount();
    expect(() => rig.backend.prepareConnects(Int32Array.of(slot, CAPACITY))).toThrow(
      new RangeError(`ids[1] must be a slot index in 0..${CAPACITY - 1}, got ${CAPACITY}`),
    );
    expect(() => rig.backend.prepareConnects(Int32Array.of(-1))).toThrow(/ids\[0\] must be a slot index/);
    expect(() => rig.backend.prepareCancels(Int32Array.of(slot, -5))).toThrow(/ids\[1\] must be a slot index/);
    expect(fdCount()).toBe(before);
    expect(rig.pool.fd(slot)).toBe(-1); // the good id before the bad one was not opened either
    expect((await server.counts()).accepted).toBe(0);
    // The same slot, prepared properly, connects.
    rig.prepareAll([slot]);
    expect((await rig.completionsOf([slot])).map((c) => c.res)).toEqual([0]);
    closeSync(rig.pool.takeFd(slot));
  });

  it("a cancel before the connect completes: one completion, ECANCELED, its socket closed", async () => {
    using blackhole = blackholeListener();
    await using server = await startChildServer();
    using rig = new Rig(open);
    // Fill the listener's one-connection queue, so the next connect to it hangs.
    const filler = rig.stage(blackhole.port);
    rig.prepareAll([filler]);
    expect((await rig.completionsOf([filler]))[0]!.res).toBe(0);
    const baseline = fdCount();
    const slot = rig.stage(blackhole.port);
    rig.prepareAll([slot]);
    expect(rig.backend.prepareCancels(Int32Array.of(slot))).toBe(1);
    expect(rig.backend.submit()).toBeGreaterThanOrEqual(0);
    expect(await rig.completionsOf([slot])).toEqual([{ slot, generation: rig.pool.generation(slot), res: -Errno.ECANCELED }]);
    expect(rig.pool.fd(slot)).toBe(-1);
    await waitFor(() => fdCount() <= baseline, "the cancelled connect's socket to close");
    closeSync(rig.pool.takeFd(filler));
  });

  it("cancels racing their connects' completions: each connect completes exactly once, nothing leaks", async () => {
    await using server = await startChildServer();
    using rig = new Rig(open);
    const baseline = fdCount();
    const rounds = 40;
    let connected = 0;
    for (let round = 0; round < rounds; round++) {
      const slot = rig.stage(server.port);
      rig.prepareAll([slot]);
      // Cancel at once, or once the server has accepted (the connect done, its completion maybe not reaped).
      if (round % 2 === 1) await waitForAsync(async () => (await server.counts()).accepted > connected, "the server to accept");
      expect(rig.backend.prepareCancels(Int32Array.of(slot))).toBe(1);
      expect(rig.backend.submit()).toBeGreaterThanOrEqual(0);
      const [completion, ...more] = await rig.completionsOf([slot]);
      expect(more).toEqual([]);
      expect([0, -Errno.ECANCELED]).toContain(completion!.res);
      if (completion!.res === 0) {
        connected++;
        closeSync(rig.pool.takeFd(slot));
      } else {
        expect(rig.pool.fd(slot)).toBe(-1);
      }
      rig.completions.length = 0;
      rig.pool.move(slot, SlotState.Free); // as the scheduler does once the completion is settled
    }
    // One more connect, completed after every cancel above: no late second completion came before it.
    const last = rig.stage(server.port);
    rig.prepareAll([last]);
    expect((await rig.completionsOf([last])).map((c) => c.res)).toEqual([0]);
    expect(rig.completions).toHaveLength(1);
    closeSync(rig.pool.takeFd(last));
    await waitFor(() => fdCount() <= baseline, "every socket to close");
  });

  it("watches: data and a peer's FIN each complete theirs once; an unwatched one completes ECANCELED", async () => {
    const peers: Socket<undefined>[] = [];
    using server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: (socket) => void peers.push(socket), data() {} } });
    using rig = new Rig(open);
    // One at a time, so the server's n-th socket is the peer of the n-th fd.
    const fds: number[] = [];
    for (let i = 0; i < 3; i++) {
      const slot = rig.stage(server.port);
      rig.prepareAll([slot]);
      expect((await rig.completionsOf([slot])).at(-1)!.res).toBe(0);
      fds.push(rig.pool.takeFd(slot));
      rig.pool.move(slot, SlotState.Free);
      await waitFor(() => peers.length === i + 1, "the server to accept");
    }
    rig.completions.length = 0;
    const connected = fdCount();
    const [readable, ended, unwatched] = [11, 12, 13];
    const pairs = Int32Array.of(fds[0]!, readable, fds[1]!, ended, fds[2]!, unwatched);
    // The ring's two-entry queue takes a prefix; submitting makes room.
    for (let done = 0; done < 3; ) {
      const taken = rig.backend.prepareWatches(pairs.subarray(done * 2));
      expect(taken).toBe(kind === "io_uring" ? Math.min(2, 3 - done) : 3);
      done += taken;
      expect(rig.backend.submit()).toBeGreaterThanOrEqual(0);
    }
    // A watch holds no extra fd on the ring; Bun's adopts a duplicate.
    if (kind === "io_uring") expect(fdCount()).toBe(connected);
    peers[0]!.write("x");
    peers[1]!.end();
    expect(rig.backend.prepareUnwatches(Int32Array.of(unwatched))).toBe(1);
    expect(rig.backend.submit()).toBeGreaterThanOrEqual(0);
    await waitFor(() => {
      rig.reap();
      return rig.completions.length >= 3;
    }, "the three watches to complete");
    const byTag = new Map(rig.completions.map((c) => [c.generation, c]));
    expect(rig.completions.every((c) => c.slot === -1)).toBe(true);
    expect(byTag.size).toBe(3);
    expect(byTag.get(readable)!.res & POLLIN).toBe(POLLIN);
    expect(byTag.get(ended)!.res).toBeGreaterThan(0);
    expect(byTag.get(unwatched)!.res).toBe(-Errno.ECANCELED);
    // The ring's poll reads nothing: the byte is still there for the fd's
    // reader. (Bun's watch socket reads what arrives: see bun.ts.)
    if (kind === "io_uring") {
      const buffer = Buffer.alloc(4);
      expect(readSync(fds[0]!, buffer)).toBe(1);
      expect(buffer.toString("latin1", 0, 1)).toBe("x");
    }
    for (const fd of fds) closeSync(fd);
    await waitFor(() => fdCount() <= connected - 3, "the watched sockets and any duplicates to close");
    expect(rig.completions).toHaveLength(3);
  });

  it("closes are counted until done, then closing returns to 0", async () => {
    await using server = await startChildServer();
    using rig = new Rig(open);
    const slots = Array.from({ length: CAPACITY }, () => rig.stage(server.port));
    rig.prepareAll(slots);
    expect((await rig.completionsOf(slots)).every((c) => c.res === 0)).toBe(true);
    const fds = Int32Array.from(slots, (slot) => rig.pool.takeFd(slot));
    let closed = 0;
    while (closed < fds.length) {
      const taken = rig.backend.prepareCloses(fds.subarray(closed), true);
      closed += taken;
      // Nothing is reaped meanwhile, so every close the ring took is still counted; Bun's are done.
      expect(rig.backend.closing()).toBe(kind === "io_uring" ? closed : 0);
      expect(rig.backend.submit()).toBeGreaterThanOrEqual(0);
    }
    await waitFor(() => {
      rig.reap();
      return rig.backend.closing() === 0;
    }, "every close to complete");
    await waitForAsync(async () => (await server.counts()).open === 0, "the server to see every connection end");
  });
});
