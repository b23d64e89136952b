/* chi/proto/defs.h: portability macros for headers shared by host C11 and
 * CUDA C++ (nvcc). nvcc rejects _Static_assert, _Atomic, _Alignas, _Bool and
 * restrict in these headers, so shared code uses only the macros below and
 * plain fixed-width integers. */
#ifndef CHI_PROTO_DEFS_H
#define CHI_PROTO_DEFS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __CUDACC__
#define CHI_HD __host__ __device__
#define CHI_DEVICE __device__
#define CHI_RESTRICT __restrict__
#define CHI_ALIGNAS(n) __align__(n)
#define CHI_STATIC_ASSERT(c, m) static_assert(c, m)
#else
#define CHI_HD
#define CHI_DEVICE
#define CHI_RESTRICT restrict
#define CHI_ALIGNAS(n) __attribute__((aligned(n)))
#define CHI_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif

/* Every shared-code function is static inline: header-only, so the host
 * library, CPU tests and GPU kernels compile the very same text. */
#define CHI_INLINE static inline CHI_HD

#if defined(__GNUC__) || defined(__CUDACC__)
#define CHI_LIKELY(x) __builtin_expect(!!(x), 1)
#define CHI_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define CHI_LIKELY(x) (x)
#define CHI_UNLIKELY(x) (x)
#endif

#define CHI_CACHELINE 64

/* Smallest s with 2^s >= v (ring and pool sizes are powers of two). */
CHI_INLINE uint32_t chi_log2_u32(uint32_t v)
{
	uint32_t s = 0;
	while ((1u << s) < v)
		s++;
	return s;
}

/* errno values used by shared code; device code has no <errno.h>. Values are
 * Linux's. */
#define CHI_EIO 5
#define CHI_EAGAIN 11
#define CHI_ENOMEM 12
#define CHI_EINVAL 22
#define CHI_ENOSPC 28
#define CHI_ERANGE 34
#define CHI_ENOSYS 38
#define CHI_ENOENT 2
#define CHI_ESRCH 3
#define CHI_EBADMSG 74
#define CHI_EMSGSIZE 90
#define CHI_ETIMEDOUT 110
#define CHI_ECANCELED 125
#define CHI_EOWNERDEAD 130
#define CHI_ESHUTDOWN 108
#define CHI_ENOTCONN 107

#endif
