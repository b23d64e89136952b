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
 * load a PCIe round trip: words as wide as the two addresses allow (16, 8
 * or 4 bytes once the destination is aligned), loads in batches of four
 * before their stores so that four round trips overlap. */
#ifdef __CUDA_ARCH__
#define CHI_AR_COPY_WIDE(T, w)                                                         \
	do {                                                                           \
		for (; i < n && ((uintptr_t)(d + i) & (w - 1)); i++)                   \
			d[i] = s[i];                                                   \
		for (; i + 4 * w <= n; i += 4 * w) {                                   \
			T a0 = *(const T *)(s + i), a1 = *(const T *)(s + i + w);      \
			T a2 = *(const T *)(s + i + 2 * w), a3 = *(const T *)(s + i + 3 * w); \
			*(T *)(d + i) = a0;                                            \
			*(T *)(d + i + w) = a1;                                        \
			*(T *)(d + i + 2 * w) = a2;                                    \
			*(T *)(d + i + 3 * w) = a3;                                    \
		}                                                                      \
		for (; i + w <= n; i += w)                                             \
			*(T *)(d + i) = *(const T *)(s + i);                           \
	} while (0)
#endif
CHI_INLINE void chi_ar_copy(uint8_t *d, const uint8_t *s, uint32_t n)
{
#ifdef __CUDA_ARCH__
	uint32_t i = 0;
	uintptr_t x = (uintptr_t)d ^ (uintptr_t)s;
	if (n >= 64 && (x & 15u) == 0)
		CHI_AR_COPY_WIDE(uint4, 16u);
	else if (n >= 32 && (x & 7u) == 0)
		CHI_AR_COPY_WIDE(uint64_t, 8u);
	else if (n >= 16 && (x & 3u) == 0)
		CHI_AR_COPY_WIDE(uint32_t, 4u);
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
