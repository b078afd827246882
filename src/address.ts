/**
 * Targets: validating what callers pass, parsing IPv4/IPv6 literals,
 * resolving host names through Bun's DNS, and encoding each endpoint as the
 * kernel's sockaddr bytes once, so a connect only copies them into its slot.
 */
import { readFileSync } from "node:fs";
import { dnsError, invalidInput, invalidRange, invalidType, invalidValue } from "./errors.ts";

/** Where to connect: a TCP host (name or literal) and port, or a unix socket path. */
export type Target = { host: string; port: number } | { unix: string };

/** Linux's address family numbers, as sockaddr's first field carries them. */
export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
/** The address families uring-connect connects over. */
export type Family = typeof AF_UNIX | typeof AF_INET | typeof AF_INET6;

/** sun_path is 108 bytes including the terminating NUL. */
export const UNIX_PATH_MAX = 108;

/** One concrete peer, encoded as a sockaddr ready for the kernel. */
export interface Endpoint {
  readonly family: Family;
  /** The sockaddr bytes (sockaddr_in, sockaddr_in6 or sockaddr_un). */
  readonly sockaddr: Uint8Array;
  /** The IP address or unix path, as errors report it. */
  readonly address: string;
  /** The TCP port; undefined for unix sockets. */
  readonly port: number | undefined;
}

/** A validated target: either endpoints ready now or a host name to resolve. */
export type ParsedTarget =
  | { kind: "endpoint"; endpoints: readonly [Endpoint] }
  | { kind: "name"; host: string; port: number };

/**
 * Validate a target and encode it when it is a literal or a unix path.
 * Throws TypeError/RangeError naming the field for bad input.
 */
export function parseTarget(target: unknown, field = "target"): ParsedTarget {
  if (target === null || typeof target !== "object" || Array.isArray(target)) {
    throw invalidType(field, "an object { host, port } or { unix }", target);
  }
  const t = target as Record<string, unknown>;
  // Callers that connect to one target many times pass the same object:
  // reuse its encoding while its fields are unchanged.
  const keys = ("host" in t ? 1 : 0) | ("port" in t ? 2 : 0) | ("unix" in t ? 4 : 0);
  const cached = parsedTargets.get(t);
  if (cached && cached.keys === keys && cached.host === t.host && cached.port === t.port && cached.unix === t.unix) return cached.parsed;
  const parsed = parseFields(t, field);
  parsedTargets.set(t, { keys, host: t.host, port: t.port, unix: t.unix, parsed });
  return parsed;
}

const parsedTargets = new WeakMap<object, { keys: number; host: unknown; port: unknown; unix: unknown; parsed: ParsedTarget }>();

function parseFields(t: Record<string, unknown>, field: string): ParsedTarget {
  if ("unix" in t) {
    if ("host" in t || "port" in t) {
      throw invalidInput(`${field} must have either unix or host and port, not both`);
    }
    return { kind: "endpoint", endpoints: [encodeUnix(t.unix, `${field}.unix`)] };
  }
  if (!("host" in t)) {
    throw invalidInput(`${field} must have a host and port, or a unix path (unknown family)`);
  }
  const port = validatePort(t.port, `${field}.port`);
  const host = validateHost(t.host, `${field}.host`);
  const literal = encodeIp(host, port);
  // As a one-element list, the form connects take: a cached target then costs no array per connect.
  if (literal) return { kind: "endpoint", endpoints: [literal] };
  // A host name never has ":" or "%", nor brackets: that was a bad IPv6 literal.
  if (/[:%[\]]/.test(host) || t.host !== host) throw invalidValue(`${field}.host`, "a host name or a valid IP address", t.host);
  return { kind: "name", host, port };
}

function validatePort(port: unknown, field: string): number {
  if (typeof port !== "number") throw invalidType(field, "an integer in 1..65535", port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalidRange(field, "an integer in 1..65535", port);
  }
  return port;
}

