/* chi/proto/codec.h: a task type's codec written once, as a list of fields.
 *
 * List the task's input fields and output fields, each in wire order, one
 * X(KIND, field...) per field, then instantiate the codec:
 *
 *   #define CHI_BDEV_WRITE_IN(X) \
 *           X(U64, offset)       \
 *           X(BYTES, data, len)
 *   #define CHI_BDEV_WRITE_OUT(X) X(U64, written)
 *   CHI_CODEC(chi_bdev_write, chi_bdev_write_task, CHI_BDEV_WRITE_IN, CHI_BDEV_WRITE_OUT)
 *
 * (no semicolon after CHI_CODEC). That defines these CHI_HD functions:
 *
 *   int chi_bdev_write_ser_in(chi_ar *a, const chi_task *h);   encode inputs
 *   int chi_bdev_write_de_in(chi_ar *a, chi_task *h);          decode inputs
 *   int chi_bdev_write_ser_out(chi_ar *a, const chi_task *h);  encode outputs
 *   int chi_bdev_write_de_out(chi_ar *a, chi_task *h);         decode outputs
 *   uint32_t chi_bdev_write_in_size(const chi_bdev_write_task *t);   bytes ser_in writes
 *   uint32_t chi_bdev_write_out_size(const chi_bdev_write_task *t);  bytes ser_out writes
 *
 * and the init function sets t->hdr.in_size = chi_bdev_write_in_size(t).
 * CHI_CODEC_IN(name, type, IN) and CHI_CODEC_OUT(name, type, OUT) define one
 * half only, for a type whose other half has a special layout and stays
 * hand-written. An empty list is `#define NAME_IN(X)` (nothing on the wire).
 * CHI_CODEC_TABLE(name, type) / CHI_CODEC_TABLE_IN(name, type) (no output)
 * expand to a chi_codec initializer of name_ser_in ... name_de_out (host side).
 *
 * Kinds, with their encoding (chi/proto/archive.h, little-endian) and size:
 *   X(U32, f)       uint32_t f: 4 bytes                               4
 *   X(U64, f)       uint64_t f: 8 bytes                               8
 *   X(BYTES, p, n)  const uint8_t *p, uint32_t n: u32 n, then n bytes  4 + n
 *                   decoded zero copy: p points into the archive, valid
 *                   as long as the archive's buffer is
 *   X(STR, s)       char s[N]: u32 strlen(s), then the bytes, no NUL   4 + strlen(s)
 *                   decoded NUL-terminated; -EBADMSG unless it fits N - 1
 * Wire order is the list's order, not the struct's. Every field's width is
 * checked at compile time (a U32 on a uint64_t field does not build). Not
 * for this scheme (write that half by hand): padding, bytes produced in
 * place, output bytes copied into a client buffer, arrays of records.
 * Errors are the archive's (sticky a->err): ser_* return -EMSGSIZE when out
 * of room, de_* -EBADMSG when the bytes run out. */
#ifndef CHI_PROTO_CODEC_H
#define CHI_PROTO_CODEC_H

#include "archive.h"
#include "task.h"

CHI_INLINE uint32_t chi_codec_strlen(const char *s)
{
	uint32_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* one field: X(KIND, ...) -> CHI_CF_<OP>_<KIND>(...), with `a` and `t` in scope */
#define CHI_CF_PUT(kind, ...) CHI_CF_PUT_##kind(__VA_ARGS__)
#define CHI_CF_GET(kind, ...) CHI_CF_GET_##kind(__VA_ARGS__)
#define CHI_CF_SIZE(kind, ...) CHI_CF_SIZE_##kind(__VA_ARGS__)

#define CHI_CF_PUT_U32(f) chi_ar_put_u32(a, t->f);
#define CHI_CF_PUT_U64(f) chi_ar_put_u64(a, t->f);
#define CHI_CF_PUT_BYTES(p, n) chi_ar_put_bytes(a, t->p, t->n);
#define CHI_CF_PUT_STR(s) chi_ar_put_str(a, t->s);

#define CHI_CF_GET_U32(f) t->f = chi_ar_get_u32(a);
#define CHI_CF_GET_U64(f) t->f = chi_ar_get_u64(a);
#define CHI_CF_GET_BYTES(p, n) t->p = chi_ar_get_bytes(a, &t->n);
#define CHI_CF_GET_STR(s) chi_ar_get_str(a, t->s, (uint32_t)sizeof(t->s));

#define CHI_CF_SIZE_U32(f)                                                    \
	CHI_STATIC_ASSERT(sizeof(t->f) == 4, "U32 field " #f " is 4 bytes"); \
	n += 4;
#define CHI_CF_SIZE_U64(f)                                                    \
	CHI_STATIC_ASSERT(sizeof(t->f) == 8, "U64 field " #f " is 8 bytes"); \
	n += 8;
#define CHI_CF_SIZE_BYTES(p, n_)                                                         \
	CHI_STATIC_ASSERT(sizeof(t->n_) == 4, "BYTES length " #n_ " is 4 bytes");       \
	CHI_STATIC_ASSERT(sizeof(*t->p) == 1, "BYTES field " #p " points to bytes");    \
	n += 4 + t->n_;
#define CHI_CF_SIZE_STR(s)                                                           \
	CHI_STATIC_ASSERT(sizeof(t->s[0]) == 1, "STR field " #s " holds chars");     \
	n += 4 + chi_codec_strlen(t->s);

/* name##_ser_<dir>, name##_de_<dir>, name##_<dir>_size for one field list;
 * the typed name##_enc_<dir> / name##_dec_<dir> do the work (a typed
 * parameter, not a local, so that an empty list leaves nothing unused). */
#define CHI_CODEC_HALF_(name, type, LIST, dir)                          \
	CHI_INLINE int name##_enc_##dir(chi_ar *a, const type *t)        \
	{                                                               \
		(void)t;                                                \
		LIST(CHI_CF_PUT)                                        \
		return a->err;                                          \
	}                                                               \
	CHI_INLINE int name##_dec_##dir(chi_ar *a, type *t)              \
	{                                                               \
		(void)t;                                                \
		LIST(CHI_CF_GET)                                        \
		return a->err;                                          \
	}                                                               \
	CHI_INLINE int name##_ser_##dir(chi_ar *a, const chi_task *h)    \
	{                                                               \
		return name##_enc_##dir(a, (const type *)h);            \
	}                                                               \
	CHI_INLINE int name##_de_##dir(chi_ar *a, chi_task *h)           \
	{                                                               \
		return name##_dec_##dir(a, (type *)h);                  \
	}                                                               \
	CHI_INLINE uint32_t name##_##dir##_size(const type *t)          \
	{                                                               \
		uint32_t n = 0;                                         \
		(void)t;                                                \
		LIST(CHI_CF_SIZE)                                       \
		return n;                                               \
	}

#define CHI_CODEC_IN(name, type, IN) CHI_CODEC_HALF_(name, type, IN, in)
#define CHI_CODEC_OUT(name, type, OUT) CHI_CODEC_HALF_(name, type, OUT, out)
#define CHI_CODEC(name, type, IN, OUT) \
	CHI_CODEC_IN(name, type, IN)   \
	CHI_CODEC_OUT(name, type, OUT)

#define CHI_CODEC_TABLE(name, type) \
	{name##_ser_in, name##_de_in, name##_ser_out, name##_de_out, (uint32_t)sizeof(type)}
#define CHI_CODEC_TABLE_IN(name, type) {name##_ser_in, name##_de_in, 0, 0, (uint32_t)sizeof(type)}

#endif
