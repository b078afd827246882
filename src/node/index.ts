/**
 * uring-connect/node: node:net sockets connected through io_uring, and the
 * one-line hooks that make ioredis, pg, postgres.js, mysql2 and undici
 * connect through a Connector.
 */
export { connectNet, createConnection } from "./socket.ts";
export { adoptNetSocket } from "./adopt-net.ts";
export { ioredisConnector, type IoredisConnectionOptions, type IoredisConnectorClass } from "./ioredis.ts";
export { pgStream } from "./pg.ts";
export { postgresSocket, type PostgresConnectionOptions } from "./postgres.ts";
export { mysql2Stream, type Mysql2ConnectionConfig } from "./mysql2.ts";
export { undiciConnect, type UndiciConnectCallback, type UndiciConnectParams } from "./undici.ts";
export type { NodeConnectOptions } from "./options.ts";
