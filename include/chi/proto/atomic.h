/* chi/proto/atomic.h: the one atomics header for code shared by host and
 * device.
 *
 * Host: gcc/clang __atomic builtins. Device (__CUDA_ARCH__): volatile accesses
 * plus __threadfence_system() for memory that the host also sees (pinned
 * memory), and atomicAdd/atomicCAS for device-memory counters. An __atomic
 * builtin inside __host__ __device__ code compiles to nothing on the device
 * (with only a warning), which is why every shared access goes through here.
 *
 * Naming: chi_ld_acq_* pairs with a chi_st_rel_* on the other side; each
 * caller labels the pair it relies on in a comment. */
#ifndef CHI_PROTO_ATOMIC_H
#define CHI_PROTO_ATOMIC_H

#include "defs.h"

#if defined(__CUDA_ARCH__)

CHI_INLINE uint32_t chi_ld_acq_u32(const uint32_t *p)
{
	uint32_t v = *(const volatile uint32_t *)p;
	__threadfence_system();
	return v;
}
CHI_INLINE uint64_t chi_ld_acq_u64(const uint64_t *p)
{
	uint64_t v = *(const volatile uint64_t *)p;
	__threadfence_system();
	return v;
}
CHI_INLINE uint64_t chi_ld_rlx_u64(const uint64_t *p)
{
	return *(const volatile uint64_t *)p;
}
CHI_INLINE uint32_t chi_ld_rlx_u32(const uint32_t *p)
{
	return *(const volatile uint32_t *)p;
}
CHI_INLINE void chi_st_rel_u64(uint64_t *p, uint64_t v)
{
	__threadfence_system();
	*(volatile uint64_t *)p = v;
}
CHI_INLINE void chi_st_rel_u32(uint32_t *p, uint32_t v)
{
	__threadfence_system();
	*(volatile uint32_t *)p = v;
}
CHI_INLINE void chi_st_rlx_u64(uint64_t *p, uint64_t v)
{
	*(volatile uint64_t *)p = v;
}
CHI_INLINE void chi_st_rlx_u32(uint32_t *p, uint32_t v)
{
	*(volatile uint32_t *)p = v;
}
/* Two words at a 16-byte aligned p in one store: to pinned memory that is
 * one PCIe write instead of two. Not single-copy atomic for the reader:
 * publish with a release store after it. */
CHI_INLINE void chi_st_pair_u64(uint64_t *p, uint64_t a, uint64_t b)
{
	asm volatile("st.volatile.v2.u64 [%0], {%1, %2};" ::"l"(p), "l"(a), "l"(b) : "memory");
}
/* Publication on the device: a second system fence after the store pushes it
 * out of the SM instead of letting it linger (measured: docs/benchmarks.md,
 * H100 builds and Experiments). */
CHI_INLINE void chi_st_publish_u64(uint64_t *p, uint64_t v)
{
	/* a system-scope release store orders this thread's earlier writes
	 * (the future block) before it; the fence after pushes it out */
	asm volatile("st.release.sys.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
	__threadfence_system(); /* (fence.acq_rel.sys here measured no faster) */
}
/* Publication without ordering before it (sealed entries, seal.h: every
 * word the reader needs validates itself); the fence after it pushes it out
 * as in chi_st_publish_u64. */
CHI_INLINE void chi_st_publish_rlx_u64(uint64_t *p, uint64_t v)
{
	asm volatile("st.relaxed.sys.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
	__threadfence_system();
}
CHI_INLINE uint64_t chi_faa_u64(uint64_t *p, uint64_t v)
{
	return (uint64_t)atomicAdd((unsigned long long *)p, (unsigned long long)v);
}
/* Device-scope flavours, for words in device memory that only GPU threads
 * touch (the block pools): __threadfence() instead of the system fence,
 * which costs ~0.6 us on the H100. */
CHI_INLINE uint64_t chi_ld_acq_dev_u64(const uint64_t *p)
{
	uint64_t v = *(const volatile uint64_t *)p;
	__threadfence();
	return v;
}
CHI_INLINE void chi_st_rel_dev_u64(uint64_t *p, uint64_t v)
{
	__threadfence();
	*(volatile uint64_t *)p = v;
}
CHI_INLINE int chi_cas_u64(uint64_t *p, uint64_t *expected, uint64_t desired)
{
	unsigned long long old = atomicCAS((unsigned long long *)p,
		(unsigned long long)*expected, (unsigned long long)desired);
	if (old == *expected)
		return 1;
	*expected = old;
	return 0;
}
CHI_INLINE void chi_fence_seq(void) { __threadfence_system(); }
CHI_INLINE void chi_cpu_relax(void) { __nanosleep(32); }

#else /* host */

CHI_INLINE uint32_t chi_ld_acq_u32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
CHI_INLINE uint64_t chi_ld_acq_u64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
CHI_INLINE uint64_t chi_ld_rlx_u64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}
CHI_INLINE uint32_t chi_ld_rlx_u32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}
CHI_INLINE void chi_st_rel_u64(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}
CHI_INLINE void chi_st_rel_u32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}
CHI_INLINE void chi_st_rlx_u64(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}
CHI_INLINE void chi_st_rlx_u32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}
CHI_INLINE void chi_st_pair_u64(uint64_t *p, uint64_t a, uint64_t b)
{
	__atomic_store_n(p, a, __ATOMIC_RELAXED);
	__atomic_store_n(p + 1, b, __ATOMIC_RELAXED);
}
/* Publication on the host is sequentially consistent: the producer reads the
 * worker's sleeping flag right after it (Dekker pair with the worker's
 * seq_cst store of that flag, see src/runtime/worker.c). */
CHI_INLINE void chi_st_publish_u64(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}
/* Host flavour: seq_cst all the same, for the sleeping-flag Dekker pair. */
CHI_INLINE void chi_st_publish_rlx_u64(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}
CHI_INLINE uint64_t chi_faa_u64(uint64_t *p, uint64_t v)
{
	return __atomic_fetch_add(p, v, __ATOMIC_ACQ_REL);
}
CHI_INLINE uint64_t chi_ld_acq_dev_u64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
CHI_INLINE void chi_st_rel_dev_u64(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}
CHI_INLINE int chi_cas_u64(uint64_t *p, uint64_t *expected, uint64_t desired)
{
	return __atomic_compare_exchange_n(p, expected, desired, 0,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
CHI_INLINE void chi_fence_seq(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
CHI_INLINE void chi_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

#endif /* __CUDA_ARCH__ */
#endif
