/* tests/test_codec.c: the codecs generated from field lists
 * (include/chi/proto/codec.h). For every converted task type: a stamped task
 * is serialized and its bytes compared with the encoding written out here by
 * hand (little-endian fixed-width, byte strings as u32 length + bytes), so
 * the wire is proven unchanged; the bytes are decoded into a scribbled task
 * and every field compared; in_size / out_size equal the bytes written; a
 * buffer one byte short gives -EMSGSIZE (writing) and -EBADMSG (reading). */
#include "test_util.h"

#include <string.h>

#include "chi/modules/admin.h"
#include "chi/modules/bdev.h"
#include "chi/modules/test.h"
#include "chi/proto/codec.h"

typedef int (*ser_fn)(chi_ar *a, const chi_task *t);
typedef int (*de_fn)(chi_ar *a, chi_task *t);

static uint8_t wire[4096];

/* ser(t) writes exactly want[0..n) (n is also the size the init computed),
 * and runs out of room one byte short. */
static void check_ser(ser_fn ser, const chi_task *t, uint32_t size, const uint8_t *want, uint32_t n)
{
	chi_ar w;
	assert_int_equal(size, n);
	memset(wire, 0xee, sizeof(wire));
	chi_ar_init(&w, wire, size);
	assert_int_equal(ser(&w, t), 0);
	assert_int_equal(w.pos, n);
	if (n)
		assert_memory_equal(wire, want, n);
	assert_int_equal(wire[n], 0xee); /* nothing past the end */
	if (n) {
		chi_ar_init(&w, wire, size - 1);
		assert_int_equal(ser(&w, t), -CHI_EMSGSIZE);
	}
}

/* de reads exactly bytes[0..n) into t, and runs past the end one byte short. */
static void check_de(de_fn de, chi_task *t, const uint8_t *bytes, uint32_t n)
{
	chi_ar r;
	if (n)
		memcpy(wire, bytes, n);
	chi_ar_init(&r, wire, n);
	assert_int_equal(de(&r, t), 0);
	assert_int_equal(r.pos, n);
	if (n) {
		chi_ar_init(&r, wire, n - 1);
		assert_int_equal(de(&r, t), -CHI_EBADMSG);
		chi_ar_init(&r, wire, n); /* leave t decoded from the whole */
		assert_int_equal(de(&r, t), 0);
	}
}

#define SCRIBBLE(x) memset(&(x), 0xa5, sizeof(x))

static void test_noop(void **state)
{
	(void)state;
	chi_test_noop_task a, b;
	chi_test_noop_init(&a, CHI_POOL_TEST);
	assert_int_equal(a.hdr.in_size, 0);
	assert_int_equal(a.hdr.out_size, 0);
	assert_int_equal(chi_test_noop_in_size(&a), 0);
	check_ser(chi_test_noop_ser, &a.hdr, a.hdr.in_size, NULL, 0);
	check_de(chi_test_noop_de, &b.hdr, NULL, 0);
}

