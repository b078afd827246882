/** The errno table and error shapes. */
import { expect, test } from "bun:test";
import { codeErrno, completionErrno, ConnectError, errnoCode } from "../src/errors.ts";

test("every errno connect(2) and io_uring return maps to Node's code", () => {
  const expected: Record<number, string> = {
    1: "EPERM", 4: "EINTR", 9: "EBADF", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 16: "EBUSY",
    22: "EINVAL", 23: "ENFILE", 24: "EMFILE", 62: "ETIME", 88: "ENOTSOCK", 91: "EPROTOTYPE", 95: "ENOTSUP",
    97: "EAFNOSUPPORT", 98: "EADDRINUSE", 99: "EADDRNOTAVAIL", 101: "ENETUNREACH", 104: "ECONNRESET",
    105: "ENOBUFS", 106: "EISCONN", 110: "ETIMEDOUT", 111: "ECONNREFUSED", 113: "EHOSTUNREACH",
    114: "EALREADY", 115: "EINPROGRESS", 125: "ECANCELED", 2: "ENOENT",
  };
  for (const [errno, code] of Object.entries(expected)) {
    expect(errnoCode(Number(errno))).toBe(code);
    expect(codeErrno(code)).toBe(Number(errno));
  }
  expect(errnoCode(4242)).toBe("E4242");
});

test("a linked timeout's -ECANCELED/-ETIME means ETIMEDOUT, only when there was a timeout", () => {
  expect(completionErrno(-125, true)).toBe(110);
  expect(completionErrno(-62, true)).toBe(110);
  expect(completionErrno(-125, false)).toBe(125);
  expect(completionErrno(-111, true)).toBe(111);
});

test("ConnectError reads like Node's", () => {
  const e = new ConnectError({ errno: 111, address: "::1", port: 6379 });
  expect(e).toBeInstanceOf(Error);
  expect(e.message).toBe("connect ECONNREFUSED ::1:6379");
  expect({ code: e.code, errno: e.errno, syscall: e.syscall, address: e.address, port: e.port }).toEqual({
    code: "ECONNREFUSED", errno: 111, syscall: "connect", address: "::1", port: 6379,
  });
  expect(e.description).toBe("Connection refused");
  expect(new ConnectError({ errno: 2, address: "/run/x.sock" }).message).toBe("connect ENOENT /run/x.sock");
});
