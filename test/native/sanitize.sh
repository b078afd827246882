#!/usr/bin/env bash
# Sanitizer run of the connector suite.
#
# Builds native/ring.c (which includes native/sys.c) with gcc
# -fsanitize=address,undefined into a shared library, makes src/native.ts
# load it through bun:ffi's dlopen (URING_CONNECT_NATIVE_LIB: both
# ringNative() and sysNative() bind to it) instead of compiling with TinyCC,
# and runs the connector suite (test/connector.test.ts, test/adopt.test.ts)
# and the backend contract (test/backend.test.ts, which drives ring.c's
# batch calls directly) on it.
#
# Exits non-zero when the build fails, when a test fails, or when any
# sanitizer report was written (by bun test or by any child process it
# spawned: every process inherits the environment and logs to the same
# directory). Exits 0 with "skipped: gcc not found" when there is no gcc.
#
#   bash test/native/sanitize.sh
#
# Environment:
#   BUN                    the bun binary (default: bun on PATH)
#   URING_CONNECT_NATIVE_SRC the C source to build (default: native/ring.c;
#                          it includes sys.c from its own directory); lets a
#                          deliberately broken copy prove the check fails
#   SANITIZE_KEEP=1        keep the temp dir (library and logs) for inspection
set -uo pipefail

HERE="${BASH_SOURCE[0]%/*}"
[ "$HERE" = "${BASH_SOURCE[0]}" ] && HERE=.
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

say() { printf 'sanitize: %s\n' "$*"; }

if ! command -v gcc >/dev/null 2>&1; then
  say "skipped: gcc not found"
  exit 0
fi

BUN="${BUN:-bun}"
SRC="${URING_CONNECT_NATIVE_SRC:-$ROOT/native/ring.c}"

DIR="$(mktemp -d "${TMPDIR:-/tmp}/uring-connect-sanitize.XXXXXX")"
if [ "${SANITIZE_KEEP:-}" = 1 ]; then
  say "keeping $DIR"
else
  trap 'rm -rf "$DIR"' EXIT
fi
LIB="$DIR/native-asan.so"
LOGS="$DIR/logs"
mkdir -p "$LOGS"

# The ASan runtime must be the first library in the process (ASan's
# interceptors replace malloc, free, memcpy, pthread_create...). Bun is not
# linked against it, so it is preloaded. gcc prints the bare name back when
# it has no libasan: treat that as a build failure, not a skip.
ASAN_RT="$(gcc -print-file-name=libasan.so)"
if [ ! -e "$ASAN_RT" ]; then
  say "FAIL: gcc has no ASan runtime (gcc -print-file-name=libasan.so gave '$ASAN_RT'); install libasan (Debian/Ubuntu: it comes with gcc, package libasan8)"
  exit 1
fi

# -fno-sanitize-recover=undefined makes every UBSan check fatal, like ASan's.
# -I native: ring.c's own includes (sys.c, include/arch.h), also for a copy
# built from elsewhere. No -I native/include: that stdatomic.h is for TinyCC
# only; gcc uses its own.
say "building $SRC"
build_start=$(date +%s%N)
if ! gcc -fsanitize=address,undefined -fno-sanitize-recover=undefined \
  -fno-omit-frame-pointer -g -O1 -shared -fPIC -Wall -Wextra \
  -I "$ROOT/native" -o "$LIB" "$SRC" -luring -lpthread; then
  say "FAIL: could not build the sanitized native library"
  exit 1
fi
build_ms=$(( ($(date +%s%N) - build_start) / 1000000 ))
say "built $LIB in ${build_ms} ms"

