/**
 * Every error uring-connect makes, shaped like Node's, each with a `code`
 * to match on: `ConnectError` for a failed connect (its code from the
 * errno table below), `ConnectorClosedError`, `NativeUnavailableError`,
 * `AdoptUnsupportedError`, `RingError`, the Pool's three, DNS failures, and the
 * TypeError/RangeError builders for bad input.
 *
 *   class / builder          code
 *   ConnectError             the errno's: "ECONNREFUSED", "ETIMEDOUT", ...
 *   dnsError                 the resolver's: "ENOTFOUND", "EAI_AGAIN", ...
 *   ConnectorClosedError     "ERR_CONNECTOR_CLOSED"
 *   PoolClosedError          "ERR_POOL_CLOSED"
 *   PoolAcquireTimeoutError  "ETIMEDOUT" (the acquire's, not a connect's)
 *   PoolQueueFullError       "ERR_POOL_QUEUE_FULL"
 *   NativeUnavailableError   "ERR_NATIVE_UNAVAILABLE"
 *   AdoptUnsupportedError    "ERR_ADOPT_UNSUPPORTED"
 *   RingError                "ERR_RING_FAILED"
 *   invalidType/invalidRange TypeError/RangeError, "ERR_INVALID_ARG_TYPE"/"ERR_OUT_OF_RANGE"
 *   runStopped, exchangeFailed the load generator's: "ABORTED"; the exchange's code
 */

