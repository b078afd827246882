/**
 * Loads uring-connect's native code and exposes its symbol tables; this
 * module alone knows C types. Two libraries, each built once per process
 * with bun:ffi's `cc` (TinyCC) on first use:
 *
 *   ringNative()  native/ring.c, compiled against liburing; it includes
 *                 native/sys.c, whose calls it uses: the io_uring backend.
 *   sysNative()   native/sys.c alone, libc only: what the Bun backend and
 *                 the load generator need, so they work without liburing.
 *
 * URING_CONNECT_NATIVE_LIB=/path/lib.so replaces both with one prebuilt
 * library holding ring.c and sys.c (the sanitizer build, test/native/).
 */
import { cc, dlopen, type FFIFunction, type Pointer } from "bun:ffi";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { NativeUnavailableError } from "./errors.ts";

const nativeDir = fileURLToPath(new URL("../native/", import.meta.url));

/** Optional ring features for uc_ring_open's `allow` (UC_OPT_*): setup flags, and SO_LINGER through the ring. */
export const RingOption = { submitAll: 1, singleIssuer: 2, cqSize: 4, sockCmd: 8, all: 15 } as const;

/** Values uc_ring_info writes. */
export const RING_INFO_WORDS = 6;

/**
 * Per-slot socket flags, kept here for the modules that import them from
 * this one; they belong to the slot layout in layout.ts.
 */
export { SocketFlag } from "./layout.ts";

type SymbolTable = Record<string, FFIFunction>;

const sysSymbols = {
  // int uc_dup_fd(int fd)
  uc_dup_fd: { args: ["i32"], returns: "i32" },
  // int uc_close_now(const i32 *fds, int n, int rst)
  uc_close_now: { args: ["ptr", "i32", "i32"], returns: "i32" },
  // int uc_socketpair(i32 *out2)
  uc_socketpair: { args: ["ptr"], returns: "i32" },
  // int uc_raise_nofile(i32 *out2)
  uc_raise_nofile: { args: ["ptr"], returns: "i32" },
} as const satisfies SymbolTable;

const ringSymbols = {
  // struct uc_ring *uc_ring_open(u32 entries, u32 capacity, i32 *slots, u8 *addrs, u32 allow, i32 *err2)
  uc_ring_open: { args: ["u32", "u32", "ptr", "ptr", "u32", "ptr"], returns: "ptr" },
  // int uc_ring_info(struct uc_ring *, i32 *out5)
  uc_ring_info: { args: ["ptr", "ptr"], returns: "i32" },
  // int uc_prep_connect_batch(struct uc_ring *, const i32 *ids, int n)
  uc_prep_connect_batch: { args: ["ptr", "ptr", "i32"], returns: "i32" },
  // int uc_submit(struct uc_ring *)
  uc_submit: { args: ["ptr"], returns: "i32" },
  // int uc_reap(struct uc_ring *, i32 *out, int max)
  uc_reap: { args: ["ptr", "ptr", "i32"], returns: "i32" },
  // int uc_prep_cancel_batch(struct uc_ring *, const i32 *ids, int n)
  uc_prep_cancel_batch: { args: ["ptr", "ptr", "i32"], returns: "i32" },
  // int uc_prep_close_batch(struct uc_ring *, const i32 *fds, int n, int rst)
  uc_prep_close_batch: { args: ["ptr", "ptr", "i32", "i32"], returns: "i32" },
  // int uc_prep_watch_batch(struct uc_ring *, const i32 *pairs, int n)
  uc_prep_watch_batch: { args: ["ptr", "ptr", "i32"], returns: "i32" },
  // int uc_prep_unwatch_batch(struct uc_ring *, const i32 *tags, int n)
  uc_prep_unwatch_batch: { args: ["ptr", "ptr", "i32"], returns: "i32" },
  // int uc_closes_pending(struct uc_ring *)
  uc_closes_pending: { args: ["ptr"], returns: "i32" },
  // int uc_waker_start(struct uc_ring *, int notify_fd)
  uc_waker_start: { args: ["ptr", "i32"], returns: "i32" },
  // int uc_ring_close(struct uc_ring *, const i32 *ids, int n)
  uc_ring_close: { args: ["ptr", "ptr", "i32"], returns: "i32" },
} as const satisfies SymbolTable;

/** ring.c includes sys.c, so one build serves both tables. */
const ringLibrarySymbols = { ...ringSymbols, ...sysSymbols } as const satisfies SymbolTable;

type Library<T extends SymbolTable> = ReturnType<typeof cc<T>>;
/** native/ring.c's exports. */
export type RingSymbols = Library<typeof ringSymbols>["symbols"];
/** native/sys.c's exports. */
export type SysSymbols = Library<typeof sysSymbols>["symbols"];
/** The opaque `struct uc_ring *` uc_ring_open returns; valid until uc_ring_close. */
export type RingHandle = Pointer;

const INSTALL_LIBURING =
  "install liburing's development files: Debian/Ubuntu `apt-get install liburing-dev`, " +
  "Fedora `dnf install liburing-devel`, Arch `pacman -S liburing`, Alpine `apk add liburing-dev`";

