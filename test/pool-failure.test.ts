/**
 * The Pool when its target fails, for real: a refused port, a listener whose
 * connects hang, a local address the machine does not have (EADDRNOTAVAIL),
 * a server that closes every connection it accepts, a unix socket that is
 * not there yet. ready() and acquires fail fast with the ConnectError; the
 * pool backs off (only lower bounds on time are asserted: a loaded machine
 * only makes gaps longer) and recovers when the target comes back.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { once } from "node:events";
import net from "node:net";
import { join } from "node:path";
import { Connector, ConnectError, Pool, type ConnectOptions, type Target } from "../src/index.ts";
import { expectClean, fdCount, startServer, tempDir, waitFor, waitForAsync } from "./harness.ts";
import { refusingPort } from "./fixtures/sockets.ts";
import { hangingTarget } from "./node/support.ts";

/** A real Connector that notes when each connect was asked of it. */
class TimedConnector extends Connector {
  readonly starts: number[] = [];
  override connectFd(target: Target, options?: ConnectOptions): Promise<number> {
    this.starts.push(performance.now());
    return super.connectFd(target, options);
  }
}

let connector: TimedConnector;
beforeEach(() => {
  connector = new TimedConnector();
});
afterEach(() => connector.close());

/** The documented backoff: 100 ms after the first failure, doubling, each delay within ±20%. */
const BASE_DELAY_MS = 100;
const JITTER = 0.2;

/** An acquire long enough that only fail-fast can end it before the test's own timeout. */
const NEVER = 3_600_000;

/**
 * Wait until `probes` failures, each of one connect, then check each gap
 * between connects was at least its backoff delay: the k-th failure waits
 * BASE_DELAY_MS * 2^(k-1), less the jitter, before the next probe.
 */
async function expectBackoff(pool: Pool, probes: number): Promise<void> {
  await waitFor(() => pool.stats().failed >= probes, `${probes} failed probes`);
  // One connect at a time: at most the next probe has started since.
  expect(connector.starts.length).toBeLessThanOrEqual(pool.stats().failed + 1);
  for (let k = 1; k < probes; k++) {
    const gap = connector.starts[k]! - connector.starts[k - 1]!;
    expect(gap).toBeGreaterThanOrEqual(BASE_DELAY_MS * 2 ** (k - 1) * (1 - JITTER) - 1);
  }
}

describe("fail-fast", () => {
  test("a refused target: ready() and every acquire reject with the ConnectError, without waiting out acquireTimeout", async () => {
    using refusing = refusingPort();
    const baseline = fdCount();
    const pool = new Pool({ host: "127.0.0.1", port: refusing.port }, { connector, min: 2, acquireTimeout: NEVER });
    const error = await pool.ready().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect(error).toMatchObject({ code: "ECONNREFUSED", address: "127.0.0.1", port: refusing.port });
    // Five at once: each rejects with the target's error, whether backing off or probing.
    const acquires = await Promise.all(Array.from({ length: 5 }, () => pool.acquireFd().catch((e: unknown) => e)));
    for (const outcome of acquires) expect(outcome).toMatchObject({ name: "ConnectError", code: "ECONNREFUSED" });
    expect(pool.stats()).toMatchObject({ idle: 0, busy: 0, waiting: 0, opened: 0 });
    expect(pool.stats().failed).toBeGreaterThanOrEqual(2);
    pool.close();
    await waitFor(() => pool.stats().connecting === 0, "the connects to end");
    await expectClean(connector, baseline);
  });

  test("a connect that times out (connectTimeout): ready() and acquires reject with ConnectError ETIMEDOUT, not the acquire's timeout", async () => {
    using hanging = await hangingTarget(connector);
    const baseline = fdCount();
    const pool = new Pool({ host: "127.0.0.1", port: hanging.port }, { connector, min: 1, connectTimeout: 50, acquireTimeout: NEVER });
    const error = await pool.ready().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect(error).toMatchObject({ code: "ETIMEDOUT", syscall: "connect", port: hanging.port });
    const acquired = await pool.acquireNet().catch((e: unknown) => e);
    expect(acquired).toBeInstanceOf(ConnectError);
    expect(acquired).toMatchObject({ code: "ETIMEDOUT" });
    pool.close();
    await waitFor(() => pool.stats().connecting === 0, "the connects to end");
    await expectClean(connector, baseline);
  });

  test("a burst against a refused target: one batch of connects, every waiter rejected with the error, each failure counted", async () => {
    using refusing = refusingPort();
    const pool = new Pool({ host: "127.0.0.1", port: refusing.port }, { connector, acquireTimeout: NEVER });
    const outcomes = Array.from({ length: 3 }, () => pool.acquireFd().catch((e: unknown) => e));
    expect(pool.stats()).toMatchObject({ waiting: 3, connecting: 0 });
    for (const outcome of await Promise.all(outcomes)) expect(outcome).toMatchObject({ code: "ECONNREFUSED" });
    expect(connector.starts.length).toBe(3);
    expect(pool.stats()).toMatchObject({ waiting: 0, connecting: 0, failed: 3 });
    pool.close();
  });
});