/** Linux x86-64 errno numbers, their codes (as libuv names them) and text. */
const ERRNO_TABLE: ReadonlyArray<readonly [number, string, string]> = [
  [1, "EPERM", "Operation not permitted"],
  [2, "ENOENT", "No such file or directory"],
  [3, "ESRCH", "No such process"],
  [4, "EINTR", "Interrupted system call"],
  [5, "EIO", "Input/output error"],
  [6, "ENXIO", "No such device or address"],
  [7, "E2BIG", "Argument list too long"],
  [8, "ENOEXEC", "Exec format error"],
  [9, "EBADF", "Bad file descriptor"],
  [10, "ECHILD", "No child processes"],
  [11, "EAGAIN", "Resource temporarily unavailable"],
  [12, "ENOMEM", "Cannot allocate memory"],
  [13, "EACCES", "Permission denied"],
  [14, "EFAULT", "Bad address"],
  [15, "ENOTBLK", "Block device required"],
  [16, "EBUSY", "Device or resource busy"],
  [17, "EEXIST", "File exists"],
  [18, "EXDEV", "Invalid cross-device link"],
  [19, "ENODEV", "No such device"],
  [20, "ENOTDIR", "Not a directory"],
  [21, "EISDIR", "Is a directory"],
  [22, "EINVAL", "Invalid argument"],
  [23, "ENFILE", "Too many open files in system"],
  [24, "EMFILE", "Too many open files"],
  [25, "ENOTTY", "Inappropriate ioctl for device"],
  [26, "ETXTBSY", "Text file busy"],
  [27, "EFBIG", "File too large"],
  [28, "ENOSPC", "No space left on device"],
  [29, "ESPIPE", "Illegal seek"],
  [30, "EROFS", "Read-only file system"],
  [31, "EMLINK", "Too many links"],
  [32, "EPIPE", "Broken pipe"],
  [33, "EDOM", "Numerical argument out of domain"],
  [34, "ERANGE", "Numerical result out of range"],
  [35, "EDEADLK", "Resource deadlock avoided"],
  [36, "ENAMETOOLONG", "File name too long"],
  [37, "ENOLCK", "No locks available"],
  [38, "ENOSYS", "Function not implemented"],
  [39, "ENOTEMPTY", "Directory not empty"],
  [40, "ELOOP", "Too many levels of symbolic links"],
  [42, "ENOMSG", "No message of desired type"],
  [43, "EIDRM", "Identifier removed"],
  [44, "ECHRNG", "Channel number out of range"],
  [45, "EL2NSYNC", "Level 2 not synchronized"],
  [46, "EL3HLT", "Level 3 halted"],
  [47, "EL3RST", "Level 3 reset"],
  [48, "ELNRNG", "Link number out of range"],
  [49, "EUNATCH", "Protocol driver not attached"],
  [50, "ENOCSI", "No CSI structure available"],
  [51, "EL2HLT", "Level 2 halted"],
  [52, "EBADE", "Invalid exchange"],
  [53, "EBADR", "Invalid request descriptor"],
  [54, "EXFULL", "Exchange full"],
  [55, "ENOANO", "No anode"],
  [56, "EBADRQC", "Invalid request code"],
  [57, "EBADSLT", "Invalid slot"],
  [59, "EBFONT", "Bad font file format"],
  [60, "ENOSTR", "Device not a stream"],
  [61, "ENODATA", "No data available"],
  [62, "ETIME", "Timer expired"],
  [63, "ENOSR", "Out of streams resources"],
  [64, "ENONET", "Machine is not on the network"],
  [65, "ENOPKG", "Package not installed"],
  [66, "EREMOTE", "Object is remote"],
  [67, "ENOLINK", "Link has been severed"],
  [68, "EADV", "Advertise error"],
  [69, "ESRMNT", "Srmount error"],
  [70, "ECOMM", "Communication error on send"],
  [71, "EPROTO", "Protocol error"],
  [72, "EMULTIHOP", "Multihop attempted"],
  [73, "EDOTDOT", "RFS specific error"],
  [74, "EBADMSG", "Bad message"],
  [75, "EOVERFLOW", "Value too large for defined data type"],
  [76, "ENOTUNIQ", "Name not unique on network"],
  [77, "EBADFD", "File descriptor in bad state"],
  [78, "EREMCHG", "Remote address changed"],
  [79, "ELIBACC", "Can not access a needed shared library"],
  [80, "ELIBBAD", "Accessing a corrupted shared library"],
  [81, "ELIBSCN", ".lib section in a.out corrupted"],
  [82, "ELIBMAX", "Attempting to link in too many shared libraries"],
  [83, "ELIBEXEC", "Cannot exec a shared library directly"],
  [84, "EILSEQ", "Invalid or incomplete multibyte or wide character"],
  [85, "ERESTART", "Interrupted system call should be restarted"],
  [86, "ESTRPIPE", "Streams pipe error"],
  [87, "EUSERS", "Too many users"],
  [88, "ENOTSOCK", "Socket operation on non-socket"],
  [89, "EDESTADDRREQ", "Destination address required"],
  [90, "EMSGSIZE", "Message too long"],
  [91, "EPROTOTYPE", "Protocol wrong type for socket"],
  [92, "ENOPROTOOPT", "Protocol not available"],
  [93, "EPROTONOSUPPORT", "Protocol not supported"],
  [94, "ESOCKTNOSUPPORT", "Socket type not supported"],
  [95, "ENOTSUP", "Operation not supported"],
  [96, "EPFNOSUPPORT", "Protocol family not supported"],
  [97, "EAFNOSUPPORT", "Address family not supported by protocol"],
  [98, "EADDRINUSE", "Address already in use"],
  [99, "EADDRNOTAVAIL", "Cannot assign requested address"],
  [100, "ENETDOWN", "Network is down"],
  [101, "ENETUNREACH", "Network is unreachable"],
  [102, "ENETRESET", "Network dropped connection on reset"],
  [103, "ECONNABORTED", "Software caused connection abort"],
  [104, "ECONNRESET", "Connection reset by peer"],
  [105, "ENOBUFS", "No buffer space available"],
  [106, "EISCONN", "Transport endpoint is already connected"],
  [107, "ENOTCONN", "Transport endpoint is not connected"],
  [108, "ESHUTDOWN", "Cannot send after transport endpoint shutdown"],
  [109, "ETOOMANYREFS", "Too many references: cannot splice"],
  [110, "ETIMEDOUT", "Connection timed out"],
  [111, "ECONNREFUSED", "Connection refused"],
  [112, "EHOSTDOWN", "Host is down"],
  [113, "EHOSTUNREACH", "No route to host"],
  [114, "EALREADY", "Operation already in progress"],
  [115, "EINPROGRESS", "Operation now in progress"],
  [116, "ESTALE", "Stale file handle"],
  [117, "EUCLEAN", "Structure needs cleaning"],
  [118, "ENOTNAM", "Not a XENIX named type file"],
  [119, "ENAVAIL", "No XENIX semaphores available"],
  [120, "EISNAM", "Is a named type file"],
  [121, "EREMOTEIO", "Remote I/O error"],
  [122, "EDQUOT", "Disk quota exceeded"],
  [123, "ENOMEDIUM", "No medium found"],
  [124, "EMEDIUMTYPE", "Wrong medium type"],
  [125, "ECANCELED", "Operation canceled"],
  [126, "ENOKEY", "Required key not available"],
  [127, "EKEYEXPIRED", "Key has expired"],
  [128, "EKEYREVOKED", "Key has been revoked"],
  [129, "EKEYREJECTED", "Key was rejected by service"],
  [130, "EOWNERDEAD", "Owner died"],
  [131, "ENOTRECOVERABLE", "State not recoverable"],
  [132, "ERFKILL", "Operation not possible due to RF-kill"],
];

