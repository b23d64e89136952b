/* chi/proto/archive.h: the serialization archive. A task's inputs are written
 * into a future's copy space (or its arena block) by the submitter, host or
 * device, and read by the worker; outputs travel back the same way. Encoding:
 * little-endian fixed-width integers, byte strings as u32 length + bytes.
 * Every write and read is bounds-checked: a writer that runs out of room
 * records -EMSGSIZE (never truncates silently), a reader that runs past the
 * end or meets an impossible length records -EBADMSG. Errors are sticky, so a
 * serializer checks once at the end. */
#ifndef CHI_PROTO_ARCHIVE_H
#define CHI_PROTO_ARCHIVE_H

#include "defs.h"

typedef struct chi_ar {
	uint8_t *buf;
	uint32_t cap;
	uint32_t pos;
	int err;
} chi_ar;

CHI_INLINE void chi_ar_init(chi_ar *a, void *buf, uint32_t cap)
{
	a->buf = (uint8_t *)buf;
	a->cap = cap;
	a->pos = 0;
	a->err = 0;
}

/* Copy n bytes between non-overlapping buffers. On the device one side is
 * often pinned host memory, where every store is a PCIe write and every
 * load a PCIe round trip: the copy aligns the destination to 16 bytes, then
 * reads the source in aligned 16-byte words, eight issued before the first
 * is used (so that eight round trips overlap), and funnels them into aligned
 * 16-byte stores whatever the source's alignment. Plain variables, no
 * arrays: an array indexed at run time lives in local memory, and a load
 * into it waits before the next is issued. The last aligned word read may
 * extend up to 15 bytes past the source's end: it never crosses a page. */
#ifdef __CUDA_ARCH__
#define CHI_AR_W(a, b, i) ((i) == 0 ? (a).x : (i) == 1 ? (a).y : (i) == 2 ? (a).z : (i) == 3 ? (a).w \
			   : (i) == 4 ? (b).x : (i) == 5 ? (b).y : (i) == 6 ? (b).z : (b).w)
#define CHI_AR_FUN(a, b, Q, R, k) __funnelshift_r(CHI_AR_W(a, b, (k) + (Q)), CHI_AR_W(a, b, (k) + (Q) + 1), (R))
#define CHI_AR_OUT(a, b, Q, R, at)                                                     \
	do {                                                                           \
		uint4 o_;                                                              \
		o_.x = CHI_AR_FUN(a, b, Q, R, 0);                                      \
		o_.y = CHI_AR_FUN(a, b, Q, R, 1);                                      \
		o_.z = CHI_AR_FUN(a, b, Q, R, 2);                                      \
		o_.w = CHI_AR_FUN(a, b, Q, R, 3);                                      \
		*(at) = o_;                                                            \
	} while (0)
#define CHI_AR_SHIFT_LOOP(Q)                                                           \
	for (; k + 8 <= chunks; k += 8) {                                              \
		uint4 b0 = src[k + 1], b1 = src[k + 2], b2 = src[k + 3], b3 = src[k + 4]; \
		uint4 b4 = src[k + 5], b5 = src[k + 6], b6 = src[k + 7], b7 = src[k + 8]; \
		CHI_AR_OUT(cur, b0, Q, r, dst + k);                                    \
		CHI_AR_OUT(b0, b1, Q, r, dst + k + 1);                                 \
		CHI_AR_OUT(b1, b2, Q, r, dst + k + 2);                                 \
		CHI_AR_OUT(b2, b3, Q, r, dst + k + 3);                                 \
		CHI_AR_OUT(b3, b4, Q, r, dst + k + 4);                                 \
		CHI_AR_OUT(b4, b5, Q, r, dst + k + 5);                                 \
		CHI_AR_OUT(b5, b6, Q, r, dst + k + 6);                                 \
		CHI_AR_OUT(b6, b7, Q, r, dst + k + 7);                                 \
		cur = b7;                                                              \
	}                                                                              \
	for (; k < chunks; k++) {                                                      \
		uint4 b0 = src[k + 1];                                                 \
		CHI_AR_OUT(cur, b0, Q, r, dst + k);                                    \
		cur = b0;                                                              \
	}
