/**
 * Connector.watchFd / unwatchFd against real loopback connections: what a
 * Pool's idle watch rests on. Each case checks that fds come back.
 */
import type { Socket } from "bun";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readSync } from "node:fs";
import { Connector } from "../src/index.ts";
import { expectClean, fdCount, waitFor } from "./harness.ts";

const POLLIN = 0x1;
const POLLRDHUP = 0x2000;

/** A Bun.listen server that keeps its side of each connection, in accept order, and counts those the client closed. */
function peerServer() {
  const peers: Socket<undefined>[] = [];
  const counts = { closed: 0 };
  const listener = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: { open: (socket) => void peers.push(socket), data() {}, close: () => void counts.closed++ },
  });
  return { peers, counts, port: listener.port, [Symbol.dispose]: () => listener.stop(true) };
}

let connector: Connector;
beforeEach(() => {
  connector = new Connector();
});
afterEach(() => connector.close());

/** A connection and the server's side of it. */
async function connectPair(server: ReturnType<typeof peerServer>): Promise<{ fd: number; peer: Socket<undefined> }> {
  const before = server.peers.length;
  const fd = await connector.connectFd({ host: "127.0.0.1", port: server.port });
  await waitFor(() => server.peers.length > before, "the server to accept");
  return { fd, peer: server.peers[before]! };
}

describe("watchFd", () => {
  // test/process.test.ts runs this suite again on the Bun fallback (EXPECT_BACKEND=bun).
  test("runs on the backend expected", () => {
    expect(connector.backend).toBe((process.env.EXPECT_BACKEND as "bun" | undefined) ?? "io_uring");
  });

  test("data from the peer fires the watch once, with POLLIN, and (on the ring) stays unread", async () => {
    using server = peerServer();
    const baseline = fdCount();
    const { fd, peer } = await connectPair(server);
    const events: number[] = [];
    expect(connector.watchFd(fd, (res) => events.push(res))).toBeGreaterThanOrEqual(0);
    peer.write("x");
    await waitFor(() => events.length > 0, "the watch to fire");
    expect(events).toHaveLength(1);
    expect(events[0]! & POLLIN).toBe(POLLIN);
    // The ring's poll reads nothing; the Bun fallback's watch socket reads what arrives.
    if (connector.backend === "io_uring") {
      const buffer = Buffer.alloc(4);
      expect(readSync(fd, buffer)).toBe(1);
      expect(buffer.toString("latin1", 0, 1)).toBe("x");
    }
    connector.closeFd(fd);
    await expectClean(connector, baseline);
  });

  test("the peer's FIN fires it with POLLRDHUP; nothing else follows", async () => {
    using server = peerServer();
    const baseline = fdCount();
    const { fd, peer } = await connectPair(server);
    const events: number[] = [];
    connector.watchFd(fd, (res) => events.push(res));
    peer.end();
    await waitFor(() => events.length > 0, "the watch to fire");
    expect(events[0]! & POLLRDHUP).toBe(POLLRDHUP);
    // A second watch on another connection fires after: the first fired once only.
    const second = await connectPair(server);
    let fired = false;
    connector.watchFd(second.fd, () => (fired = true));
    second.peer.end();
    await waitFor(() => fired, "the second watch to fire");
    expect(events).toHaveLength(1);
    connector.closeFd(fd);
    connector.closeFd(second.fd);
    await expectClean(connector, baseline);
  });

  test("unwatched, armed or not, it never fires; the connection closes when its fd does", async () => {
    using server = peerServer();
    const baseline = fdCount();
    const armed = await connectPair(server);
    const queued = await connectPair(server);
    const events: string[] = [];
    const armedTag = connector.watchFd(armed.fd, () => events.push("armed"));
    // Let the turn end, so the first watch's poll is in the kernel.
    await new Promise((resolve) => setImmediate(resolve));
    connector.unwatchFd(armedTag);
    // This one is unwatched before its turn ends: it is never armed.
    connector.unwatchFd(connector.watchFd(queued.fd, () => events.push("queued")));
    // The armed one's peer stays silent: only the poll's removal lets its
    // socket go when its fd is closed below.
    queued.peer.end();
    // A later watch fires; completions of the two unwatched ones would have come first or not at all.
    const probe = await connectPair(server);
    let fired = false;
    connector.watchFd(probe.fd, () => (fired = true));
    probe.peer.write("x");
    await waitFor(() => fired, "the probe watch to fire");
    expect(events).toEqual([]);
    for (const fd of [armed.fd, queued.fd, probe.fd]) connector.closeFd(fd);
    // An armed poll would hold its socket open after the fd's close.
    await waitFor(() => server.counts.closed === 3, "the server to see every connection close");
    await expectClean(connector, baseline);
  });

  test("after close() there is no watch: -1, and unwatchFd of it is a no-op", async () => {
    using server = peerServer();
    const { fd } = await connectPair(server);
    connector.close();
    expect(connector.watchFd(fd, () => {})).toBe(-1);
    connector.unwatchFd(-1);
    connector.closeFd(fd);
  });
});
