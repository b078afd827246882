/** pg (Client and Pool) with `stream: pgStream()`, against a real PostgreSQL. */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import pg from "pg";
import { Connector, ConnectError } from "../../src/index.ts";
import { pgStream } from "../../src/node/index.ts";
import { expectClean, fdCount } from "../harness.ts";
import { refusingPort } from "../fixtures/sockets.ts";
import { skipWithout, startPostgres, type PostgresServer } from "../../tools/servers.ts";
import { CountingConnector, hangingTarget } from "./support.ts";

let server: PostgresServer;
let connector: Connector;
beforeEach(() => {
  connector = new Connector();
});
afterEach(() => connector.close());

/** Where PostgreSQL says this session's connection comes from (null over a unix socket). */
async function clientAddress(client: pg.Client | pg.PoolClient | pg.Pool): Promise<string | null> {
  const { rows } = await client.query<{ address: string | null }>("SELECT host(inet_client_addr()) AS address");
  return rows[0]!.address;
}

describe.skipIf(skipWithout("postgres"))("pg", () => {
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(() => server?.[Symbol.asyncDispose]());

  const config = () => ({ host: "127.0.0.1", port: server.port, user: server.user, database: "postgres" });

  test("pg.Client queries over a connection from the bound address, as inet_client_addr() shows; fds return after end()", async () => {
    const baseline = fdCount();
    const client = new pg.Client({ ...config(), stream: pgStream({ connector, localAddress: "127.0.0.30" }) });
    await client.connect();
    expect(await clientAddress(client)).toBe("127.0.0.30");
    const { rows } = await client.query<{ sum: number }>("SELECT $1::int + $2::int AS sum", [40, 2]);
    expect(rows).toEqual([{ sum: 42 }]);
    await client.end();
    await expectClean(connector, baseline);
  });

  test("pg.Pool gives each of its clients its own stream, all through the Connector", async () => {
    const baseline = fdCount();
    const pool = new pg.Pool({ ...config(), max: 3, stream: pgStream({ connector, localAddress: "127.0.0.31" }) });
    const clients = await Promise.all([pool.connect(), pool.connect(), pool.connect()]);
    const addresses = await Promise.all(clients.map((client) => clientAddress(client)));
    expect(addresses).toEqual(["127.0.0.31", "127.0.0.31", "127.0.0.31"]);
    const { rows } = await clients[0]!.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE client_addr = '127.0.0.31'");
    expect(rows).toEqual([{ n: "3" }]);
    for (const client of clients) client.release();
    await pool.end();
    await expectClean(connector, baseline);
  });

  test("a unix socket host (a directory) connects to its .s.PGSQL.<port> through the Connector", async () => {
    const counting = new CountingConnector();
    const client = new pg.Client({ ...config(), host: server.socketDir, stream: pgStream({ connector: counting }) });
    await client.connect();
    expect(await clientAddress(client)).toBeNull();
    expect(counting.connects).toBe(1);
    await client.end();
    counting.close();
  });

  test("a refused connect rejects client.connect() with ConnectError ECONNREFUSED; nothing stays open", async () => {
    using refusing = refusingPort();
    const baseline = fdCount();
    const client = new pg.Client({ ...config(), port: refusing.port, stream: pgStream({ connector }) });
    const error = await client.connect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect(error).toMatchObject({ code: "ECONNREFUSED", address: "127.0.0.1", port: refusing.port });
    await expectClean(connector, baseline);
  });

  test("options.timeout: a connect that hangs rejects client.connect() with ConnectError ETIMEDOUT", async () => {
    using hanging = await hangingTarget(connector);
    const baseline = fdCount();
    const client = new pg.Client({ ...config(), port: hanging.port, stream: pgStream({ connector, timeout: 100 }) });
    const error = await client.connect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect(error).toMatchObject({ code: "ETIMEDOUT", port: hanging.port });
    await expectClean(connector, baseline);
  });

  test("pg's own connectionTimeoutMillis still applies: it destroys the connecting stream, and the Connector closes its fd", async () => {
    using hanging = await hangingTarget(connector);
    const baseline = fdCount();
    const client = new pg.Client({ ...config(), port: hanging.port, connectionTimeoutMillis: 50, stream: pgStream({ connector }) });
    const error = await client.connect().catch((e: unknown) => e);
    // The error pg destroys the stream with, as it gives with its own sockets in Bun.
    expect((error as Error).message).toBe("timeout expired");
    await expectClean(connector, baseline);
  });
});
