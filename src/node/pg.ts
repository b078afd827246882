/**
 * pg's `stream` option: `new pg.Client({ stream: pgStream() })`, and the same
 * for `pg.Pool`, which gives each of its clients a fresh stream.
 *
 * pg calls the factory for each connection, then `stream.connect(port, host)`
 * (or `connect(path)` for a unix socket) and waits for 'connect': the stream
 * is a UringSocket that connects when asked. pg does its own TLS on top
 * (`ssl`), setNoDelay, keepAlive and connectionTimeoutMillis through the
 * stream's methods, so those keep working.
 */
import type net from "node:net";
import { checkNodeOptions, type NodeConnectOptions } from "./options.ts";
import { createConnectionWith } from "./socket.ts";

/**
 * A stream factory for pg: each call makes an unconnected socket whose
 * `connect()` goes through a Connector with `options`.
 *
 * Returns the factory. Throws TypeError/RangeError for bad options.
 * Notes: a connect failure reaches pg as the stream's 'error', so
 * `client.connect()` rejects with the ConnectError itself.
 */
export function pgStream(options?: NodeConnectOptions): (config?: unknown) => net.Socket {
  const checked = checkNodeOptions(options);
  return () => createConnectionWith(checked);
}
