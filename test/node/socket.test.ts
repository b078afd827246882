/** connectNet and createConnection: net.Sockets whose connect went through a Connector, against real local servers. */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { once } from "node:events";
import net from "node:net";
import { join } from "node:path";
import { Connector, ConnectError, sharedConnector } from "../../src/index.ts";
import { adoptNetSocket, connectNet, createConnection, ioredisConnector, mysql2Stream, pgStream, postgresSocket, undiciConnect } from "../../src/node/index.ts";
import { expectClean, expectNothingReached, fdCount, startServer, tempDir, waitFor } from "../harness.ts";
import { runProcess } from "../../tools/process.ts";
import { refusingPort } from "../fixtures/sockets.ts";
import { CountingConnector, hangingTarget, SockOpt, sockopt } from "./support.ts";

let connector: Connector;
beforeEach(() => {
  connector = new Connector();
});
afterEach(() => connector.close());

/** The events `socket` emits from now on, in order. */
function recordEvents(socket: net.Socket, names = ["connect", "ready", "error", "end", "close", "timeout"]): string[] {
  const seen: string[] = [];
  for (const name of names) socket.on(name, () => seen.push(name));
  return seen;
}

/** The socket's 'error', once it has closed after it. */
async function failure(socket: net.Socket): Promise<unknown> {
  const error = new Promise((resolve) => socket.once("error", resolve));
  await new Promise((resolve) => socket.once("close", resolve));
  return error;
}

/** Everything `socket` receives until it closes. */
async function receiveAll(socket: net.Socket): Promise<string> {
  let text = "";
  socket.on("data", (chunk) => (text += String(chunk)));
  await once(socket, "close");
  return text;
}