#endif
CHI_INLINE void chi_ar_copy(uint8_t *d, const uint8_t *s, uint32_t n)
{
#ifdef __CUDA_ARCH__
	uint32_t i = 0;
	if (n >= 64) {
		for (; (uintptr_t)(d + i) & 15u; i++)
			d[i] = s[i];
		uint32_t chunks = (n - i) / 16u, k = 0, sh = (uint32_t)((uintptr_t)(s + i) & 15u);
		uint4 *dst = (uint4 *)(void *)(d + i);
		const uint4 *src = (const uint4 *)(const void *)(s + i - sh);
		if (!sh) {
			for (; k + 8 <= chunks; k += 8) {
				uint4 a0 = src[k], a1 = src[k + 1], a2 = src[k + 2], a3 = src[k + 3];
				uint4 a4 = src[k + 4], a5 = src[k + 5], a6 = src[k + 6], a7 = src[k + 7];
				dst[k] = a0;
				dst[k + 1] = a1;
				dst[k + 2] = a2;
				dst[k + 3] = a3;
				dst[k + 4] = a4;
				dst[k + 5] = a5;
				dst[k + 6] = a6;
				dst[k + 7] = a7;
			}
			for (; k < chunks; k++)
				dst[k] = src[k];
		} else {
			uint32_t r = (sh & 3u) * 8u;
			uint4 cur = src[0];
			switch (sh >> 2) {
			case 0: CHI_AR_SHIFT_LOOP(0) break;
			case 1: CHI_AR_SHIFT_LOOP(1) break;
			case 2: CHI_AR_SHIFT_LOOP(2) break;
			default: CHI_AR_SHIFT_LOOP(3) break;
			}
		}
		i += chunks * 16u;
	}
	for (; i < n; i++)
		d[i] = s[i];
#else
	__builtin_memcpy(d, s, n);
#endif
}

/* Reserve n bytes for writing; NULL (and err = -EMSGSIZE) if they do not fit. */
CHI_INLINE uint8_t *chi_ar_reserve(chi_ar *a, uint32_t n)
{
	if (a->err || n > a->cap - a->pos) {
		if (!a->err)
			a->err = -CHI_EMSGSIZE;
		return (uint8_t *)0;
	}
	uint8_t *p = a->buf + a->pos;
	a->pos += n;
	return p;
}

/* Take n bytes for reading; NULL (and err = -EBADMSG) past the end. */
CHI_INLINE const uint8_t *chi_ar_take(chi_ar *a, uint32_t n)
{
	if (a->err || n > a->cap - a->pos) {
		if (!a->err)
			a->err = -CHI_EBADMSG;
		return (const uint8_t *)0;
	}
	const uint8_t *p = a->buf + a->pos;
	a->pos += n;
	return p;
}

CHI_INLINE void chi_ar_put_u32(chi_ar *a, uint32_t v)
{
	uint8_t *p = chi_ar_reserve(a, 4);
	if (p)
		for (int i = 0; i < 4; i++)
			p[i] = (uint8_t)(v >> (8 * i));
}
CHI_INLINE void chi_ar_put_u64(chi_ar *a, uint64_t v)
{
	uint8_t *p = chi_ar_reserve(a, 8);
	if (p)
		for (int i = 0; i < 8; i++)
			p[i] = (uint8_t)(v >> (8 * i));
}
CHI_INLINE uint32_t chi_ar_get_u32(chi_ar *a)
{
	const uint8_t *p = chi_ar_take(a, 4);
	uint32_t v = 0;
	if (p)
		for (int i = 0; i < 4; i++)
			v |= (uint32_t)p[i] << (8 * i);
	return v;
}
CHI_INLINE uint64_t chi_ar_get_u64(chi_ar *a)
{
	const uint8_t *p = chi_ar_take(a, 8);
	uint64_t v = 0;
	if (p)
		for (int i = 0; i < 8; i++)
			v |= (uint64_t)p[i] << (8 * i);
	return v;
}
/* Byte string: u32 length, then the bytes. */
CHI_INLINE void chi_ar_put_bytes(chi_ar *a, const void *src, uint32_t n)
{
	chi_ar_put_u32(a, n);
	uint8_t *p = chi_ar_reserve(a, n);
	if (p && n)
		chi_ar_copy(p, (const uint8_t *)src, n);
}
/* Zero-copy read of a byte string: returns a pointer into the archive and the
 * length, or NULL with err set when the length runs past the end. */
CHI_INLINE const uint8_t *chi_ar_get_bytes(chi_ar *a, uint32_t *n)
{
	uint32_t len = chi_ar_get_u32(a);
	const uint8_t *p = chi_ar_take(a, len);
	*n = p ? len : 0;
	return p;
}
/* Fixed-size string field of at most cap-1 bytes, NUL-terminated on read. */
CHI_INLINE void chi_ar_get_str(chi_ar *a, char *dst, uint32_t cap)
{
	uint32_t n;
	const uint8_t *p = chi_ar_get_bytes(a, &n);
	if (!p || n >= cap) {
		if (!a->err)
			a->err = -CHI_EBADMSG;
		dst[0] = 0;
		return;
	}
	for (uint32_t i = 0; i < n; i++)
		dst[i] = (char)p[i];
	dst[n] = 0;
}
CHI_INLINE void chi_ar_put_str(chi_ar *a, const char *s)
{
	uint32_t n = 0;
	while (s[n])
		n++;
	chi_ar_put_bytes(a, s, n);
}

#endif