static void test_echo_in(void **state)
{
	(void)state;
	static const uint8_t data[5] = {'h', 'e', 'l', 'l', 'o'};
	static const uint8_t want[] = {5, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'};
	uint8_t reply[16];
	chi_test_echo_task a, b;
	chi_test_echo_init(&a, CHI_POOL_TEST, data, 5, reply, sizeof(reply));
	assert_int_equal(a.hdr.in_size, 4 + 5);
	assert_int_equal(a.hdr.out_size, 4 + 16);
	check_ser(chi_test_echo_ser_in, &a.hdr, a.hdr.in_size, want, sizeof(want));
	SCRIBBLE(b);
	check_de(chi_test_echo_de_in, &b.hdr, want, sizeof(want));
	assert_int_equal(b.len, 5);
	assert_ptr_equal(b.data, wire + 4); /* zero copy: into the archive */
	assert_memory_equal(b.data, data, 5);
}

static void test_double_plus(void **state)
{
	(void)state;
	static const uint8_t want_in[] = {0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01, /* value */
					  0xd4, 0xc3, 0xb2, 0xa1};                        /* id */
	static const uint8_t want_out[] = {0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11};
	chi_test_double_plus_task a, b;
	chi_test_double_plus_init(&a, CHI_POOL_TEST, 0x0123456789abcdefull, 0xa1b2c3d4u);
	assert_int_equal(a.hdr.in_size, 12);
	assert_int_equal(a.hdr.out_size, 8);
	check_ser(chi_test_double_plus_ser_in, &a.hdr, a.hdr.in_size, want_in, sizeof(want_in));
	SCRIBBLE(b);
	check_de(chi_test_double_plus_de_in, &b.hdr, want_in, sizeof(want_in));
	assert_int_equal(b.value, 0x0123456789abcdefull);
	assert_int_equal(b.id, 0xa1b2c3d4u);

	b.result = 0x1122334455667788ull;
	check_ser(chi_test_double_plus_ser_out, &b.hdr, a.hdr.out_size, want_out, sizeof(want_out));
	check_de(chi_test_double_plus_de_out, &a.hdr, want_out, sizeof(want_out));
	assert_int_equal(a.result, 0x1122334455667788ull);
	assert_int_equal(chi_test_double_plus_out_size(&a), 8);
}

static void test_large_in(void **state)
{
	(void)state;
	static const uint8_t want[] = {0x44, 0x33, 0x22, 0x11, 0x00, 0x10, 0x00, 0x00};
	uint8_t buf[4096];
	chi_test_large_task a, b;
	chi_test_large_init(&a, CHI_POOL_TEST, 0x11223344u, 4096, buf);
	assert_int_equal(a.hdr.in_size, 8);
	assert_int_equal(a.hdr.out_size, 4 + 4096);
	check_ser(chi_test_large_ser_in, &a.hdr, a.hdr.in_size, want, sizeof(want));
	SCRIBBLE(b);
	check_de(chi_test_large_de_in, &b.hdr, want, sizeof(want));
	assert_int_equal(b.seed, 0x11223344u);
	assert_int_equal(b.size, 4096);
}

static void test_arg(void **state)
{
	(void)state;
	static const uint8_t want[] = {0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01};
	chi_test_arg_task a, b;
	chi_test_arg_init(&a, CHI_POOL_TEST, CHI_TEST_SPIN, 0x0102030405060708ull);
	assert_int_equal(a.hdr.in_size, 8);
	assert_int_equal(a.hdr.out_size, 0);
	check_ser(chi_test_arg_ser_in, &a.hdr, a.hdr.in_size, want, sizeof(want));
	SCRIBBLE(b);
	check_de(chi_test_arg_de_in, &b.hdr, want, sizeof(want));
	assert_int_equal(b.arg, 0x0102030405060708ull);
}

static void test_bdev_allocate_free(void **state)
{
	(void)state;
	static const uint8_t want_size[] = {0x00, 0x30, 0, 0, 0, 0, 0, 0};     /* 0x3000 */
	static const uint8_t want_off[] = {0x00, 0x10, 0x02, 0, 0, 0, 0, 0};   /* 0x21000 */
	static const uint8_t want_free[] = {0x00, 0x10, 0x02, 0, 0, 0, 0, 0,  /* offset */
					    0x00, 0x30, 0, 0, 0, 0, 0, 0};     /* size */
	chi_bdev_alloc_task a, b;
	chi_bdev_allocate_init(&a, CHI_POOL_BDEV, 0x3000);
	assert_int_equal(a.hdr.in_size, 8);
	assert_int_equal(a.hdr.out_size, 8);
	check_ser(chi_bdev_allocate_ser_in, &a.hdr, a.hdr.in_size, want_size, 8);
	SCRIBBLE(b);
	check_de(chi_bdev_allocate_de_in, &b.hdr, want_size, 8);
	assert_int_equal(b.size, 0x3000);
	b.offset = 0x21000;
	check_ser(chi_bdev_allocate_ser_out, &b.hdr, a.hdr.out_size, want_off, 8);
	check_de(chi_bdev_allocate_de_out, &a.hdr, want_off, 8);
	assert_int_equal(a.offset, 0x21000);

	chi_bdev_free_init(&a, CHI_POOL_BDEV, 0x21000, 0x3000);
	assert_int_equal(a.hdr.in_size, 16);
	assert_int_equal(a.hdr.out_size, 0);
	check_ser(chi_bdev_free_ser_in, &a.hdr, a.hdr.in_size, want_free, sizeof(want_free));
	SCRIBBLE(b);
	check_de(chi_bdev_free_de_in, &b.hdr, want_free, sizeof(want_free));
	assert_int_equal(b.offset, 0x21000);
	assert_int_equal(b.size, 0x3000);
}

static void test_bdev_write(void **state)
{
	(void)state;
	uint8_t data[300], want[12 + 300];
	for (int i = 0; i < 300; i++)
		data[i] = (uint8_t)(i * 7 + 3);
	static const uint8_t head[12] = {0x00, 0x20, 0, 0, 0x01, 0, 0, 0, /* offset 0x100002000 */
					 0x2c, 0x01, 0, 0};                /* len 300 */
	memcpy(want, head, 12);
	memcpy(want + 12, data, 300);
	static const uint8_t want_out[] = {0x2c, 0x01, 0, 0, 0, 0, 0, 0};
	chi_bdev_write_task a, b;
	chi_bdev_write_init(&a, CHI_POOL_BDEV, 0x100002000ull, data, 300);
	assert_int_equal(a.hdr.in_size, 12 + 300);
	assert_int_equal(a.hdr.out_size, 8);
	check_ser(chi_bdev_write_ser_in, &a.hdr, a.hdr.in_size, want, sizeof(want));
	SCRIBBLE(b);
	check_de(chi_bdev_write_de_in, &b.hdr, want, sizeof(want));
	assert_int_equal(b.offset, 0x100002000ull);
	assert_int_equal(b.len, 300);
	assert_ptr_equal(b.data, wire + 12); /* zero copy: the worker writes from here */
	assert_memory_equal(b.data, data, 300);
	b.written = 300;
	check_ser(chi_bdev_write_ser_out, &b.hdr, a.hdr.out_size, want_out, 8);
	check_de(chi_bdev_write_de_out, &a.hdr, want_out, 8);
	assert_int_equal(a.written, 300);

	/* an empty write is 12 bytes, the length 0 */
	chi_bdev_write_init(&a, CHI_POOL_BDEV, 0, NULL, 0);
	assert_int_equal(a.hdr.in_size, 12);
	assert_int_equal(chi_bdev_write_in_size(&a), 12);
}

static void test_bdev_read_in(void **state)
{
	(void)state;
	static const uint8_t want[] = {0x00, 0x40, 0, 0, 0, 0, 0, 0, /* offset 0x4000 */
				       0x00, 0x02, 0, 0};             /* len 512 */
	uint8_t buf[512];
	chi_bdev_read_task a, b;
	chi_bdev_read_init(&a, CHI_POOL_BDEV, 0x4000, buf, 512);
	assert_int_equal(a.hdr.in_size, 12);
	assert_int_equal(a.hdr.out_size, CHI_BDEV_READ_HDR + 512);
	check_ser(chi_bdev_read_ser_in, &a.hdr, a.hdr.in_size, want, sizeof(want));
	SCRIBBLE(b);
	check_de(chi_bdev_read_de_in, &b.hdr, want, sizeof(want));
	assert_int_equal(b.offset, 0x4000);
	assert_int_equal(b.len, 512);
}

static void test_bdev_stats(void **state)
{
	(void)state;
	uint8_t want[48];
	for (int f = 0; f < 6; f++) /* field f: base + f * step, bytes 1 + f .. 8 + f */
		for (int i = 0; i < 8; i++)
			want[f * 8 + i] = (uint8_t)(i + 1 + f);
	chi_bdev_stats_task a, b;
	chi_bdev_stats_init(&a, CHI_POOL_BDEV);
	assert_int_equal(a.hdr.in_size, 0);
	assert_int_equal(a.hdr.out_size, 48);
	check_ser(chi_bdev_stats_ser_in, &a.hdr, a.hdr.in_size, NULL, 0);
	check_de(chi_bdev_stats_de_in, &a.hdr, NULL, 0);
	const uint64_t base = 0x0807060504030201ull, step = 0x0101010101010101ull;
	b = a;
	b.capacity = base;
	b.allocated = base + step;
	b.reads = base + 2 * step;
	b.writes = base + 3 * step;
	b.bytes_read = base + 4 * step;
	b.bytes_written = base + 5 * step;
	check_ser(chi_bdev_stats_ser_out, &b.hdr, a.hdr.out_size, want, sizeof(want));
	SCRIBBLE(a);
	check_de(chi_bdev_stats_de_out, &a.hdr, want, sizeof(want));
	assert_int_equal(a.capacity, base);
	assert_int_equal(a.allocated, base + step);
	assert_int_equal(a.reads, base + 2 * step);
	assert_int_equal(a.writes, base + 3 * step);
	assert_int_equal(a.bytes_read, base + 4 * step);
	assert_int_equal(a.bytes_written, base + 5 * step);
}

static void test_admin_pool(void **state)
{
	(void)state;
	static const uint8_t want[] = {
		0x07, 0, 0, 0,                                  /* id 7 */
		0x00, 0x00, 0x10, 0, 0, 0, 0, 0,                /* size 1 MiB */
		3, 0, 0, 0, 'b', 'd', '0',                      /* name */
		4, 0, 0, 0, 'b', 'd', 'e', 'v',                 /* module */
		0, 0, 0, 0,                                     /* path "" */
	};
	static const uint8_t want_out[] = {0x2a, 0, 0, 0};
	chi_admin_pool_task a, b;
	chi_admin_pool_init(&a, CHI_ADMIN_CREATE_POOL, 7, "bd0", "bdev", "", 1u << 20);
	/* the init (admin.c) counts in_size by hand: it equals the list's */
	assert_int_equal(a.hdr.in_size, sizeof(want));
	assert_int_equal(chi_admin_pool_in_size(&a), sizeof(want));
	assert_int_equal(a.hdr.out_size, 4);
	assert_int_equal(chi_admin_pool_out_size(&a), 4);
	check_ser(chi_admin_pool_ser_in, &a.hdr, a.hdr.in_size, want, sizeof(want));
	SCRIBBLE(b);
	check_de(chi_admin_pool_de_in, &b.hdr, want, sizeof(want));
	assert_int_equal(b.id, 7);
	assert_int_equal(b.size, 1u << 20);
	assert_string_equal(b.name, "bd0");
	assert_string_equal(b.module, "bdev");
	assert_string_equal(b.path, "");
	b.id = 42;
	check_ser(chi_admin_pool_ser_out, &b.hdr, a.hdr.out_size, want_out, 4);
	check_de(chi_admin_pool_de_out, &a.hdr, want_out, 4);
	assert_int_equal(a.id, 42);

	/* a string longer than its field is refused, not truncated */
	uint8_t longname[4 + CHI_POOL_NAME_MAX];
	memset(longname, 'x', sizeof(longname));
	longname[0] = CHI_POOL_NAME_MAX;
	longname[1] = longname[2] = longname[3] = 0;
	uint8_t bad[4 + 8 + sizeof(longname)];
	memcpy(bad, want, 12);
	memcpy(bad + 12, longname, sizeof(longname));
	chi_ar r;
	chi_ar_init(&r, bad, sizeof(bad));
	assert_int_equal(chi_admin_pool_de_in(&r, &b.hdr), -CHI_EBADMSG);
}

/* a user-defined type: the scheme works outside the built-in modules */
typedef struct my_task {
	chi_task hdr;
	uint32_t a;
	uint32_t pad;
	uint64_t b;
	const uint8_t *key;
	uint32_t klen;
	uint32_t c; /* out */
	char s[8];  /* out */
} my_task;
#define MY_IN(X)           \
	X(U32, a)          \
	X(BYTES, key, klen) \
	X(U64, b)
#define MY_OUT(X) \
	X(STR, s) \
	X(U32, c)
CHI_CODEC(my, my_task, MY_IN, MY_OUT)
static const chi_codec my_codec = CHI_CODEC_TABLE(my, my_task);

static void test_user_type(void **state)
{
	(void)state;
	static const uint8_t want_in[] = {1, 0, 0, 0, 2, 0, 0, 0, 'k', 'y', 3, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t want_out[] = {2, 0, 0, 0, 'o', 'k', 9, 0, 0, 0};
	my_task t, u;
	memset(&t, 0, sizeof(t));
	t.a = 1;
	t.key = (const uint8_t *)"ky";
	t.klen = 2;
	t.b = 3;
	t.c = 9;
	strcpy(t.s, "ok");
	assert_int_equal(my_in_size(&t), 4 + 4 + 2 + 8);
	assert_int_equal(my_out_size(&t), 4 + 2 + 4);
	assert_int_equal(my_codec.task_size, sizeof(my_task));
	check_ser(my_codec.ser_in, &t.hdr, my_in_size(&t), want_in, sizeof(want_in));
	check_ser(my_codec.ser_out, &t.hdr, my_out_size(&t), want_out, sizeof(want_out));
	SCRIBBLE(u);
	check_de(my_codec.de_in, &u.hdr, want_in, sizeof(want_in));
	assert_int_equal(u.a, 1);
	assert_int_equal(u.klen, 2);
	assert_memory_equal(u.key, "ky", 2);
	assert_int_equal(u.b, 3);
	check_de(my_codec.de_out, &u.hdr, want_out, sizeof(want_out));
	assert_string_equal(u.s, "ok");
	assert_int_equal(u.c, 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_noop),
		cmocka_unit_test(test_echo_in),
		cmocka_unit_test(test_double_plus),
		cmocka_unit_test(test_large_in),
		cmocka_unit_test(test_arg),
		cmocka_unit_test(test_bdev_allocate_free),
		cmocka_unit_test(test_bdev_write),
		cmocka_unit_test(test_bdev_read_in),
		cmocka_unit_test(test_bdev_stats),
		cmocka_unit_test(test_admin_pool),
		cmocka_unit_test(test_user_type),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
