/**
 * The options every node:net entry point and client adapter takes: the
 * connect options plus which Connector to connect through. Checked once,
 * when the socket or adapter is made, so a mistake is a TypeError at the
 * line that made it rather than an 'error' event at the first connect.
 */
import { Connector } from "../connector.ts";
import { invalidType } from "../errors.ts";
import { sharedConnector } from "../index.ts";
import { checkConnectOptions, rejectUnknownKeys, type ConnectOptions } from "../options.ts";

/** Connect options plus the Connector to connect through. Any other key is a TypeError. */
export interface NodeConnectOptions extends ConnectOptions {
  /** The Connector to connect through; default: the shared one (`sharedConnector()`). */
  connector?: Connector;
}

const NODE_OPTION_KEYS = [
  "timeout",
  "signal",
  "localAddress",
  "noDelay",
  "keepAlive",
  "autoSelectFamily",
  "autoSelectFamilyAttemptTimeout",
  "connector",
] as const satisfies readonly (keyof NodeConnectOptions)[];

// A key added to NodeConnectOptions (or ConnectOptions) without being added
// to the list above would be rejected as unknown: make that a compile error.
type UnlistedKey = Exclude<keyof NodeConnectOptions, (typeof NODE_OPTION_KEYS)[number]>;
const everyKeyListed: [UnlistedKey] extends [never] ? true : never = true;
void everyKeyListed;

/** Checked options: the connect options as given and the Connector, resolved at each connect. */
export interface CheckedNodeOptions {
  readonly connect: ConnectOptions;
  /** The Connector for the next connect (the shared one is recreated if it was closed). */
  connector(): Connector;
}

/**
 * Check `options` (TypeError/RangeError naming the field, before anything is
 * opened) and split off the Connector. `field` names the object in messages.
 */
export function checkNodeOptions(options: unknown, field = "options"): CheckedNodeOptions {
  if (options === undefined) return { connect: {}, connector: sharedConnector };
  if (options === null || typeof options !== "object" || Array.isArray(options)) throw invalidType(field, "an object", options);
  rejectUnknownKeys(options, NODE_OPTION_KEYS, field);
  const { connector, ...connect } = options as NodeConnectOptions;
  checkConnectOptions(connect, field);
  if (connector === undefined) return { connect, connector: sharedConnector };
  if (!(connector instanceof Connector)) throw invalidType(`${field}.connector`, "a Connector", connector);
  return { connect, connector: () => connector };
}
