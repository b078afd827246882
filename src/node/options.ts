/**
 * The options every node:net entry point and client adapter takes: the
 * connect options plus which Connector to connect through, or a Pool to
 * take connections from. Checked once, when the socket or adapter is made,
 * so a mistake is a TypeError at the line that made it rather than an
 * 'error' event at the first connect.
 */
import { Connector } from "../connector.ts";
import { invalidInput, invalidType } from "../errors.ts";
import { sharedConnector } from "../index.ts";
import { CONNECT_OPTION_KEYS, checkConnectOptions, rejectUnknownKeys, type ConnectOptions } from "../options.ts";
import { Pool } from "../pool/pool.ts";

/** Connect options plus the Connector to connect through, or a Pool. Any other key is a TypeError. */
export interface NodeConnectOptions extends ConnectOptions {
  /** The Connector to connect through; default: the shared one (`sharedConnector()`). */
  connector?: Connector;
  /**
   * Take each connection from this Pool (`acquireNet`) instead of
   * connecting: it goes to the pool's target, opened with the pool's
   * options, so only `signal` may be given beside it. A socket the client
   * closes is dropped by the pool.
   */
  pool?: Pool;
}

const NODE_OPTION_KEYS = [...CONNECT_OPTION_KEYS, "connector", "pool"] as const satisfies readonly (keyof NodeConnectOptions)[];

// A key added to NodeConnectOptions without being added to the list above
// would be rejected as unknown: make that a compile error.
type UnlistedKey = Exclude<keyof NodeConnectOptions, (typeof NODE_OPTION_KEYS)[number]>;
const everyKeyListed: [UnlistedKey] extends [never] ? true : never = true;
void everyKeyListed;

/** Checked options: the connect options as given and the Connector, resolved at each connect, or the Pool. */
export interface CheckedNodeOptions {
  readonly connect: ConnectOptions;
  /** The Connector for the next connect (the shared one is recreated if it was closed). */
  connector(): Connector;
  /** The Pool to take connections from instead; `connect` then holds at most a signal. */
  readonly pool?: Pool;
}

/**
 * Check `options` (TypeError/RangeError naming the field, before anything is
 * opened) and split off the Connector. `field` names the object in messages.
 */
export function checkNodeOptions(options: unknown, field = "options"): CheckedNodeOptions {
  if (options === undefined) return { connect: {}, connector: sharedConnector };
  if (options === null || typeof options !== "object" || Array.isArray(options)) throw invalidType(field, "an object", options);
  rejectUnknownKeys(options, NODE_OPTION_KEYS, field);
  const { connector, pool, ...connect } = options as NodeConnectOptions;
  checkConnectOptions(connect, field);
  if (pool !== undefined) return { connect, connector: sharedConnector, pool: checkPool(pool, options as NodeConnectOptions, field) };
  if (connector === undefined) return { connect, connector: sharedConnector };
  if (!(connector instanceof Connector)) throw invalidType(`${field}.connector`, "a Connector", connector);
  return { connect, connector: () => connector };
}

/**
 * `pool`, when it is a Pool given alone: its connections are opened with
 * its own options, so a Connector or connect option beside it (the signal
 * aside, which the acquire takes) would be silently ignored.
 */
function checkPool(pool: unknown, options: NodeConnectOptions, field: string): Pool {
  if (!(pool instanceof Pool)) throw invalidType(`${field}.pool`, "a Pool", pool);
  const ignored = Object.keys(options).find((key) => key !== "pool" && key !== "signal");
  if (ignored !== undefined) {
    throw invalidInput(`${field}.${ignored} cannot be given with ${field}.pool: the pool's connections are opened with the pool's own options`);
  }
  return pool;
}