function validateHost(host: unknown, field: string): string {
  if (typeof host !== "string") throw invalidType(field, "a non-empty string", host);
  if (host.length === 0) throw invalidValue(field, "a non-empty string", host);
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (bare.length === 0 || /[\s\0/]/.test(bare) || bare.length > 253) {
    throw invalidValue(field, "a host name or IP address", host);
  }
  return bare;
}

/** Parse a dotted-quad IPv4 literal (no leading zeros) into 4 bytes, or null. */
export function parseIPv4(text: string): Uint8Array | null {
  const bytes = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 46; /* "." ends the last part */
    if (c === 46) {
      if (digits === 0 || part > 3) return null;
      bytes[part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && value === 0) return null; // a leading zero
      value = value * 10 + (c - 48);
      if (++digits > 3 || value > 255) return null;
    } else {
      return null;
    }
  }
  return part === 4 ? bytes : null;
}

/** Parse an IPv6 literal (with `::`, embedded IPv4 and `%zone`) or return null. */
export function parseIPv6(text: string): { bytes: Uint8Array; scopeId: number } | null {
  let body = text;
  let scopeId = 0;
  const percent = text.indexOf("%");
  if (percent >= 0) {
    const zone = text.slice(percent + 1);
    body = text.slice(0, percent);
    const id = zoneIndex(zone);
    if (id === null) return null;
    scopeId = id;
  }
  const halves = body.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const groups: number[] = [];
  const pushGroups = (list: string[], out: number[]): boolean => {
    for (let i = 0; i < list.length; i++) {
      const group = list[i]!;
      if (i === list.length - 1 && group.includes(".")) {
        const v4 = parseIPv4(group);
        if (!v4) return false;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(group)) {
        out.push(parseInt(group, 16));
      } else {
        return false;
      }
    }
    return true;
  };
  const tailGroups: number[] = [];
  if (!pushGroups(head, groups) || !pushGroups(tail, tailGroups)) return null;
  // An embedded IPv4 address may only end the literal.
  if (halves.length === 2 && head.some((g) => g.includes("."))) return null;
  const missing = 8 - groups.length - tailGroups.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...groups, ...new Array<number>(halves.length === 1 ? 0 : missing).fill(0), ...tailGroups];
  const bytes = new Uint8Array(16);
  all.forEach((group, i) => {
    bytes[i * 2] = group >> 8;
    bytes[i * 2 + 1] = group & 0xff;
  });
  return { bytes, scopeId };
}

/** A zone is a numeric scope id or an interface name; names map through sysfs. */
function zoneIndex(zone: string): number | null {
  if (/^[0-9]{1,10}$/.test(zone)) {
    const id = Number(zone);
    return id <= 0xffffffff ? id : null;
  }
  if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(zone)) return null;
  try {
    return Number(readFileSync(`/sys/class/net/${zone}/ifindex`, "utf8").trim());
  } catch {
    return null;
  }
}

/**
 * sockaddr fields are little-endian (family, scope id) or network order
 * (port). Written byte by byte: a DataView would make the engine materialise
 * an ArrayBuffer for every new sockaddr, which costs more than the encoding.
 */
function putFamily(sockaddr: Uint8Array, family: number): void {
  sockaddr[0] = family & 0xff;
  sockaddr[1] = family >> 8;
}

function putPort(sockaddr: Uint8Array, port: number): void {
  sockaddr[2] = port >> 8;
  sockaddr[3] = port & 0xff;
}

/** Encode an IP literal and port as a sockaddr; null when `host` is not a literal. */
export function encodeIp(host: string, port: number): Endpoint | null {
  const v4 = parseIPv4(host);
  if (v4) {
    const sockaddr = new Uint8Array(16);
    putFamily(sockaddr, AF_INET);
    putPort(sockaddr, port);
    sockaddr.set(v4, 4);
    return { family: AF_INET, sockaddr, address: host, port };
  }
  if (!host.includes(":")) return null;
  const v6 = parseIPv6(host);
  if (!v6) return null;
  const sockaddr = new Uint8Array(28);
  putFamily(sockaddr, AF_INET6);
  putPort(sockaddr, port);
  sockaddr.set(v6.bytes, 8);
  for (let i = 0; i < 4; i++) sockaddr[24 + i] = (v6.scopeId >>> (8 * i)) & 0xff;
  return { family: AF_INET6, sockaddr, address: host, port };
}

