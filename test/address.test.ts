/** Parsing and encoding of targets: literals, zones, unix paths, bad input. */
import { describe, expect, test } from "bun:test";
import { encodeIp, encodeUnix, parseIPv4, parseIPv6, parseTarget, UNIX_PATH_MAX } from "../src/address.ts";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

describe("IPv4", () => {
  test("dotted quads parse, anything else does not", () => {
    expect([...parseIPv4("127.0.0.1")!]).toEqual([127, 0, 0, 1]);
    expect([...parseIPv4("255.255.255.255")!]).toEqual([255, 255, 255, 255]);
    for (const bad of ["256.0.0.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.-4", "a.b.c.d", ""]) {
      expect(parseIPv4(bad)).toBeNull();
    }
  });

  test("sockaddr_in: family, port in network order, address", () => {
    const e = encodeIp("127.0.0.1", 8080)!;
    expect(e.sockaddr.length).toBe(16);
    expect(hex(e.sockaddr)).toBe("02001f907f0000010000000000000000");
  });
});

describe("IPv6", () => {
  test("full, compressed and embedded IPv4 forms", () => {
    expect(hex(parseIPv6("::1")!.bytes)).toBe("00000000000000000000000000000001");
    expect(hex(parseIPv6("::")!.bytes)).toBe("0".repeat(32));
    expect(hex(parseIPv6("2001:db8::8:800:200c:417a")!.bytes)).toBe("20010db8000000000008080020 0c417a".replace(" ", ""));
    expect(hex(parseIPv6("::ffff:127.0.0.1")!.bytes)).toBe("00000000000000000000ffff7f000001");
    expect(hex(parseIPv6("1:2:3:4:5:6:7:8")!.bytes)).toBe("00010002000300040005000600070008");
  });

  test("zones: numeric and interface names", () => {
    expect(parseIPv6("fe80::1%3")!.scopeId).toBe(3);
    expect(parseIPv6("fe80::1%lo")!.scopeId).toBe(1);
    expect(parseIPv6("fe80::1%no-such-if0")).toBeNull();
  });

  test("malformed literals are rejected", () => {
    for (const bad of ["1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", "::g", "1:2:3:4:5:6:7", ":::", "1.2.3.4::"]) {
      expect(parseIPv6(bad)).toBeNull();
    }
  });

  test("sockaddr_in6 carries port and scope id", () => {
    const e = encodeIp("fe80::1%7", 443)!;
    expect(e.sockaddr.length).toBe(28);
    const view = new DataView(e.sockaddr.buffer);
    expect(view.getUint16(0, true)).toBe(10);
    expect(view.getUint16(2, false)).toBe(443);
    expect(view.getUint32(24, true)).toBe(7);
  });
});

describe("unix paths", () => {
  test("a path gets a NUL; the abstract namespace does not", () => {
    expect(encodeUnix("/tmp/a").sockaddr.length).toBe(2 + 6 + 1);
    expect(encodeUnix("\0name").sockaddr.length).toBe(2 + 5);
  });

  test("the 108-byte sun_path limit, counted in bytes", () => {
    expect(encodeUnix("/" + "a".repeat(UNIX_PATH_MAX - 2)).sockaddr.length).toBe(110);
    expect(() => encodeUnix("/" + "a".repeat(UNIX_PATH_MAX - 1))).toThrow(RangeError);
    // 36 three-byte characters: 108 bytes though only 36 characters.
    expect(() => encodeUnix("€".repeat(36))).toThrow(/at most 107 bytes/);
  });
});

describe("targets", () => {
  test("literals encode now; names wait for DNS; brackets are accepted", () => {
    expect(parseTarget({ host: "10.0.0.1", port: 1 }).kind).toBe("endpoint");
    expect(parseTarget({ host: "[::1]", port: 1 }).kind).toBe("endpoint");
    expect(parseTarget({ host: "example.test", port: 1 })).toEqual({ kind: "name", host: "example.test", port: 1 });
  });

  test("each bad field is named", () => {
    expect(() => parseTarget(null)).toThrow(/target must be an object/);
    expect(() => parseTarget({ host: "x", port: 70000 }, "t")).toThrow(/t\.port must be an integer in 1\.\.65535, got 70000/);
    expect(() => parseTarget({ host: 5, port: 1 })).toThrow(/target\.host must be a non-empty string, got 5/);
    expect(() => parseTarget({ unix: 1 })).toThrow(/target\.unix must be a non-empty path string/);
  });
});
