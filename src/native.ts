/**
 * Loads the C shim: compiles `native/shim.c` with bun:ffi's `cc` against
 * liburing once per process and exposes its symbol table. This module alone
 * knows C types.
 */
import { cc, dlopen, type Pointer } from "bun:ffi";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const nativeDir = fileURLToPath(new URL("../native/", import.meta.url));

/** Number of int32 words per slot in the shared slot table (see shim.c). */
export const SLOT_WORDS = 8;
/** Bytes per slot in the shared address region: peer then local sockaddr. */
export const ADDR_BYTES = 256;
/** Offset of the local (bind) sockaddr inside a slot's address region. */
export const LOCAL_OFFSET = 128;

/** Word offsets inside a slot's row of the slot table. */
export const Word = {
  family: 0,
  addrlen: 1,
  localLen: 2,
  flags: 3,
  timeoutMs: 4,
  generation: 5,
  fd: 6,
  result: 7,
} as const;

/** Per-slot socket flags understood by `uc_prep_connect_batch`. */
export const SocketFlag = { noDelay: 1, bindNoPort: 2, keepAlive: 4 } as const;

/** Optional ring setup flags; tests switch them off to take an old kernel's path. */
export const RingOption = { submitAll: 1, singleIssuer: 2, cqSize: 4, all: 7 } as const;

const symbols = {
  // struct uc_ring *uc_ring_open(u32 entries, u32 capacity, i32 *slots, u8 *addrs, u32 allow, i32 *err)
  uc_ring_open: { args: ["u32", "u32", "ptr", "ptr", "u32", "ptr"], returns: "ptr" },
  // int uc_ring_info(struct uc_ring *, i32 *out4)
  uc_ring_info: { args: ["ptr", "ptr"], returns: "i32" },
  // int uc_prep_connect_batch(struct uc_ring *, const i32 *ids, int n)
  uc_prep_connect_batch: { args: ["ptr", "ptr", "i32"], returns: "i32" },
  // int uc_submit(struct uc_ring *)
  uc_submit: { args: ["ptr"], returns: "i32" },
  // int uc_reap(struct uc_ring *, i32 *out, int max)
  uc_reap: { args: ["ptr", "ptr", "i32"], returns: "i32" },
  // int uc_cancel_batch(struct uc_ring *, const i32 *ids, int n)
  uc_cancel_batch: { args: ["ptr", "ptr", "i32"], returns: "i32" },
  // int uc_close_now(const i32 *fds, int n, int rst)
  uc_close_now: { args: ["ptr", "i32", "i32"], returns: "i32" },
  // int uc_close_batch(struct uc_ring *, const i32 *fds, int n, int rst)
  uc_close_batch: { args: ["ptr", "ptr", "i32", "i32"], returns: "i32" },
  // int uc_socketpair(i32 *out2)
  uc_socketpair: { args: ["ptr"], returns: "i32" },
  // int uc_waker_start(struct uc_ring *, int notify_fd)
  uc_waker_start: { args: ["ptr", "i32"], returns: "i32" },
  // int uc_raise_nofile(i32 *out2)
  uc_raise_nofile: { args: ["ptr"], returns: "i32" },
  // int uc_ring_close(struct uc_ring *, const i32 *ids, int n)
  uc_ring_close: { args: ["ptr", "ptr", "i32"], returns: "i32" },
} as const satisfies Record<string, { args: readonly string[]; returns: string }>;

type Library = ReturnType<typeof cc<typeof symbols>>;
export type NativeSymbols = Library["symbols"];
export type RingHandle = Pointer;

/** The reason the native layer cannot be used, with what to do about it. */
export class NativeUnavailableError extends Error {
  override name = "NativeUnavailableError";
  constructor(
    message: string,
    readonly reason: "platform" | "liburing" | "compile" | "io_uring",
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const INSTALL_LIBURING =
  "install liburing's development files: Debian/Ubuntu `apt-get install liburing-dev`, " +
  "Fedora `dnf install liburing-devel`, Arch `pacman -S liburing`, Alpine `apk add liburing-dev`";

function findHeader(): boolean {
  const roots = ["/usr/include", "/usr/local/include", process.env.C_INCLUDE_PATH ?? ""];
  return roots.some((root) => root && existsSync(`${root}/liburing.h`));
}

function compile(): Library {
  if (process.platform !== "linux") {
    throw new NativeUnavailableError(
      `uring-connect needs Linux io_uring; this is ${process.platform}`,
      "platform",
    );
  }
  // The TinyCC atomics shim in native/include is only correct on x86-64 (TSO).
  if (process.arch !== "x64") {
    throw new NativeUnavailableError(
      `uring-connect supports x86-64 only for now; this is ${process.arch} ` +
        "(its atomics shim for TinyCC needs real barriers on weakly ordered CPUs)",
      "platform",
    );
  }
  // A prebuilt shim (the sanitizer build in test/native/) replaces the TinyCC one.
  const prebuilt = process.env.URING_CONNECT_NATIVE_LIB;
  if (prebuilt) {
    try {
      return dlopen(prebuilt, symbols) as unknown as Library;
    } catch (cause) {
      throw new NativeUnavailableError(`could not load URING_CONNECT_NATIVE_LIB=${prebuilt} (${String(cause)})`, "compile", { cause });
    }
  }
  if (!findHeader()) {
    throw new NativeUnavailableError(`liburing.h not found: ${INSTALL_LIBURING}`, "liburing");
  }
  try {
    return withRetries(() =>
      cc({
        source: `${nativeDir}shim.c`,
        include: [`${nativeDir}include`],
        library: ["uring"],
        // glibc's RWF_* macros clash with linux/fs.h, and cc fails on warnings.
        flags: ["-w"],
        symbols,
      }),
    );
  } catch (cause) {
    throw new NativeUnavailableError(
      `could not compile native/shim.c against liburing (${String(cause)}); ${INSTALL_LIBURING}`,
      "compile",
      { cause },
    );
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

let loaded: Library | undefined;
let loadError: unknown;

/**
 * The compiled shim's symbols, compiled on first use and cached.
 * Throws NativeUnavailableError (the same one on every call) when the shim
 * cannot be built here.
 */
export function native(): NativeSymbols {
  if (loaded) return loaded.symbols;
  if (loadError) throw loadError;
  try {
    loaded = compile();
    return loaded.symbols;
  } catch (error) {
    loadError = error;
    throw error;
  }
}

const fallbackSymbols = {
  // int uc_fd_dup(int fd)
  uc_fd_dup: { args: ["i32"], returns: "i32" },
  // int uc_fd_close(const i32 *fds, int n, int rst)
  uc_fd_close: { args: ["ptr", "i32", "i32"], returns: "i32" },
} as const satisfies Record<string, { args: readonly string[]; returns: string }>;

type FallbackLibrary = ReturnType<typeof cc<typeof fallbackSymbols>>;
export type FallbackSymbols = FallbackLibrary["symbols"];
let fallbackLoaded: FallbackLibrary | undefined;

/**
 * native/fallback.c: what the Bun.connect fallback needs (dup, close with
 * RST). It needs no liburing, so it builds where the shim cannot.
 */
export function fallbackNative(): FallbackSymbols {
  fallbackLoaded ??= withRetries(() => cc({ source: `${nativeDir}fallback.c`, flags: ["-w"], symbols: fallbackSymbols }));
  return fallbackLoaded.symbols;
}