/**
 * Encode a unix socket path (a leading NUL selects the abstract namespace).
 * Throws when it is empty or longer than sun_path allows.
 */
export function encodeUnix(path: unknown, field = "unix"): Endpoint {
  if (typeof path !== "string") throw invalidType(field, "a non-empty path string", path);
  if (path.length === 0) throw invalidValue(field, "a non-empty path string", path);
  const bytes = new TextEncoder().encode(path);
  const abstract = bytes[0] === 0;
  if (!abstract && bytes.includes(0)) throw invalidValue(field, "a path without NUL bytes", path);
  // A filesystem path needs room for its terminating NUL.
  const limit = abstract ? UNIX_PATH_MAX : UNIX_PATH_MAX - 1;
  if (bytes.length > limit) {
    throw invalidRange(field, `at most ${limit} bytes (sun_path is ${UNIX_PATH_MAX})`, `${bytes.length} bytes`);
  }
  const length = 2 + bytes.length + (abstract ? 0 : 1);
  const sockaddr = new Uint8Array(length);
  putFamily(sockaddr, AF_UNIX);
  sockaddr.set(bytes, 2);
  return { family: AF_UNIX, sockaddr, address: path, port: undefined };
}

/** Encode a local address to bind before connecting (port 0: the kernel picks). */
export function encodeLocalAddress(localAddress: unknown, field = "localAddress"): Endpoint {
  if (typeof localAddress !== "string") throw invalidType(field, "an IP address string", localAddress);
  const endpoint = encodeIp(localAddress, 0);
  if (!endpoint) throw invalidValue(field, "an IPv4 or IPv6 literal", localAddress);
  return endpoint;
}

/**
 * Resolve a host name to endpoints in the order DNS gives them, keeping only
 * `family` when set (to match a local address).
 * Rejects with the DNS error (code ENOTFOUND and friends) when nothing resolves.
 */
export async function resolveName(host: string, port: number, family?: Family): Promise<Endpoint[]> {
  const records = await Bun.dns.lookup(host, family ? { family: family === AF_INET6 ? 6 : 4 } : {}).catch((cause) => {
    throw dnsError(host, cause);
  });
  const endpoints: Endpoint[] = [];
  for (const record of records) {
    const endpoint = encodeIp(record.address, port);
    if (endpoint && (!family || endpoint.family === family)) endpoints.push(endpoint);
  }
  if (endpoints.length === 0) throw dnsError(host, undefined);
  return endpoints;
}

/** Whether `endpoints` hold both IPv6 and IPv4 addresses: the case Happy Eyeballs races. */
export function hasBothFamilies(endpoints: readonly Endpoint[]): boolean {
  let families = 0;
  for (const endpoint of endpoints) families |= endpoint.family === AF_INET6 ? 1 : endpoint.family === AF_INET ? 2 : 0;
  return families === 3;
}

/**
 * The order a Happy Eyeballs race tries `endpoints` in: IPv6 first, then
 * the families alternate (RFC 8305 section 4), each family keeping the
 * order DNS gave it; once one family runs out the rest of the other follows.
 * RFC 8305 would lead with the family the resolver sorted first; a fixed
 * IPv6 start gives the same order whichever resolver sorted the list.
 */
export function interleaveFamilies(endpoints: readonly Endpoint[]): Endpoint[] {
  const v6 = endpoints.filter((endpoint) => endpoint.family === AF_INET6);
  const v4 = endpoints.filter((endpoint) => endpoint.family !== AF_INET6);
  const ordered: Endpoint[] = [];
  for (let i = 0; i < Math.max(v6.length, v4.length); i++) {
    if (i < v6.length) ordered.push(v6[i]!);
    if (i < v4.length) ordered.push(v4[i]!);
  }
  return ordered;
}
