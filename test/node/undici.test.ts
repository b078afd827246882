/**
 * undici (Agent, Pool, Client) with `connect: undiciConnect()`, against a
 * real Bun.serve that answers with the address each request came from.
 *
 * In Bun, `import "undici"` is Bun's own module, which ignores `connect` and
 * `dispatcher`: the npm package is loaded by its path.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { dirname, join } from "node:path";
import type * as Undici from "undici";
import { ConnectError } from "../../src/index.ts";
import { undiciConnect } from "../../src/node/index.ts";
import { expectClean, fdCount } from "../harness.ts";
import { refusingPort } from "../fixtures/sockets.ts";
import { CountingConnector, hangingTarget } from "./support.ts";

const undici: typeof Undici = require(join(dirname(require.resolve("undici/package.json")), "index.js"));

let server: ReturnType<typeof Bun.serve>;
let origin: string;
let connector: CountingConnector;
beforeAll(() => {
  server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (request, s) => Response.json(s.requestIP(request)) });
  origin = `http://127.0.0.1:${server.port}`;
});
afterAll(() => server.stop(true));
beforeEach(() => {
  connector = new CountingConnector();
});
afterEach(() => connector.close());

/** Where the server saw a GET / through `dispatcher` come from. */
async function requestPeer(dispatcher: Undici.Dispatcher, url = origin): Promise<{ address: string; port: number }> {
  const response = await undici.request(url, { dispatcher });
  return (await response.body.json()) as { address: string; port: number };
}

/** The address the server saw a GET / through `dispatcher` come from. */
async function requestIp(dispatcher: Undici.Dispatcher, url = origin): Promise<string> {
  return (await requestPeer(dispatcher, url)).address;
}

describe("undici", () => {
  test("the npm package is the one loaded: Bun's built-in undici would ignore the dispatcher", () => {
    expect(undici.Agent).not.toBe(require("undici").Agent);
  });

  test("an Agent's requests come from the bound address, as the server's requestIP shows; fds return after close()", async () => {
    const baseline = fdCount();
    const agent = new undici.Agent({ connect: undiciConnect({ connector, localAddress: "127.0.0.60" }) });
    expect(await requestIp(agent)).toBe("127.0.0.60");
    await agent.close();
    await expectClean(connector, baseline);
  });

  test("a Pool opens each of its connections through the Connector", async () => {
    const baseline = fdCount();
    const pool = new undici.Pool(origin, { connections: 3, connect: undiciConnect({ connector, localAddress: "127.0.0.61" }) });
    const peers = await Promise.all([requestPeer(pool), requestPeer(pool), requestPeer(pool)]);
    expect(peers.map((peer) => peer.address)).toEqual(["127.0.0.61", "127.0.0.61", "127.0.0.61"]);
    // Only the Connector binds 127.0.0.61; it opened at least each connection the server saw.
    expect(connector.connects).toBeGreaterThanOrEqual(new Set(peers.map((peer) => peer.port)).size);
    await pool.close();
    await expectClean(connector, baseline);
  });

  test("a Client keeps its one connection alive across requests", async () => {
    const client = new undici.Client(origin, { connect: undiciConnect({ connector, localAddress: "127.0.0.62" }) });
    for (let i = 0; i < 3; i++) expect(await requestIp(client)).toBe("127.0.0.62");
    expect(connector.connects).toBe(1);
    await client.close();
  });

  test("the dispatcher's localAddress is used when the options have none", async () => {
    const client = new undici.Client(origin, { localAddress: "127.0.0.63", connect: undiciConnect({ connector }) });
    expect(await requestIp(client)).toBe("127.0.0.63");
    await client.close();
  });

  test("a refused connect fails the request with ConnectError ECONNREFUSED; nothing stays open", async () => {
    using refusing = refusingPort();
    const baseline = fdCount();
    const agent = new undici.Agent({ connect: undiciConnect({ connector }) });
    const error = await requestIp(agent, `http://127.0.0.1:${refusing.port}`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect(error).toMatchObject({ code: "ECONNREFUSED", address: "127.0.0.1", port: refusing.port });
    await agent.close();
    await expectClean(connector, baseline);
  });

  test("options.timeout: a connect that hangs fails the request with ConnectError ETIMEDOUT", async () => {
    using hanging = await hangingTarget(connector);
    const baseline = fdCount();
    const agent = new undici.Agent({ connect: undiciConnect({ connector, timeout: 100 }) });
    const error = await requestIp(agent, `http://127.0.0.1:${hanging.port}`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect(error).toMatchObject({ code: "ETIMEDOUT", port: hanging.port });
    await agent.close();
    await expectClean(connector, baseline);
  });

  test("an https: origin fails with a TypeError: the connect function does no TLS", async () => {
    const agent = new undici.Agent({ connect: undiciConnect({ connector }) });
    const error = await requestIp(agent, `https://127.0.0.1:${server.port}`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe("undiciConnect connects plain TCP (http:) only, not https:");
    await agent.close();
  });
});