const byErrno = new Map<number, { code: string; text: string }>(
  ERRNO_TABLE.map(([errno, code, text]) => [errno, { code, text }]),
);
const byCode = new Map<string, number>(ERRNO_TABLE.map(([errno, code]) => [code, errno]));

/** Errno numbers the connector itself needs to recognise. */
export const Errno = {
  EPERM: 1,
  EINTR: 4,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EBUSY: 16,
  EMFILE: 24,
  ENOSYS: 38,
  ETIME: 62,
  ETIMEDOUT: 110,
  ECANCELED: 125,
} as const;

/** The code for a positive errno, e.g. 111 -> "ECONNREFUSED"; unknown -> "E<n>". */
export function errnoCode(errno: number): string {
  return byErrno.get(errno)?.code ?? `E${errno}`;
}

/** The errno for a code, e.g. "ECONNREFUSED" -> 111, or undefined. */
export function codeErrno(code: string): number | undefined {
  return byCode.get(code);
}

/** What went wrong and where, as `ConnectError` carries it. */
export interface ConnectErrorInit {
  errno: number;
  address: string;
  port?: number;
  cause?: unknown;
}

/**
 * A connect that failed in the kernel. Same fields as Node's connect errors:
 * `code` ("ECONNREFUSED"), positive `errno`, `syscall: "connect"`,
 * `address`, and `port` for TCP targets; the message reads like Node's
 * (`connect ECONNREFUSED 127.0.0.1:6379`).
 */
export class ConnectError extends Error {
  override name = "ConnectError";
  readonly code: string;
  readonly errno: number;
  readonly syscall = "connect" as const;
  readonly address: string;
  readonly port: number | undefined;

