/**
 * mysql2's `stream` option: `mysql.createConnection({ stream: mysql2Stream() })`,
 * and the same in `createPool` options, which call it for each connection.
 *
 * mysql2 calls the factory with `{ config }` and listens to the stream at
 * once (the server speaks first), so the stream is a UringSocket already
 * connecting to `config.host`/`config.port` (or `config.socketPath`). mysql2
 * does its own TLS (`ssl`) and `connectTimeout` on it.
 */
import type net from "node:net";
import { checkNodeOptions, type NodeConnectOptions } from "./options.ts";
import { createConnectionWith } from "./socket.ts";

/** What the factory reads from mysql2's connection config. */
export interface Mysql2ConnectionConfig {
  host?: string;
  port?: number;
  socketPath?: string;
  enableKeepAlive?: boolean;
  keepAliveInitialDelay?: number;
}

/**
 * A stream factory for mysql2: each call makes a socket connecting through a
 * Connector with `options`.
 *
 * Returns the factory. Throws TypeError/RangeError for bad options.
 * Notes: mysql2 turns keep-alive on (`enableKeepAlive`, `keepAliveInitialDelay`)
 * only on sockets it opens itself, so the factory does it unless
 * `options.keepAlive` is given (TCP_NODELAY, which mysql2 also sets, is on
 * in every Bun net socket). A connect failure reaches mysql2 as the
 * stream's 'error': the connection fails with the ConnectError.
 */
export function mysql2Stream(options?: NodeConnectOptions): (mysqlOptions: { config: Mysql2ConnectionConfig }) => net.Socket {
  const checked = checkNodeOptions(options);
  return ({ config }) => {
    if (config.socketPath) return createConnectionWith(checked, { unix: config.socketPath });
    const socket = createConnectionWith(checked, { host: config.host ?? "localhost", port: config.port ?? 3306 });
    if (config.enableKeepAlive && checked.connect.keepAlive === undefined) socket.setKeepAlive(true, config.keepAliveInitialDelay);
    return socket;
  };
}
