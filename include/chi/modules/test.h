/* chi/modules/test.h: the test module's tasks and their serializers, CHI_HD
 * so that host clients, the runtime and GPU kernels share one text.
 *
 * Methods: noop, echo (bytes back), double_plus (value * 2 + id; GPU kernels
 * pass their gpu_id), large_output (size bytes of a seeded pattern, 1 MiB by
 * default), sub_double_plus (runs double_plus as a zero-copy sub-task from
 * inside the worker), fail (returns -code), spin (busy for ns). */
#ifndef CHI_MODULES_TEST_H
#define CHI_MODULES_TEST_H

#include "chi/proto/archive.h"
#include "chi/proto/task.h"

#define CHI_TEST_NOOP 0
#define CHI_TEST_ECHO 1
#define CHI_TEST_DOUBLE_PLUS 2
#define CHI_TEST_LARGE_OUTPUT 3
#define CHI_TEST_SUB_DOUBLE_PLUS 4
#define CHI_TEST_FAIL 5
#define CHI_TEST_SPIN 6
#define CHI_TEST_NMETHODS 7

#define CHI_TEST_LARGE_DEFAULT (1u << 20)

/* byte i of large_output's pattern */
CHI_INLINE uint8_t chi_test_pattern(uint32_t seed, uint32_t i)
{
	uint32_t x = (i ^ seed) * 2654435761u;
	return (uint8_t)(x >> 24);
}

/* ---- noop ---- */
typedef struct chi_test_noop_task {
	chi_task hdr;
} chi_test_noop_task;
CHI_INLINE void chi_test_noop_init(chi_test_noop_task *t, chi_pool_id pool)
{
	chi_task_init(&t->hdr, pool, CHI_TEST_NOOP, 0);
}
CHI_INLINE int chi_test_noop_ser(chi_ar *a, const chi_task *t)
{
	(void)t;
	return a->err;
}
CHI_INLINE int chi_test_noop_de(chi_ar *a, chi_task *t)
{
	(void)t;
	return a->err;
}

/* ---- echo ---- */
typedef struct chi_test_echo_task {
	chi_task hdr;
	const uint8_t *data; /* in: bytes to send */
	uint32_t len;
	uint32_t reply_len;  /* out: bytes received */
	uint8_t *reply;      /* out: where the client wants them (reply_cap) */
	uint32_t reply_cap;
	uint32_t pad;
} chi_test_echo_task;
CHI_INLINE void chi_test_echo_init(chi_test_echo_task *t, chi_pool_id pool, const void *data,
				   uint32_t len, void *reply, uint32_t reply_cap)
{
	chi_task_init(&t->hdr, pool, CHI_TEST_ECHO, 0);
	t->data = (const uint8_t *)data;
	t->len = len;
	t->reply = (uint8_t *)reply;
	t->reply_cap = reply_cap;
	t->reply_len = 0;
	t->hdr.in_size = 4 + len;
	t->hdr.out_size = 4 + reply_cap;
}
CHI_INLINE int chi_test_echo_ser_in(chi_ar *a, const chi_task *h)
{
	const chi_test_echo_task *t = (const chi_test_echo_task *)h;
	chi_ar_put_bytes(a, t->data, t->len);
	return a->err;
}
CHI_INLINE int chi_test_echo_de_in(chi_ar *a, chi_task *h)
{
	chi_test_echo_task *t = (chi_test_echo_task *)h;
	t->data = chi_ar_get_bytes(a, &t->len); /* zero copy: points into the archive */
	return a->err;
}
CHI_INLINE int chi_test_echo_ser_out(chi_ar *a, const chi_task *h)
{
	const chi_test_echo_task *t = (const chi_test_echo_task *)h;
	chi_ar_put_bytes(a, t->data, t->reply_len);
	return a->err;
}
CHI_INLINE int chi_test_echo_de_out(chi_ar *a, chi_task *h)
{
	chi_test_echo_task *t = (chi_test_echo_task *)h;
	uint32_t n;
	const uint8_t *p = chi_ar_get_bytes(a, &n);
	if (p && n <= t->reply_cap) {
		chi_ar_copy(t->reply, p, n);
		t->reply_len = n;
	} else if (!a->err) {
		a->err = -CHI_EBADMSG;
	}
	return a->err;
}