describe("connectNet", () => {
  test("resolves with a connected net.Socket: addresses and ports are the connection's, data flows both ways", async () => {
    await using server = await startServer({ echo: true });
    const baseline = fdCount();
    const socket = await connectNet({ host: "127.0.0.1", port: server.port }, { connector, localAddress: "127.0.0.10" });
    expect(socket).toBeInstanceOf(net.Socket);
    expect(socket.connecting).toBe(false);
    expect(socket.pending).toBe(false);
    expect(socket.readyState).toBe("open");
    expect({ remoteAddress: socket.remoteAddress, remotePort: socket.remotePort, localAddress: socket.localAddress }).toEqual({
      remoteAddress: "127.0.0.1",
      remotePort: server.port,
      localAddress: "127.0.0.10",
    });
    // The server saw this very connection: from 127.0.0.10, from the socket's local port.
    await waitFor(() => server.peers().length === 1, "the server to accept");
    expect(server.peers()).toEqual(["127.0.0.10"]);
    socket.write("ping");
    const [echo] = await once(socket, "data");
    expect(String(echo)).toBe("ping");
    socket.destroy();
    await once(socket, "close");
    await expectClean(connector, baseline);
  });

  test("the local port is the one the server sees", async () => {
    const peers: { address?: string; port?: number }[] = [];
    const server = net.createServer((peer) => peers.push({ address: peer.remoteAddress, port: peer.remotePort }));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    const socket = await connectNet({ host: "127.0.0.1", port }, { connector, localAddress: "127.0.0.11" });
    await waitFor(() => peers.length === 1, "the server to accept");
    expect(peers).toEqual([{ address: "127.0.0.11", port: socket.localPort }]);
    socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  test("goes through the shared Connector when no connector is given", async () => {
    await using server = await startServer();
    const shared = sharedConnector();
    const baseline = fdCount();
    const socket = await connectNet({ host: "127.0.0.1", port: server.port }, { localAddress: "127.0.0.12" });
    await waitFor(() => server.peers().length === 1, "the server to accept");
    expect(server.peers()).toEqual(["127.0.0.12"]);
    socket.destroy();
    await once(socket, "close");
    await expectClean(shared, baseline);
  });

  test("connects to a unix socket", async () => {
    await using dir = tempDir();
    const path = join(dir.path, "s.sock");
    await using server = await startServer({ path, echo: true });
    const counting = new CountingConnector();
    const socket = await connectNet({ unix: path }, { connector: counting });
    expect(counting.connects).toBe(1);
    expect(socket.connecting).toBe(false);
    socket.end("over unix");
    expect(await receiveAll(socket)).toBe("over unix");
    expect(server.accepted()).toBe(1);
    counting.close();
  });

  test("a refused connect rejects with ConnectError ECONNREFUSED, leaving nothing open", async () => {
    using refusing = refusingPort();
    const baseline = fdCount();
    const error = await connectNet({ host: "127.0.0.1", port: refusing.port }, { connector }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect(error).toMatchObject({ code: "ECONNREFUSED", errno: 111, syscall: "connect", address: "127.0.0.1", port: refusing.port });
    await expectClean(connector, baseline);
  });

  test("options.timeout limits the connect: ConnectError ETIMEDOUT, leaving nothing open", async () => {
    using hanging = await hangingTarget(connector);
    const baseline = fdCount();
    const error = await connectNet({ host: "127.0.0.1", port: hanging.port }, { connector, timeout: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect(error).toMatchObject({ code: "ETIMEDOUT", errno: 110, address: "127.0.0.1", port: hanging.port });
    await expectClean(connector, baseline);
  });

  test("bad options reject with a TypeError naming the field, before anything is opened", async () => {
    await using server = await startServer();
    const target = { host: "127.0.0.1", port: server.port };
    const misspelt = { conector: connector } as unknown as { connector: Connector };
    await expect(connectNet(target, misspelt)).rejects.toThrow('options.conector is not a known option; did you mean "connector"?');
    const notConnector = { connector: {} } as unknown as { connector: Connector };
    await expect(connectNet(target, notConnector)).rejects.toThrow(TypeError);
    await expect(connectNet(target, notConnector)).rejects.toThrow("options.connector");
    await expect(connectNet(target, { connector, timeout: -1 })).rejects.toThrow(RangeError);
    await expectNothingReached(server, connector);
  });
});

describe("createConnection", () => {
  test("connects only when connect() is called, then emits 'connect' and 'ready' once connected", async () => {
    await using server = await startServer();
    const baseline = fdCount();
    const socket = createConnection(undefined, { connector, localAddress: "127.0.0.13" });
    expect(socket).toBeInstanceOf(net.Socket);
    expect(socket.pending).toBe(true);
    expect(socket.connecting).toBe(false);
    await expectNothingReached(server, connector);

    const events = recordEvents(socket);
    expect(socket.connect(server.port, "127.0.0.1")).toBe(socket);
    expect(socket.connecting).toBe(true);
    expect(socket.readyState).toBe("opening");
    await once(socket, "ready");
    expect(events).toEqual(["connect", "ready"]);
    expect(socket.connecting).toBe(false);
    expect({ localAddress: socket.localAddress, remoteAddress: socket.remoteAddress, remotePort: socket.remotePort }).toEqual({
      localAddress: "127.0.0.13",
      remoteAddress: "127.0.0.1",
      remotePort: server.port,
    });
    await waitFor(() => server.peers().length === 2, "the server to accept");
    expect(server.peers()).toEqual(["127.0.0.2", "127.0.0.13"]);
    socket.destroy();
    await once(socket, "close");
    await expectClean(connector, baseline);
  });

  test("writes and end() while connecting are sent once connected, in order", async () => {
    await using server = await startServer({ echo: true });
    const socket = createConnection(undefined, { connector });
    socket.connect({ port: server.port, host: "127.0.0.1" });
    expect(socket.write("one ")).toBe(true);
    socket.write(Buffer.from("two "));
    socket.end("three");
    expect(socket.connecting).toBe(true);
    expect(await receiveAll(socket)).toBe("one two three");
  });

  test("with a target it starts connecting at once, like net.createConnection", async () => {
    await using server = await startServer({ echo: true });
    const socket = createConnection({ host: "127.0.0.1", port: server.port }, { connector, localAddress: "127.0.0.14" });
    expect(socket.connecting).toBe(true);
    socket.end("now");
    expect(await receiveAll(socket)).toBe("now");
    expect(server.peers()).toEqual(["127.0.0.14"]);
  });

  test("takes every node:net connect() form", async () => {
    await using server = await startServer();
    await using dir = tempDir();
    const path = join(dir.path, "s.sock");
    await using unixServer = await startServer({ path });
    const connected: string[] = [];
    const forms: [string, (socket: net.Socket) => void][] = [
      ["port, host, listener", (s) => s.connect(server.port, "127.0.0.1", () => connected.push("port, host, listener"))],
      ["port as a string, host", (s) => s.connect(String(server.port) as unknown as number, "127.0.0.1")],
      ["{ port, host, localAddress }, listener", (s) => s.connect({ port: server.port, host: "127.0.0.1", localAddress: "127.0.0.15" }, () => connected.push("options"))],
      ["path, listener", (s) => s.connect(path, () => connected.push("path"))],
      ["{ path }", (s) => s.connect({ path })],
    ];
    for (const [name, connect] of forms) {
      const socket = createConnection(undefined, { connector });
      connect(socket);
      await once(socket, "connect").catch((error) => {
        throw new Error(`${name}: ${error}`);
      });
      socket.destroy();
    }
    expect(connected).toEqual(["port, host, listener", "options", "path"]);
    await waitFor(() => server.accepted() === 3 && unixServer.accepted() === 2, "every connection to be accepted");
    expect(server.peers()).toEqual(["127.0.0.1", "127.0.0.1", "127.0.0.15"]);
  });

  test("connect() with a bad port throws a RangeError before anything is opened; a second connect() throws", async () => {
    await using server = await startServer();
    expect(() => createConnection(undefined, { connector }).connect(70000, "127.0.0.1")).toThrow(RangeError);
    expect(() => createConnection(undefined, { connector }).connect({ port: server.port, localAddress: "nowhere" })).toThrow(TypeError);
    await expectNothingReached(server, connector);
    const socket = createConnection(undefined, { connector });
    socket.connect(server.port, "127.0.0.1");
    expect(() => socket.connect(server.port, "127.0.0.1")).toThrow("connect() was already called on this socket");
    socket.destroy();
  });

  test("a refused connect emits 'error' with the ConnectError, then 'close'; buffered writes fail; nothing stays open", async () => {
    using refusing = refusingPort();
    const baseline = fdCount();
    const socket = createConnection(undefined, { connector });
    const events = recordEvents(socket);
    socket.connect(refusing.port, "127.0.0.1");
    const written = new Promise<Error | null | undefined>((resolve) => socket.write("lost", resolve));
    const error = await failure(socket);
    expect(error).toBeInstanceOf(ConnectError);
    expect(error).toMatchObject({ code: "ECONNREFUSED", address: "127.0.0.1", port: refusing.port });
    expect(events).toEqual(["error", "close"]);
    expect(await written).toBeInstanceOf(Error);
    await expectClean(connector, baseline);
  });

  test("options.timeout: a connect that hangs fails with ConnectError ETIMEDOUT", async () => {
    using hanging = await hangingTarget(connector);
    const baseline = fdCount();
    const socket = createConnection({ host: "127.0.0.1", port: hanging.port }, { connector, timeout: 100 });
    const error = await failure(socket);
    expect(error).toBeInstanceOf(ConnectError);
    expect(error).toMatchObject({ code: "ETIMEDOUT", port: hanging.port });
    await expectClean(connector, baseline);
  });

  test("destroy() while connecting cancels the connect: 'close' without 'error', its socket closed", async () => {
    using hanging = await hangingTarget(connector);
    const baseline = fdCount();
    const socket = createConnection({ host: "127.0.0.1", port: hanging.port }, { connector });
    const events = recordEvents(socket);
    await waitFor(() => connector.stats().inFlight === 1, "the connect to be in flight");
    socket.destroy();
    await once(socket, "close");
    expect(events).toEqual(["close"]);
    await expectClean(connector, baseline);
  });

  test("an aborted signal fails the connect with its reason", async () => {
    using hanging = await hangingTarget(connector);
    const controller = new AbortController();
    const socket = createConnection({ host: "127.0.0.1", port: hanging.port }, { connector, signal: controller.signal });
    await waitFor(() => connector.stats().inFlight === 1, "the connect to be in flight");
    controller.abort(new Error("stop"));
    const error = await failure(socket);
    expect((error as Error).message).toBe("stop");
  });

  // Bun's net sockets, its own net.connect()'s included, have TCP_NODELAY on
  // from the start but record it as off: setNoDelay(false) takes effect only
  // after a setNoDelay(true), before or after the connect.
  test("setKeepAlive before connect() applies once connected; setNoDelay and setKeepAlive after, at once", async () => {
    await using server = await startServer();
    const socket = createConnection(undefined, { connector });
    socket.setKeepAlive(true, 30_000);
    socket.connect(server.port, "127.0.0.1");
    await once(socket, "connect");
    expect(sockopt(socket, SockOpt.keepAlive)).toBe(1);
    expect(sockopt(socket, SockOpt.keepIdle)).toBe(30);
    expect(sockopt(socket, SockOpt.noDelay)).toBe(1);
    socket.setNoDelay(true);
    socket.setNoDelay(false);
    expect(sockopt(socket, SockOpt.noDelay)).toBe(0);
    socket.setNoDelay(true);
    expect(sockopt(socket, SockOpt.noDelay)).toBe(1);
    socket.setKeepAlive(false);
    expect(sockopt(socket, SockOpt.keepAlive)).toBe(0);
    socket.destroy();
  });

  test("options.keepAlive is set on the socket before it connects", async () => {
    await using server = await startServer();
    const plain = createConnection({ host: "127.0.0.1", port: server.port }, { connector });
    const keepAlive = createConnection({ host: "127.0.0.1", port: server.port }, { connector, keepAlive: true });
    await Promise.all([once(plain, "connect"), once(keepAlive, "connect")]);
    expect(sockopt(plain, SockOpt.keepAlive)).toBe(0);
    expect(sockopt(keepAlive, SockOpt.keepAlive)).toBe(1);
    plain.destroy();
    keepAlive.destroy();
  });

  test("setTimeout: 'timeout' fires on an idle socket, also while it is still connecting", async () => {
    await using server = await startServer();
    const idle = createConnection({ host: "127.0.0.1", port: server.port }, { connector });
    await once(idle, "connect");
    idle.setTimeout(20);
    await once(idle, "timeout");
    expect(idle.destroyed).toBe(false);
    idle.destroy();

    using hanging = await hangingTarget(connector);
    const connecting = createConnection({ host: "127.0.0.1", port: hanging.port }, { connector });
    connecting.setTimeout(20);
    await once(connecting, "timeout");
    expect(connecting.connecting).toBe(true);
    connecting.destroy();
  });

  test("unref(): the process exits with the connection still open; ref() again: it lives until the server closes it", async () => {
    const fixture = join(import.meta.dir, "ref-fixture.ts");
    const run = async (mode: string, onConnected: () => PromiseLike<void>) => {
      const finished = runProcess([process.execPath, fixture, String(server.port), mode], { timeoutMs: 30_000 });
      // accepted(), not open(): an unref'd fixture may exit, closing its
      // connection, before a poll sees it open.
      await waitFor(() => server.accepted() === 1, "the fixture's connection");
      await onConnected();
      const { code, stdout, stderr } = await finished;
      expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
      return stdout;
    };
    let server = await startServer();
    // unref'd: exits on its own, never seeing the connection close.
    expect(await run("unref", async () => {})).toBe("connected\n");
    await server[Symbol.asyncDispose]();
    // ref'd again: still running when the server closes the connection.
    server = await startServer();
    expect(await run("ref", () => server[Symbol.asyncDispose]())).toBe("connected\nclosed\n");
  });
});

describe("adoptNetSocket", () => {
  test("wraps a connected fd from connectFd; 'connect' and 'ready' are emitted before it returns", async () => {
    await using server = await startServer({ echo: true });
    const fd = await connector.connectFd({ host: "127.0.0.1", port: server.port });
    const socket = new net.Socket();
    const events = recordEvents(socket);
    expect(adoptNetSocket(fd, socket)).toBe(socket);
    expect(events).toEqual(["connect", "ready"]);
    socket.end("adopted");
    expect(await receiveAll(socket)).toBe("adopted");
  });
});

describe("adapters check their options when made", () => {
  const adapters = { ioredisConnector, pgStream, postgresSocket, mysql2Stream, undiciConnect, createConnection: (o: object) => createConnection(undefined, o) };
  for (const [name, make] of Object.entries(adapters)) {
    test(`${name}: a misspelt option is a TypeError naming it; a bad value a TypeError/RangeError`, () => {
      expect(() => make({ localAdress: "127.0.0.1" } as object)).toThrow('options.localAdress is not a known option; did you mean "localAddress"?');
      expect(() => make({ pool: {} } as object)).toThrow("options.pool must be a Pool, got an object");
      expect(() => make({ timeout: -5 })).toThrow(RangeError);
      expect(() => make({ connector: "shared" } as object)).toThrow(TypeError);
      expect(() => make({ localAddress: "::1", connector })).not.toThrow();
    });
  }
});
