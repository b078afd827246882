/** postgres.js with `socket: postgresSocket()`, against a real PostgreSQL. */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { Connector, ConnectError } from "../../src/index.ts";
import { postgresSocket } from "../../src/node/index.ts";
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

/**
 * postgres.js documents `socket` but its types leave it out: options with
 * it, typed as postgres.js' own.
 */
function withSocket(options: postgres.Options<{}>, socket: ReturnType<typeof postgresSocket>): postgres.Options<{}> {
  return { ...options, socket } as postgres.Options<{}>;
}

describe.skipIf(skipWithout("postgres"))("postgres.js", () => {
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(() => server?.[Symbol.asyncDispose]());

  const options = (): postgres.Options<{}> => ({ host: "127.0.0.1", port: server.port, user: server.user, database: "postgres", max: 2, onnotice: () => {} });

  test("queries go over connections from the bound address, as inet_client_addr() shows; fds return after end()", async () => {
    const baseline = fdCount();
    const sql = postgres(withSocket(options(), postgresSocket({ connector, localAddress: "127.0.0.40" })));
    const [row] = await sql<{ address: string; sum: number }[]>`SELECT host(inet_client_addr()) AS address, ${40}::int + 2 AS sum`;
    expect(row).toEqual({ address: "127.0.0.40", sum: 42 });
    // Two queries at once take both of the pool's connections.
    const [a, b] = await Promise.all([
      sql`SELECT host(inet_client_addr()) AS address, pg_backend_pid() AS pid, pg_sleep(0.05)`,
      sql`SELECT host(inet_client_addr()) AS address, pg_backend_pid() AS pid, pg_sleep(0.05)`,
    ]);
    expect([a![0]!.address, b![0]!.address]).toEqual(["127.0.0.40", "127.0.0.40"]);
    expect(a![0]!.pid).not.toBe(b![0]!.pid);
    await sql.end();
    await expectClean(connector, baseline);
  });

  test("several hosts: each is tried in turn until one accepts", async () => {
    using refusing = refusingPort();
    const counting = new CountingConnector();
    const hosts = { ...options(), host: `127.0.0.1:${refusing.port},127.0.0.1:${server.port}`, port: undefined };
    const sql = postgres(withSocket(hosts, postgresSocket({ connector: counting, localAddress: "127.0.0.41" })));
    const [row] = await sql<{ address: string }[]>`SELECT host(inet_client_addr()) AS address`;
    expect(row).toEqual({ address: "127.0.0.41" });
    expect(counting.connects).toBe(2);
    await sql.end();
    counting.close();
  });

  test("a unix socket path connects through the Connector", async () => {
    const counting = new CountingConnector();
    const sql = postgres(withSocket({ ...options(), host: undefined, path: `${server.socketDir}/.s.PGSQL.${server.port}` }, postgresSocket({ connector: counting })));
    const [row] = await sql<{ address: string | null }[]>`SELECT inet_client_addr() AS address`;
    expect(row).toEqual({ address: null });
    expect(counting.connects).toBe(1);
    await sql.end();
    counting.close();
  });

  test("a refused connect fails the query with ConnectError ECONNREFUSED; nothing stays open", async () => {
    using refusing = refusingPort();
    const baseline = fdCount();
    const sql = postgres(withSocket({ ...options(), port: refusing.port }, postgresSocket({ connector })));
    const error = await sql`SELECT 1`.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect(error).toMatchObject({ code: "ECONNREFUSED", address: "127.0.0.1", port: refusing.port });
    await sql.end();
    await expectClean(connector, baseline);
  });

  test("options.timeout: a connect that hangs fails the query with ConnectError ETIMEDOUT", async () => {
    using hanging = await hangingTarget(connector);
    const baseline = fdCount();
    const sql = postgres(withSocket({ ...options(), port: hanging.port }, postgresSocket({ connector, timeout: 100 })));
    const error = await sql`SELECT 1`.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect(error).toMatchObject({ code: "ETIMEDOUT", port: hanging.port });
    await sql.end();
    await expectClean(connector, baseline);
  });
});
