/** mysql2 (connections and pools) with `stream: mysql2Stream()`, against a real MariaDB. */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import mysql from "mysql2/promise";
import type net from "node:net";
import { Connector, ConnectError } from "../../src/index.ts";
import { mysql2Stream } from "../../src/node/index.ts";
import { expectClean, fdCount } from "../harness.ts";
import { refusingPort } from "../fixtures/sockets.ts";
import { skipWithout, startMariadb, type MariadbServer } from "../../tools/servers.ts";
import { CountingConnector, hangingTarget, SockOpt, sockopt } from "./support.ts";

let server: MariadbServer;
let connector: Connector;
beforeEach(() => {
  connector = new Connector();
});
afterEach(() => connector.close());

/** Who MariaDB says this session is: `user@host` as the client connected. */
async function sessionUser(connection: mysql.Connection | mysql.Pool): Promise<string> {
  const [rows] = await connection.query<mysql.RowDataPacket[]>("SELECT USER() AS user");
  return rows[0]!.user;
}

describe.skipIf(skipWithout("mariadb"))("mysql2", () => {
  beforeAll(async () => {
    server = await startMariadb();
  });
  afterAll(() => server?.[Symbol.asyncDispose]());

  const config = () => ({ host: "127.0.0.1", port: server.port, user: server.user });

  test("a connection comes from the bound address, as USER() shows; fds return after end()", async () => {
    const baseline = fdCount();
    const connection = await mysql.createConnection({ ...config(), stream: mysql2Stream({ connector, localAddress: "127.0.0.50" }) });
    expect(await sessionUser(connection)).toBe("uc@127.0.0.50");
    const [rows] = await connection.query<mysql.RowDataPacket[]>("SELECT ? + ? AS sum", [40, 2]);
    expect(rows[0]!.sum).toBe(42);
    await connection.end();
    await expectClean(connector, baseline);
  });

  test("a pool opens each connection through the Connector", async () => {
    const baseline = fdCount();
    const pool = mysql.createPool({ ...config(), connectionLimit: 3, stream: mysql2Stream({ connector, localAddress: "127.0.0.51" }) });
    const connections = await Promise.all([pool.getConnection(), pool.getConnection(), pool.getConnection()]);
    const users = await Promise.all(connections.map((connection) => sessionUser(connection)));
    expect(users).toEqual(["uc@127.0.0.51", "uc@127.0.0.51", "uc@127.0.0.51"]);
    const [rows] = await connections[0]!.query<mysql.RowDataPacket[]>(
      "SELECT count(*) AS n FROM information_schema.processlist WHERE host LIKE '127.0.0.51:%'",
    );
    expect(rows[0]!.n).toBe(3);
    for (const connection of connections) connection.release();
    await pool.end();
    await expectClean(connector, baseline);
  });

  test("mysql2's enableKeepAlive is applied to the stream, as to mysql2's own sockets", async () => {
    const connection = await mysql.createConnection({
      ...config(),
      enableKeepAlive: true,
      keepAliveInitialDelay: 20_000,
      stream: mysql2Stream({ connector }),
    });
    // mysql2/promise wraps the callback connection, which holds the stream.
    const { stream } = (connection as unknown as { connection: { stream: net.Socket } }).connection;
    expect(sockopt(stream, SockOpt.keepAlive)).toBe(1);
    expect(sockopt(stream, SockOpt.keepIdle)).toBe(20);
    await connection.end();
  });

  test("a unix socketPath connects through the Connector", async () => {
    const counting = new CountingConnector();
    const connection = await mysql.createConnection({ socketPath: server.socketPath, user: "root", stream: mysql2Stream({ connector: counting }) });
    expect(await sessionUser(connection)).toBe("root@localhost");
    expect(counting.connects).toBe(1);
    await connection.end();
    counting.close();
  });

  test("a refused connect fails createConnection with ConnectError ECONNREFUSED; nothing stays open", async () => {
    using refusing = refusingPort();
    const baseline = fdCount();
    const error = await mysql.createConnection({ ...config(), port: refusing.port, stream: mysql2Stream({ connector }) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect(error).toMatchObject({ code: "ECONNREFUSED", address: "127.0.0.1", port: refusing.port });
    await expectClean(connector, baseline);
  });

  test("options.timeout: a connect that hangs fails createConnection with ConnectError ETIMEDOUT", async () => {
    using hanging = await hangingTarget(connector);
    const baseline = fdCount();
    const error = await mysql.createConnection({ ...config(), port: hanging.port, stream: mysql2Stream({ connector, timeout: 100 }) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect(error).toMatchObject({ code: "ETIMEDOUT", port: hanging.port });
    await expectClean(connector, baseline);
  });

  test("mysql2's own connectTimeout still applies: it destroys the connecting stream, and the Connector closes its fd", async () => {
    using hanging = await hangingTarget(connector);
    const baseline = fdCount();
    const error = await mysql.createConnection({ ...config(), port: hanging.port, connectTimeout: 50, stream: mysql2Stream({ connector }) }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ETIMEDOUT", message: "connect ETIMEDOUT" });
    await expectClean(connector, baseline);
  });
});
