/* tests/test_archive.c: the CHI_HD serializer (include/chi/proto/archive.h)
 * and the test module's task codecs, which GPU kernels share: round trips
 * compare every field and byte; a writer that runs out of room reports
 * -EMSGSIZE and a reader past the end -EBADMSG, never a silent truncation.
 * Label gpu_protocol. */
#include "test_util.h"

#include <string.h>

#include "chi/modules/test.h"
#include "chi/proto/future.h"

static void test_ints(void **state)
{
	(void)state;
	uint8_t buf[64];
	chi_ar w, r;
	chi_ar_init(&w, buf, sizeof(buf));
	chi_ar_put_u32(&w, 0xdeadbeef);
	chi_ar_put_u64(&w, 0x0123456789abcdefull);
	chi_ar_put_str(&w, "hello");
	assert_int_equal(w.err, 0);
	assert_int_equal(w.pos, 4 + 8 + 4 + 5);
	/* little-endian on the wire */
	assert_int_equal(buf[0], 0xef);
	assert_int_equal(buf[3], 0xde);
	chi_ar_init(&r, buf, w.pos);
	assert_int_equal(chi_ar_get_u32(&r), 0xdeadbeef);
	assert_int_equal(chi_ar_get_u64(&r), 0x0123456789abcdefull);
	char s[8];
	chi_ar_get_str(&r, s, sizeof(s));
	assert_string_equal(s, "hello");
	assert_int_equal(r.err, 0);
	assert_int_equal(r.pos, w.pos);
	/* past the end */
	chi_ar_get_u32(&r);
	assert_int_equal(r.err, -CHI_EBADMSG);
}

static void test_overflow(void **state)
{
	(void)state;
	uint8_t buf[10];
	chi_ar w;
	chi_ar_init(&w, buf, sizeof(buf));
	chi_ar_put_u64(&w, 1);
	assert_int_equal(w.err, 0);
	chi_ar_put_u32(&w, 2); /* 12 > 10 */
	assert_int_equal(w.err, -CHI_EMSGSIZE);
	assert_int_equal(w.pos, 8); /* nothing partial was written */
	chi_ar_put_u32(&w, 3);    /* sticky */
	assert_int_equal(w.err, -CHI_EMSGSIZE);
}

static void test_bad_length(void **state)
{
	(void)state;
	uint8_t buf[16] = {0xff, 0xff, 0xff, 0x7f, 1, 2, 3}; /* length 2^31-1 */
	chi_ar r;
	chi_ar_init(&r, buf, sizeof(buf));
	uint32_t n = 99;
	assert_null(chi_ar_get_bytes(&r, &n));
	assert_int_equal(n, 0);
	assert_int_equal(r.err, -CHI_EBADMSG);
	char s[4];
	uint8_t buf2[16] = {8, 0, 0, 0, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'};
	chi_ar_init(&r, buf2, sizeof(buf2));
	chi_ar_get_str(&r, s, sizeof(s)); /* 8 bytes do not fit 3 + NUL */
	assert_int_equal(r.err, -CHI_EBADMSG);
	assert_string_equal(s, "");
}

static void test_double_plus_codec(void **state)
{
	(void)state;
	uint8_t buf[CHI_COPY_SPACE];
	chi_test_double_plus_task a, b;
	chi_test_double_plus_init(&a, CHI_POOL_TEST, 0x1122334455667788ull, 7);
	chi_ar w, r;
	chi_ar_init(&w, buf, a.hdr.in_size);
	assert_int_equal(chi_test_double_plus_ser_in(&w, &a.hdr), 0);
	assert_int_equal(w.pos, a.hdr.in_size);
	memset(&b, 0, sizeof(b));
	chi_ar_init(&r, buf, w.pos);
	assert_int_equal(chi_test_double_plus_de_in(&r, &b.hdr), 0);
	assert_int_equal(b.value, a.value);
	assert_int_equal(b.id, 7);
	b.result = 12345;
	chi_ar_init(&w, buf, a.hdr.out_size);
	assert_int_equal(chi_test_double_plus_ser_out(&w, &b.hdr), 0);
	chi_ar_init(&r, buf, w.pos);
	assert_int_equal(chi_test_double_plus_de_out(&r, &a.hdr), 0);
	assert_int_equal(a.result, 12345);
}

static void test_echo_codec(void **state)
{
	(void)state;
	uint8_t data[100], reply[100], buf[256];
	for (int i = 0; i < 100; i++)
		data[i] = (uint8_t)(i * 3 + 1);
	chi_test_echo_task a, b;
	chi_test_echo_init(&a, CHI_POOL_TEST, data, 100, reply, 100);
	chi_ar w, r;
	chi_ar_init(&w, buf, a.hdr.in_size);
	assert_int_equal(chi_test_echo_ser_in(&w, &a.hdr), 0);
	assert_int_equal(w.pos, a.hdr.in_size);
	memset(&b, 0, sizeof(b));
	chi_ar_init(&r, buf, w.pos);
	assert_int_equal(chi_test_echo_de_in(&r, &b.hdr), 0);
	assert_int_equal(b.len, 100);
	assert_memory_equal(b.data, data, 100); /* zero copy view */
	b.reply_len = b.len;
	uint8_t out[256];
	chi_ar_init(&w, out, a.hdr.out_size);
	assert_int_equal(chi_test_echo_ser_out(&w, &b.hdr), 0);
	chi_ar_init(&r, out, w.pos);
	assert_int_equal(chi_test_echo_de_out(&r, &a.hdr), 0);
	assert_int_equal(a.reply_len, 100);
	assert_memory_equal(reply, data, 100);
	/* a reply larger than the client's buffer is refused, not truncated */
	chi_test_echo_init(&a, CHI_POOL_TEST, data, 100, reply, 50);
	chi_ar_init(&r, out, w.pos);
	assert_int_equal(chi_test_echo_de_out(&r, &a.hdr), -CHI_EBADMSG);
}

static void test_large_codec(void **state)
{
	(void)state;
	enum { SZ = 5000 };
	static uint8_t out[SZ + 8], dst[SZ];
	chi_test_large_task a, b;
	chi_test_large_init(&a, CHI_POOL_TEST, 99, SZ, dst);
	b = a;
	chi_ar w, r;
	chi_ar_init(&w, out, a.hdr.out_size);
	assert_int_equal(chi_test_large_ser_out(&w, &b.hdr), 0);
	chi_ar_init(&r, out, w.pos);
	assert_int_equal(chi_test_large_de_out(&r, &a.hdr), 0);
	assert_int_equal(a.got, SZ);
	for (uint32_t i = 0; i < SZ; i++)
		assert_int_equal(dst[i], chi_test_pattern(99, i));
	/* output room one byte short: -EMSGSIZE */
	chi_ar_init(&w, out, a.hdr.out_size - 1);
	assert_int_equal(chi_test_large_ser_out(&w, &b.hdr), -CHI_EMSGSIZE);
}

static void test_wire_layout(void **state)
{
	(void)state;
	assert_int_equal(chi_task_out_off(0), 16);
	assert_int_equal(chi_task_out_off(1), 24);
	assert_int_equal(chi_task_out_off(12), 32);
	assert_int_equal(chi_task_wire_size(12, 8), 40);
	assert_int_equal(sizeof(chi_future_shm), 256);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ints),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_bad_length),
		cmocka_unit_test(test_double_plus_codec),
		cmocka_unit_test(test_echo_codec),
		cmocka_unit_test(test_large_codec),
		cmocka_unit_test(test_wire_layout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