describe("backoff", () => {
  test("a refused target is probed one connect at a time, each gap at least double the last (with jitter)", async () => {
    using refusing = refusingPort();
    const baseline = fdCount();
    const pool = new Pool({ host: "127.0.0.1", port: refusing.port }, { connector, min: 3 });
    await expect(pool.ready()).rejects.toMatchObject({ code: "ECONNREFUSED" });
    // The first batch is min's 3 connects; after it, probes alone.
    await waitFor(() => pool.stats().failed >= 7, "4 probes after the first batch");
    expect(pool.stats()).toMatchObject({ opened: 0, connecting: 0 });
    expect(connector.starts.length).toBe(pool.stats().failed);
    const probes = connector.starts.slice(2);
    for (let k = 1; k < probes.length; k++) {
      expect(probes[k]! - probes[k - 1]!).toBeGreaterThanOrEqual(BASE_DELAY_MS * 2 ** (k - 1) * (1 - JITTER) - 1);
    }
    pool.close();
    await expectClean(connector, baseline);
  });

  test("EADDRNOTAVAIL (a local address this machine does not have) backs off too", async () => {
    await using server = await startServer();
    const baseline = fdCount();
    // TEST-NET-1: never on a test machine, so bind() fails before any packet is sent.
    const pool = new Pool({ host: "127.0.0.1", port: server.port }, { connector, min: 1, localAddress: "192.0.2.1" });
    await expect(pool.ready()).rejects.toMatchObject({ name: "ConnectError", code: "EADDRNOTAVAIL" });
    await expectBackoff(pool, 4);
    expect(pool.stats()).toMatchObject({ opened: 0, idle: 0 });
    expect(server.accepted()).toBe(0);
    pool.close();
    await expectClean(connector, baseline);
  });

  test("a server that closes every connection it accepts counts as failing (ECONNRESET): the pool backs off instead of reconnecting in a loop", async () => {
    let accepted = 0;
    const server = net.createServer((socket) => {
      accepted++;
      socket.end();
    });
    server.listen({ host: "127.0.0.1", port: 0 });
    await once(server, "listening");
    const baseline = fdCount();
    const pool = new Pool({ host: "127.0.0.1", port: (server.address() as net.AddressInfo).port }, { connector, min: 1 });
    await expectBackoff(pool, 4);
    // Each probe connected, and the server closed it at once.
    const { opened, closed, failed } = pool.stats();
    expect(closed).toBe(failed);
    expect(opened).toBeGreaterThanOrEqual(failed);
    expect(opened).toBeLessThanOrEqual(failed + 1);
    await waitFor(() => accepted >= failed, "the server to have accepted each probe");
    expect(accepted).toBeLessThanOrEqual(connector.starts.length);
    // Between probes (a probe's connection may be open for a moment), ready() fails fast with the reason.
    let outcome: unknown;
    await waitForAsync(async () => (outcome = await pool.ready().then(() => undefined, (e: unknown) => e)) !== undefined, "ready() to fail");
    expect(outcome).toMatchObject({ name: "ConnectError", code: "ECONNRESET" });
    pool.close();
    await expectClean(connector, baseline);
    server.close();
  });
});

test("recovery: a target that comes back is used again, and the pool fills to min", async () => {
  await using dir = tempDir();
  const path = join(dir.path, "later.sock");
  const baseline = fdCount();
  const pool = new Pool({ unix: path }, { connector, min: 2 });
  await expect(pool.ready()).rejects.toMatchObject({ name: "ConnectError", code: "ENOENT", address: path });
  await waitFor(() => pool.stats().failed >= 3, "a few probes while the target is away");
  {
    await using server = await startServer({ path, echo: true });
    await waitFor(() => pool.stats().idle === 2, "the pool to fill to min once the target is back");
    await pool.ready();
    const socket = await pool.acquireNet();
    socket.write("back");
    expect(String((await once(socket, "data"))[0])).toBe("back");
    pool.release(socket);
    expect(server.accepted()).toBe(2);
    pool.close();
  }
  await expectClean(connector, baseline);
});