  constructor(init: ConnectErrorInit) {
    const code = errnoCode(init.errno);
    const where = init.port === undefined ? init.address : `${init.address}:${init.port}`;
    super(`connect ${code} ${where}`, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = code;
    this.errno = init.errno;
    this.address = init.address;
    this.port = init.port;
  }

  /** The kernel's description of the errno ("Connection refused"). */
  get description(): string {
    return byErrno.get(this.errno)?.text ?? "Unknown error";
  }
}

/**
 * The errno a connect completion means. A linked timeout makes the connect
 * complete with -ECANCELED (and the timer with -ETIME): that is a timeout
 * when the request had one and was not cancelled by its caller.
 */
export function completionErrno(res: number, hadTimeout: boolean): number {
  const errno = -res;
  if (hadTimeout && (errno === Errno.ECANCELED || errno === Errno.ETIME)) return Errno.ETIMEDOUT;
  return errno;
}

/** The error a Connector gives for work it was closed with. */
export class ConnectorClosedError extends Error {
  override name = "ConnectorClosedError";
  readonly code = "ERR_CONNECTOR_CLOSED";
  constructor() {
    super("the Connector was closed before this connect completed");
  }
}

/** What a Pool gives for an acquire or ready() it was closed with, and for any call after close(). */
export class PoolClosedError extends Error {
  override name = "PoolClosedError";
  readonly code = "ERR_POOL_CLOSED";
  constructor() {
    super("the Pool was closed");
  }
}

/**
 * An acquire that waited `acquireTimeout` ms without getting a connection.
 * Its code is ETIMEDOUT, as a connect timeout's is, so code matching on
 * timeouts keeps working; the class, the `syscall` ("acquire") and the
 * message say it was the wait for a pooled connection, not a connect.
 */
export class PoolAcquireTimeoutError extends Error {
  override name = "PoolAcquireTimeoutError";
  readonly code = "ETIMEDOUT";
  readonly errno = Errno.ETIMEDOUT;
  readonly syscall = "acquire" as const;
  constructor(readonly timeout: number) {
    super(`acquire ETIMEDOUT: no pooled connection became free within ${timeout} ms (acquireTimeout)`);
  }
}

/** An acquire refused at once because `maxWaiting` acquires were already waiting. */
export class PoolQueueFullError extends Error {
  override name = "PoolQueueFullError";
  readonly code = "ERR_POOL_QUEUE_FULL";
  constructor(readonly maxWaiting: number) {
    super(`the Pool already has ${maxWaiting} acquires waiting (maxWaiting)`);
  }
}

/**
 * The native layer cannot be used here, and the message says why and what
 * to do: `reason` is "platform" (not Linux on x86-64), "liburing" (missing),
 * "compile" (the shim did not build or load) or "io_uring" (the kernel
 * refused or lacks it).
 */
export class NativeUnavailableError extends Error {
  override name = "NativeUnavailableError";
  readonly code = "ERR_NATIVE_UNAVAILABLE";
  constructor(
    message: string,
    readonly reason: "platform" | "liburing" | "compile" | "io_uring",
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Why io_uring_setup (uc_ring_open) failed, as an error that says what to
 * change. `stage` is uc_ring_open's: 1 setup, 2 probe, 3 a missing opcode
 * (`errno` is then the opcode), 4 arguments or memory. `disabledSetting`
 * is /proc/sys/kernel/io_uring_disabled, when readable.
 */
export function ringOpenError(errno: number, stage: number, disabledSetting: string | undefined): NativeUnavailableError {
  if (stage === 3) {
    return new NativeUnavailableError(
      `this kernel's io_uring lacks opcode ${errno} that uring-connect needs; use Linux 5.19 or newer`,
      "io_uring",
    );
  }
  let why: string;
  if (errno === Errno.EPERM || errno === Errno.EACCES) {
    why =
      disabledSetting && disabledSetting !== "0"
        ? `io_uring is disabled by sysctl kernel.io_uring_disabled=${disabledSetting}; set it to 0 (or 1 and run in the io_uring group)`
        : "io_uring_setup was denied (a seccomp filter or container policy blocks io_uring); allow io_uring_setup/io_uring_enter/io_uring_register";
  } else if (errno === Errno.ENOSYS) {
    why = "this kernel has no io_uring (needs Linux 5.19 or newer built with CONFIG_IO_URING)";
  } else if (errno === Errno.ENOMEM) {
    why = "not enough locked memory for the ring; raise RLIMIT_MEMLOCK (ulimit -l) or use a smaller `entries`";
  } else {
    why = `io_uring setup failed at stage ${stage}`;
  }
  return new NativeUnavailableError(`uring-connect cannot start: ${why} (${errnoCode(errno)})`, "io_uring");
}

/**
 * A ring that started failed a call it cannot work around (the kernel
 * refused a submit, the waker thread could not start), or was used after
 * it was closed (`errno` EBADF). `what` says which, as the message does.
 */
export class RingError extends Error {
  override name = "RingError";
  readonly code = "ERR_RING_FAILED";
  constructor(
    readonly what: string,
    readonly errno: number,
  ) {
    super(`uring-connect: ${what} (${errnoCode(errno)})`);
  }
}

/** The running Bun cannot adopt a connected fd as a socket. */
export class AdoptUnsupportedError extends Error {
  override name = "AdoptUnsupportedError";
  readonly code = "ERR_ADOPT_UNSUPPORTED";
  constructor(cause: unknown) {
    super(
      `Bun ${Bun.version} cannot adopt a connected fd (Bun.connect({ fd }) failed: ${String(cause)}); ` +
        "use connectFd() or upgrade Bun (1.4.4 is known to work)",
      { cause },
    );
  }
}

/**
 * A name that did not resolve, shaped as Node's (`getaddrinfo ENOTFOUND
 * host`, with `code`, `syscall` and `hostname`). Bun prefixes resolver
 * codes with DNS_; Node's names have none.
 */
export function dnsError(host: string, cause: unknown): Error & { code: string; syscall: "getaddrinfo"; hostname: string } {
  const raw = (cause as { code?: unknown } | undefined)?.code;
  const code = typeof raw === "string" ? raw.replace(/^DNS_/, "") : "ENOTFOUND";
  return Object.assign(new Error(`getaddrinfo ${code} ${host}`, { cause }), {
    code,
    syscall: "getaddrinfo" as const,
    hostname: host,
  });
}

/** A failed system call, shaped like Node's (`dup EMFILE`, with code, errno, syscall). */
export type SyscallError = Error & { code: string; errno: number; syscall: string };

/** The SyscallError for `syscall` failing with positive `errno`. */
export function syscallError(syscall: string, errno: number): SyscallError {
  const code = errnoCode(errno);
  return Object.assign(new Error(`${syscall} ${code}`), { code, errno, syscall });
}

/*
 * Bad input, raised before anything is opened, with Node's codes: a value of
 * the wrong type, a value of the right type that is not allowed, a number
 * out of range. Each message names the field.
 */

/** A TypeError: `field` is not of the type it must be (code ERR_INVALID_ARG_TYPE). */
export function invalidType(field: string, expected: string, got: unknown): TypeError {
  return withCode(new TypeError(`${field} must be ${expected}, got ${describe(got)}`), "ERR_INVALID_ARG_TYPE");
}

/** A TypeError: `field` has the right type but a value that is not allowed (code ERR_INVALID_ARG_VALUE). */
export function invalidValue(field: string, expected: string, got: unknown): TypeError {
  return withCode(new TypeError(`${field} must be ${expected}, got ${describe(got)}`), "ERR_INVALID_ARG_VALUE");
}

/** A RangeError: the number in `field` is outside what it may be (code ERR_OUT_OF_RANGE). */
export function invalidRange(field: string, expected: string, got: unknown): RangeError {
  return withCode(new RangeError(`${field} must be ${expected}, got ${describe(got)}`), "ERR_OUT_OF_RANGE");
}

/** A TypeError whose own message says what is wrong: fields that do not fit together, malformed text (code ERR_INVALID_ARG_VALUE). */
export function invalidInput(message: string): TypeError {
  return withCode(new TypeError(message), "ERR_INVALID_ARG_VALUE");
}

/** A RangeError whose own message says which bound was crossed (code ERR_OUT_OF_RANGE). */
export function outOfRange(message: string): RangeError {
  return withCode(new RangeError(message), "ERR_OUT_OF_RANGE");
}

/**
 * A TypeError for an option key nobody reads (code ERR_INVALID_ARG_VALUE):
 * `options.timout is not a known option; did you mean "timeout"?`, or the
 * list of known keys when none is close.
 */
export function unknownOption(field: string, nearest: string | undefined, known: readonly string[]): TypeError {
  const hint = nearest === undefined ? `the known options are ${known.join(", ")}` : `did you mean "${nearest}"?`;
  return withCode(new TypeError(`${field} is not a known option; ${hint}`), "ERR_INVALID_ARG_VALUE");
}

/**
 * The load generator's: a connect or exchange abandoned because the run
 * stopped (code ABORTED, the report's tally key for them).
 */
export function runStopped(): Error & { code: "ABORTED" } {
  return withCode(new Error("aborted: the run stopped"), "ABORTED" as const);
}

/**
 * The load generator's: an exchange on an established connection failed;
 * `code` is ETIMEDOUT, EOF (the peer's FIN came before the reply), ECONNRESET…
 */
export function exchangeFailed(code: string): Error & { code: string } {
  return withCode(new Error(`exchange failed: ${code}`), code);
}

/**
 * The command line's: a mistake in the arguments, said in one line naming
 * the flag (code ERR_USAGE). The CLI prints it with the usage and exits 2.
 */
export class UsageError extends TypeError {
  override name = "UsageError";
  readonly code = "ERR_USAGE";
}

/** The load generator's local C server could not be built or started: what failed and what to do (code ERR_LOCAL_SERVER). */
export class LocalServerError extends Error {
  override name = "LocalServerError";
  readonly code = "ERR_LOCAL_SERVER";
}

/** The load generator's: worker `index` of a --workers run failed; `detail` is the end of its output (code ERR_WORKER_FAILED). */
export function workerFailed(index: number, exitCode: number | null, detail: string): Error & { code: "ERR_WORKER_FAILED" } {
  return withCode(new Error(`worker ${index} failed (exit ${exitCode}): ${detail}`), "ERR_WORKER_FAILED" as const);
}

/** A broken invariant of this library, never bad input (code ERR_INTERNAL_ASSERTION, as Node names its own). */
export function internalError(message: string): Error {
  return withCode(new Error(`uring-connect internal error: ${message}`), "ERR_INTERNAL_ASSERTION");
}

function withCode<E extends Error, C extends string>(error: E, code: C): E & { code: C } {
  return Object.assign(error, { code });
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}...` : value);
  if (typeof value === "bigint") return `${value}n`;
  if (value === null || typeof value !== "object") return String(value);
  return Array.isArray(value) ? "an array" : "an object";
}
