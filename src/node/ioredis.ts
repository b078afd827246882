/**
 * ioredis' `Connector` option: `new Redis({ Connector: ioredisConnector() })`.
 *
 * ioredis constructs the class with its options and calls `connect()` for
 * every (re)connect, then treats the stream as it treats its own: it waits
 * for 'connect', applies `connectTimeout` through `setTimeout()`, and an
 * 'error' then 'close' lead to its retryStrategy. So the stream handed back
 * is a connecting UringSocket, not a promise that fails: a refused connect
 * is retried as with ioredis' own connector.
 */
import type net from "node:net";
import { invalidInput } from "../errors.ts";
import { checkNodeOptions, type NodeConnectOptions } from "./options.ts";
import { createConnectionWith } from "./socket.ts";

/** What the Connector reads from ioredis' options (ioredis passes all of them). */
export interface IoredisConnectionOptions {
  host?: string;
  port?: number;
  path?: string;
  tls?: unknown;
  disconnectTimeout?: number;
}

/**
 * A class for ioredis' `Connector` option, constructed with ioredis' options
 * (IoredisConnectionOptions; typed `unknown`, as ioredis declares them).
 * Its instances are typed `any`: ioredis types the option as its own
 * AbstractConnector, whose private member no class from another package
 * can match.
 */
export type IoredisConnectorClass = new (redisOptions: unknown) => any;

/** ioredis' default for how long disconnect() waits for the stream to end before destroying it. */
const DEFAULT_DISCONNECT_TIMEOUT_MS = 2000;

/**
 * A Connector class for ioredis: each connect is a `createConnection` to
 * ioredis' `host`/`port` (or `path`) with `options`.
 *
 * Returns the class. Throws TypeError/RangeError for bad options; the class
 * throws a TypeError when ioredis' options ask for TLS, which it does not do.
 * Notes: ioredis' `noDelay`, `keepAlive` and `connectTimeout` keep working
 * (ioredis applies them to the stream); `options.timeout` adds a kernel
 * limit on the connect itself, failing with ConnectError ETIMEDOUT.
 */
export function ioredisConnector(options?: NodeConnectOptions): IoredisConnectorClass {
  const checked = checkNodeOptions(options);
  return class UringRedisConnector {
    /** The first 'error' of the stream, which ioredis reports when the stream was destroyed before it listened. */
    firstError: Error | undefined;
    private connecting = false;
    private stream: net.Socket | undefined;
    private readonly target: { unix: string } | { host: string; port: number };
    private readonly disconnectTimeout: number;

    constructor(options: unknown) {
      const redisOptions = options as IoredisConnectionOptions;
      if (redisOptions.tls) throw invalidInput("ioredisConnector does not do TLS: remove the tls option or use ioredis' own connector");
      this.target = redisOptions.path ? { unix: redisOptions.path } : { host: redisOptions.host ?? "localhost", port: redisOptions.port ?? 6379 };
      this.disconnectTimeout = redisOptions.disconnectTimeout ?? DEFAULT_DISCONNECT_TIMEOUT_MS;
    }

    check(): boolean {
      return true;
    }

    /** Called by ioredis for each (re)connect; a disconnect() before it settles makes it reject, as ioredis' own does. */
    async connect(): Promise<net.Socket> {
      this.connecting = true;
      // Like ioredis' StandaloneConnector: a disconnect() in this tick wins.
      await new Promise<void>((resolve) => process.nextTick(resolve));
      if (!this.connecting) throw new Error("Connection is closed."); // ioredis' own words for this case
      const stream = createConnectionWith(checked, this.target);
      stream.once("error", (error) => (this.firstError = error));
      this.stream = stream;
      return stream;
    }

    disconnect(): void {
      this.connecting = false;
      const stream = this.stream;
      if (!stream) return;
      // As ioredis' own connectors: end gracefully, destroy if that takes too long.
      const timer = setTimeout(() => stream.destroy(), this.disconnectTimeout);
      stream.once("close", () => clearTimeout(timer));
      stream.end();
    }
  };
}