const INSTALL_LIBC =
  "install the C library's development files: Debian/Ubuntu `apt-get install libc6-dev`, " +
  "Fedora `dnf install glibc-devel`, Alpine `apk add musl-dev`";

function findHeader(): boolean {
  const roots = ["/usr/include", "/usr/local/include", process.env.C_INCLUDE_PATH ?? ""];
  return roots.some((root) => root && existsSync(`${root}/liburing.h`));
}

function requireLinux(): void {
  if (process.platform !== "linux") {
    throw new NativeUnavailableError(`uring-connect needs Linux io_uring; this is ${process.platform}`, "platform");
  }
}

/** The prebuilt library named by URING_CONNECT_NATIVE_LIB, bound to `symbols`; undefined when unset. */
function loadPrebuilt<T extends SymbolTable>(symbols: T): Library<T> | undefined {
  const path = process.env.URING_CONNECT_NATIVE_LIB;
  if (!path) return undefined;
  try {
    return dlopen(path, symbols) as unknown as Library<T>;
  } catch (cause) {
    throw new NativeUnavailableError(`could not load URING_CONNECT_NATIVE_LIB=${path} (${String(cause)})`, "compile", { cause });
  }
}

/** Compile `file` (under native/) into a library with `cc`. */
function compile<T extends SymbolTable>(file: string, symbols: T, extra: { include?: string[]; library?: string[] } = {}): Library<T> {
  return withRetries(() =>
    cc({
      source: `${nativeDir}${file}`,
      ...extra,
      // glibc's RWF_* macros clash with linux/fs.h, and cc fails on warnings.
      flags: ["-w"],
      symbols,
    }),
  );
}

function loadRing(): Library<typeof ringLibrarySymbols> {
  requireLinux();
  // ring.c's atomics (native/include/arch.h, stdatomic.h) are only correct on x86-64 (TSO).
  if (process.arch !== "x64") {
    throw new NativeUnavailableError(
      `uring-connect supports x86-64 only for now; this is ${process.arch} ` +
        "(its atomics for TinyCC need real barriers on weakly ordered CPUs)",
      "platform",
    );
  }
  const prebuilt = loadPrebuilt(ringLibrarySymbols);
  if (prebuilt) return prebuilt;
  if (!findHeader()) {
    throw new NativeUnavailableError(`liburing.h not found: ${INSTALL_LIBURING}`, "liburing");
  }
  try {
    return compile("ring.c", ringLibrarySymbols, { include: [`${nativeDir}include`], library: ["uring"] });
  } catch (cause) {
    throw new NativeUnavailableError(
      `could not compile native/ring.c against liburing (${String(cause)}); ${INSTALL_LIBURING}`,
      "compile",
      { cause },
    );
  }
}

function loadSys(): Library<typeof sysSymbols> {
  requireLinux();
  const prebuilt = loadPrebuilt(sysSymbols);
  if (prebuilt) return prebuilt;
  try {
    return compile("sys.c", sysSymbols);
  } catch (cause) {
    throw new NativeUnavailableError(`could not compile native/sys.c (${String(cause)}); ${INSTALL_LIBC}`, "compile", { cause });
  }
}

/**
 * Bun's cc() writes TinyCC's own headers to one directory per user
 * ($TMPDIR/bun-cc-<uid>) in every process, so processes starting together
 * (--workers, test runners) can read a half-written stdbool.h and fail.
 * Seen here in 4 of 24 simultaneous starts. Retrying after a short random
 * pause is enough; a real error fails every attempt.
 */
export function withRetries<T>(compile: () => T, attempts = 5): T {
  for (let attempt = 1; ; attempt++) {
    try {
      return compile();
    } catch (error) {
      if (attempt >= attempts) throw error;
      Bun.sleepSync(10 + Math.random() * 40);
    }
  }
}

/** A load done once per process: its result, or the error it threw, every time. */
class Once<T> {
  private outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
  constructor(private readonly load: () => T) {}

  get(): T {
    if (!this.outcome) {
      try {
        this.outcome = { ok: true, value: this.load() };
      } catch (error) {
        this.outcome = { ok: false, error };
      }
    }
    if (!this.outcome.ok) throw this.outcome.error;
    return this.outcome.value;
  }

  /** The result if it is already loaded, without loading. */
  peek(): T | undefined {
    return this.outcome?.ok ? this.outcome.value : undefined;
  }
}

const ringLibrary = new Once(loadRing);
// A ring library already built holds sys.c too: no second compile then.
const sysLibrary = new Once((): SysSymbols => ringLibrary.peek()?.symbols ?? loadSys().symbols);

/**
 * native/ring.c's symbols (io_uring through liburing), built on first use.
 * Throws NativeUnavailableError, the same one on every call, when it cannot
 * be built here: not Linux on x86-64, liburing missing or unusable.
 */
export function ringNative(): RingSymbols {
  return ringLibrary.get().symbols;
}

/**
 * native/sys.c's symbols (dup, close with RST, socketpair, RLIMIT_NOFILE),
 * built on first use. Needs no liburing. Throws NativeUnavailableError, the
 * same one on every call, when it cannot be built (not Linux, no libc headers).
 */
export function sysNative(): SysSymbols {
  return sysLibrary.get();
}
