/*
 * arch.h - the memory-ordering primitives native/ring.c and this
 * directory's stdatomic.h are built on, as inline assembly.
 *
 * Why: TinyCC (bun:ffi's `cc`) has no usable atomics: its __atomic_*
 * builtins call runtime helpers (__atomic_exchange_4, ...) that Bun does
 * not export, and it ships no stdatomic.h. ring.c needs an atomic exchange
 * (the waker's wake-pending flag, shared with the JS thread) and a full
 * fence (between re-enabling the eventfd signal and peeking the CQ).
 *
 * Valid for x86-64 only: there `xchg` with a memory operand is implicitly
 * locked and a full barrier, `mfence` orders every earlier load and store
 * before every later one, and ordinary aligned accesses are TSO, so a
 * compiler barrier is all an acquire load or release store needs. Weakly
 * ordered CPUs (aarch64) need real barrier instructions: refuse to build.
 * gcc builds (test/native/) use the same definitions.
 */
#ifndef UC_ARCH_H
#define UC_ARCH_H

#if !defined(__x86_64__)
#error "uring-connect: native/include/arch.h is only valid on x86-64"
#endif

/* Keep the compiler from moving memory accesses across this point. */
#define uc_compiler_barrier() __asm__ __volatile__("" ::: "memory")

/* Full fence: no load or store moves across it, on the CPU either. */
#define uc_full_fence() __asm__ __volatile__("mfence" ::: "memory")

/* Atomically store v in *p and return the old value; a full fence. */
static inline int uc_xchg(volatile int *p, int v)
{
	__asm__ __volatile__("xchgl %0, %1" : "+r"(v), "+m"(*p) : : "memory");
	return v;
}

#endif
