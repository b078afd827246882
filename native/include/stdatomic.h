/*
 * stdatomic.h for TinyCC on x86-64 only.
 *
 * Why: liburing.h includes <stdatomic.h>, which TinyCC (bun:ffi's `cc`) does
 * not ship, and TinyCC's __atomic_* builtins call runtime helpers
 * (__atomic_load_4, ...) that Bun does not export. liburing only needs
 * relaxed/acquire/release loads and stores plus a full fence.
 *
 * Valid for x86-64 only: x86-64 is TSO, so an aligned volatile access plus a
 * compiler barrier is an acquire load / release store, and mfence is a full
 * fence (both from arch.h). Weakly ordered CPUs (aarch64) need real
 * barriers: refuse to build.
 */
#ifndef UC_COMPAT_STDATOMIC_H
#define UC_COMPAT_STDATOMIC_H

#include "arch.h" /* refuses to build anywhere but x86-64 */

#define _Atomic

typedef enum {
	memory_order_relaxed,
	memory_order_consume,
	memory_order_acquire,
	memory_order_release,
	memory_order_acq_rel,
	memory_order_seq_cst
} memory_order;

#define atomic_load_explicit(p, order)                                        \
	({                                                                     \
		__typeof__(*(p)) uc_loaded_ = *(volatile __typeof__(*(p)) *)(p); \
		uc_compiler_barrier();                                         \
		uc_loaded_;                                                    \
	})

#define atomic_store_explicit(p, v, order)                                    \
	do {                                                                   \
		uc_compiler_barrier();                                         \
		*(volatile __typeof__(*(p)) *)(p) = (v);                       \
		uc_compiler_barrier();                                         \
	} while (0)

#define atomic_thread_fence(order) uc_full_fence()

#endif