# ASAN_OPTIONS:
#   log_path=DIR/asan      every report (of any process: the file is suffixed
#                          with the pid) goes to a file that is checked below,
#                          so a report in a child process or on the shim's
#                          waker thread cannot go unnoticed in the output.
#   halt_on_error=1        stop at the first report (ASan's default without
#                          -fsanitize-recover=address; stated, not assumed).
#   detect_leaks=0         LeakSanitizer is off: Bun itself is not
#                          instrumented; its heaps (mimalloc, JSC's GC) hold
#                          pointers LSan cannot follow, so blocks malloc'd
#                          through libc and owned by Bun would be reported as
#                          leaks: noise, not bugs in the shim. (Checked with
#                          Bun 1.4.4: LSan's exit-time scan does not even run
#                          in a Bun process, so leaving it on would only look
#                          like a check.) The shim's frees are covered
#                          instead by ASan's double-free and use-after-free
#                          checks, and fd leaks by the suite's expectClean.
#   print_stacktrace=1     stack traces in UBSan reports (ASan always has one).
# No other option is needed: with the runtime preloaded, Bun 1.4.4 runs the
# suite unchanged (verify_asan_link_order, handle_segv, use_sigaltstack,
# allow_user_segv_handler and detect_odr_violation keep their defaults).
#
# UBSan's runtime (libubsan) is a dependency of the library, loaded by dlopen
# with it; it does not need preloading (preloading it changes nothing below).
# UBSAN_OPTIONS asks for the same directory, but with GCC 12's runtimes UBSan
# ignores log_path whenever libasan is in the process too (seen with a plain
# gcc -fsanitize=address,undefined executable as well; apparently its call to
# __sanitizer_set_report_path binds to libasan's copy, as both export it), so
# UBSan reports go to stderr: the suite's output is therefore captured and
# scanned as well. Every UBSan check is fatal (-fno-sanitize-recover), so a
# report in a child process also fails its test: the suite's child servers
# inherit stderr and its fixtures must exit 0 with an empty stderr.
export URING_CONNECT_NATIVE_LIB="$LIB"
export LD_PRELOAD="$ASAN_RT${LD_PRELOAD:+:$LD_PRELOAD}"
export ASAN_OPTIONS="log_path=$LOGS/asan:halt_on_error=1:detect_leaks=0:print_stacktrace=1"
export UBSAN_OPTIONS="log_path=$LOGS/ubsan:halt_on_error=1:print_stacktrace=1"
# Marks the nested run, so test/sanitize.test.ts never starts itself again.
export URING_CONNECT_SANITIZE_RUN=1

OUT="$DIR/output.txt"
say "running the connector suite on the sanitized native library"
test_start=$(date +%s%N)
# Only these files: never test/sanitize.test.ts, which runs this script.
"$BUN" test test/connector.test.ts test/adopt.test.ts test/backend.test.ts --timeout 60000 2>&1 | tee "$OUT"
status=${PIPESTATUS[0]}
test_ms=$(( ($(date +%s%N) - test_start) / 1000000 ))
say "bun test exited with $status after ${test_ms} ms"

failed=0
reports=("$LOGS"/*)
if [ -e "${reports[0]}" ]; then
  for report in "${reports[@]}"; do
    say "sanitizer report $(basename "$report"):"
    cat "$report"
  done
  say "FAIL: ${#reports[@]} sanitizer log file(s) written"
  failed=1
fi
# Reports that went to stderr instead (UBSan, see above).
if grep -E -q 'runtime error:|==[0-9]+==ERROR: |SUMMARY: [A-Za-z]+Sanitizer|Sanitizer:DEADLYSIGNAL' "$OUT"; then
  say "FAIL: sanitizer report(s) in the suite's output:"
  grep -E -A 3 'runtime error:|==[0-9]+==ERROR: |SUMMARY: [A-Za-z]+Sanitizer|Sanitizer:DEADLYSIGNAL' "$OUT"
  failed=1
fi
if [ "$failed" -ne 0 ]; then
  exit 1
fi
if [ "$status" -ne 0 ]; then
  say "FAIL: the connector suite failed under the sanitizers (exit $status)"
  exit "$status"
fi
say "OK: no sanitizer report, suite passed"