/* ---- double_plus ---- */
typedef struct chi_test_double_plus_task {
	chi_task hdr;
	uint64_t value; /* in */
	uint32_t id;    /* in */
	uint32_t pad;
	uint64_t result; /* out: value * 2 + id */
} chi_test_double_plus_task;
CHI_INLINE void chi_test_double_plus_init(chi_test_double_plus_task *t, chi_pool_id pool,
					  uint64_t value, uint32_t id)
{
	chi_task_init(&t->hdr, pool, CHI_TEST_DOUBLE_PLUS, 0);
	t->value = value;
	t->id = id;
	t->pad = 0;
	t->result = 0;
	t->hdr.in_size = 12;
	t->hdr.out_size = 8;
}
CHI_INLINE int chi_test_double_plus_ser_in(chi_ar *a, const chi_task *h)
{
	const chi_test_double_plus_task *t = (const chi_test_double_plus_task *)h;
	chi_ar_put_u64(a, t->value);
	chi_ar_put_u32(a, t->id);
	return a->err;
}
CHI_INLINE int chi_test_double_plus_de_in(chi_ar *a, chi_task *h)
{
	chi_test_double_plus_task *t = (chi_test_double_plus_task *)h;
	t->value = chi_ar_get_u64(a);
	t->id = chi_ar_get_u32(a);
	return a->err;
}
CHI_INLINE int chi_test_double_plus_ser_out(chi_ar *a, const chi_task *h)
{
	chi_ar_put_u64(a, ((const chi_test_double_plus_task *)h)->result);
	return a->err;
}
CHI_INLINE int chi_test_double_plus_de_out(chi_ar *a, chi_task *h)
{
	((chi_test_double_plus_task *)h)->result = chi_ar_get_u64(a);
	return a->err;
}

/* ---- large_output ---- */
typedef struct chi_test_large_task {
	chi_task hdr;
	uint32_t seed;  /* in */
	uint32_t size;  /* in: bytes wanted */
	uint8_t *buf;   /* out: client buffer of `size` bytes */
	uint32_t got;   /* out: bytes received */
	uint32_t pad;
} chi_test_large_task;
CHI_INLINE void chi_test_large_init(chi_test_large_task *t, chi_pool_id pool, uint32_t seed,
				    uint32_t size, void *buf)
{
	chi_task_init(&t->hdr, pool, CHI_TEST_LARGE_OUTPUT, 0);
	t->seed = seed;
	t->size = size;
	t->buf = (uint8_t *)buf;
	t->got = 0;
	t->pad = 0;
	t->hdr.in_size = 8;
	t->hdr.out_size = 4 + size;
}
CHI_INLINE int chi_test_large_ser_in(chi_ar *a, const chi_task *h)
{
	const chi_test_large_task *t = (const chi_test_large_task *)h;
	chi_ar_put_u32(a, t->seed);
	chi_ar_put_u32(a, t->size);
	return a->err;
}
CHI_INLINE int chi_test_large_de_in(chi_ar *a, chi_task *h)
{
	chi_test_large_task *t = (chi_test_large_task *)h;
	t->seed = chi_ar_get_u32(a);
	t->size = chi_ar_get_u32(a);
	return a->err;
}
/* The runtime generates the pattern straight into the output area. */
CHI_INLINE int chi_test_large_ser_out(chi_ar *a, const chi_task *h)
{
	const chi_test_large_task *t = (const chi_test_large_task *)h;
	chi_ar_put_u32(a, t->size);
	uint8_t *p = chi_ar_reserve(a, t->size);
	if (p)
		for (uint32_t i = 0; i < t->size; i++)
			p[i] = chi_test_pattern(t->seed, i);
	return a->err;
}
CHI_INLINE int chi_test_large_de_out(chi_ar *a, chi_task *h)
{
	chi_test_large_task *t = (chi_test_large_task *)h;
	uint32_t n = chi_ar_get_u32(a);
	const uint8_t *p = n <= t->size ? chi_ar_take(a, n) : (const uint8_t *)0;
	if (p) {
		chi_ar_copy(t->buf, p, n);
		t->got = n;
	} else if (!a->err) {
		a->err = -CHI_EBADMSG;
	}
	return a->err;
}

/* ---- fail / spin: one u64 argument, no output ---- */
typedef struct chi_test_arg_task {
	chi_task hdr;
	uint64_t arg; /* fail: error code to return negated; spin: nanoseconds */
} chi_test_arg_task;
CHI_INLINE void chi_test_arg_init(chi_test_arg_task *t, chi_pool_id pool, uint16_t method,
				  uint64_t arg)
{
	chi_task_init(&t->hdr, pool, method, 0);
	t->arg = arg;
	t->hdr.in_size = 8;
}
CHI_INLINE int chi_test_arg_ser_in(chi_ar *a, const chi_task *h)
{
	chi_ar_put_u64(a, ((const chi_test_arg_task *)h)->arg);
	return a->err;
}
CHI_INLINE int chi_test_arg_de_in(chi_ar *a, chi_task *h)
{
	((chi_test_arg_task *)h)->arg = chi_ar_get_u64(a);
	return a->err;
}

/* host-side declarations (nvcc sees them in both passes; device code
 * uses only the CHI_HD functions above) */
#include "chi/chi.h"
#ifdef __cplusplus
extern "C" {
#endif
extern const chi_codec chi_test_noop_codec;
extern const chi_codec chi_test_echo_codec;
extern const chi_codec chi_test_double_plus_codec; /* double_plus and sub_double_plus */
extern const chi_codec chi_test_large_codec;
extern const chi_codec chi_test_arg_codec;          /* fail and spin */
#ifdef __cplusplus
}
#endif

#endif
