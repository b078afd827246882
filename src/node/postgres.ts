/**
 * postgres.js' `socket` option: `postgres({ socket: postgresSocket() })`.
 *
 * postgres.js calls it with its parsed options for each connection and
 * expects a promise of a connected socket; it then speaks (and does TLS,
 * `ssl`, and keep_alive) on that socket itself.
 */
import type net from "node:net";
import type { Target } from "../address.ts";
import { checkNodeOptions, type NodeConnectOptions } from "./options.ts";
import { connectNetWith } from "./socket.ts";

/** What the socket function reads from postgres.js' parsed options (hosts and ports are lists). */
export interface PostgresConnectionOptions {
  host: readonly string[];
  port: readonly number[];
  /** The unix socket's full path, when postgres.js connects to one. */
  path?: string | false | undefined;
}

/**
 * A socket function for postgres.js: connects to its `path`, or to each of
 * its hosts in turn until one accepts, through a Connector with `options`.
 *
 * Returns the function. Throws TypeError/RangeError for bad options.
 * Notes: the promise rejects with the last host's ConnectError when none
 * accepts, and postgres.js fails the query with it.
 */
export function postgresSocket(options?: NodeConnectOptions): (postgresOptions: PostgresConnectionOptions) => Promise<net.Socket> {
  const checked = checkNodeOptions(options);
  return async ({ host, port, path }) => {
    if (path) return connectNetWith(checked, { unix: path });
    const targets: Target[] = host.map((name, i) => ({ host: name, port: port[i] ?? port[0]! }));
    let failure: unknown;
    for (const target of targets) {
      try {
        return await connectNetWith(checked, target);
      } catch (error) {
        failure = error;
      }
    }
    throw failure;
  };
}
