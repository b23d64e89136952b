/* tests/test_batch.c: chi_make_copy_futures (batch submit) and
 * chi_pool_lookup. 10,000 stamped tasks in batches of 1..64 on rings of 16
 * slots (a batch waits for room and claims what is free), mixed codecs
 * (double_plus, echo past the copy space: a data block) and priorities;
 * a batch whose middle task is too large returns the count before it. */
#include "chi/modules/admin.h"
#include "chi/modules/test.h"
#include "test_util.h"

static chi_runtime *rt;

static int setup(void **state)
{
	(void)state;
	rt = test_start(2, 2, 16);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	chi_runtime_stop(rt);
	return 0;
}

#define TOTAL 10000
#define MAXB 64

typedef struct slot {
	chi_test_double_plus_task dp;
	chi_test_echo_task echo;
	uint8_t in[600], out[600];
} slot;

static void test_batches(void **state)
{
	(void)state;
	chi_client *c = chi_runtime_client(rt);
	static slot s[MAXB];
	chi_task *ts[MAXB];
	const chi_codec *cs[MAXB];
	chi_future fs[MAXB];
	size_t done = 0, b = 1;
	while (done < TOTAL) {
		size_t n = b <= TOTAL - done ? b : TOTAL - done;
		for (size_t j = 0; j < n; j++) {
			uint32_t stamp = (uint32_t)(done + j);
			if (stamp % 7 == 3) { /* an echo of 600 bytes: a data block */
				for (size_t k = 0; k < sizeof(s[j].in); k++)
					s[j].in[k] = (uint8_t)(stamp + k);
				chi_test_echo_init(&s[j].echo, CHI_POOL_TEST, s[j].in, sizeof(s[j].in),
						   s[j].out, sizeof(s[j].out));
				ts[j] = &s[j].echo.hdr;
				cs[j] = &chi_test_echo_codec;
			} else {
				chi_test_double_plus_init(&s[j].dp, CHI_POOL_TEST, stamp, stamp % 1000);
				if (stamp % 5 == 0)
					s[j].dp.hdr.flags |= CHI_TASK_BULK;
				ts[j] = &s[j].dp.hdr;
				cs[j] = &chi_test_double_plus_codec;
			}
		}
		assert_int_equal(chi_make_copy_futures(c, ts, cs, fs, n), (int)n);
		for (size_t j = 0; j < n; j++) {
			uint32_t stamp = (uint32_t)(done + j);
			int64_t r = chi_future_wait(&fs[j]);
			if (stamp % 7 == 3) {
				assert_true(r >= 0);
				assert_int_equal(s[j].echo.reply_len, sizeof(s[j].out));
				assert_memory_equal(s[j].out, s[j].in, sizeof(s[j].in));
			} else {
				assert_int_equal(r, (int64_t)stamp * 2 + stamp % 1000);
				assert_int_equal(s[j].dp.result, (uint64_t)stamp * 2 + stamp % 1000);
			}
		}
		done += n;
		b = b % MAXB + 1;
	}
}

/* several batches in flight at once, more than the rings hold */
static void test_batches_in_flight(void **state)
{
	(void)state;
	chi_client *c = chi_runtime_client(rt);
	enum { N = 256, B = 32 };
	static chi_test_double_plus_task t[N];
	static chi_future f[N];
	chi_task *ts[N];
	const chi_codec *cs[N];
	for (int round = 0; round < 8; round++) {
		for (size_t i = 0; i < N; i++) {
			chi_test_double_plus_init(&t[i], CHI_POOL_TEST, round * N + i, 3);
			ts[i] = &t[i].hdr;
			cs[i] = &chi_test_double_plus_codec;
		}
		for (size_t i = 0; i < N; i += B)
			assert_int_equal(chi_make_copy_futures(c, ts + i, cs + i, f + i, B), B);
		for (size_t i = 0; i < N; i++) {
			assert_int_equal(chi_future_wait(&f[i]), (round * N + i) * 2 + 3);
			assert_int_equal(t[i].result, (round * N + i) * 2 + 3);
		}
	}
}

static void test_too_large_in_middle(void **state)
{
	(void)state;
	chi_client *c = chi_runtime_client(rt);
	chi_test_double_plus_task t[8];
	chi_test_echo_task big;
	chi_task *ts[8];
	const chi_codec *cs[8];
	chi_future fs[8];
	for (int i = 0; i < 8; i++) {
		chi_test_double_plus_init(&t[i], CHI_POOL_TEST, i, 1);
		ts[i] = &t[i].hdr;
		cs[i] = &chi_test_double_plus_codec;
	}
	/* outputs past memory.max_task_size (1 MiB): -EMSGSIZE */
	chi_test_echo_init(&big, CHI_POOL_TEST, "x", 1, NULL, 2u << 20);
	ts[3] = &big.hdr;
	cs[3] = &chi_test_echo_codec;

	/* the prefix before it is submitted, its count returned */
	assert_int_equal(chi_make_copy_futures(c, ts, cs, fs, 8), 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(chi_future_wait(&fs[i]), i * 2 + 1);
		assert_int_equal(t[i].result, (uint64_t)i * 2 + 1);
	}
	/* from the failing task on: its error, nothing enqueued */
	assert_int_equal(chi_make_copy_futures(c, ts + 3, cs + 3, fs + 3, 5), -EMSGSIZE);
	/* the rest after it */
	assert_int_equal(chi_make_copy_futures(c, ts + 4, cs + 4, fs + 4, 4), 4);
	for (int i = 4; i < 8; i++) {
		assert_int_equal(chi_future_wait(&fs[i]), i * 2 + 1);
		assert_int_equal(t[i].result, (uint64_t)i * 2 + 1);
	}
	/* the arguments */
	assert_int_equal(chi_make_copy_futures(c, ts, cs, fs, 0), 0);
	assert_int_equal(chi_make_copy_futures(NULL, ts, cs, fs, 1), -EINVAL);
	assert_int_equal(chi_make_copy_futures(c, NULL, cs, fs, 1), -EINVAL);
	ts[0] = NULL;
	assert_int_equal(chi_make_copy_futures(c, ts, cs, fs, 1), -EINVAL);
}

static void test_pool_lookup(void **state)
{
	(void)state;
	chi_client *c = chi_runtime_client(rt);
	chi_pool_id id = 77;
	assert_int_equal(chi_pool_lookup(c, "admin", &id), 0);
	assert_int_equal(id, CHI_POOL_ADMIN);
	assert_int_equal(chi_pool_lookup(c, "test", &id), 0);
	assert_int_equal(id, CHI_POOL_TEST);
	id = 77;
	assert_int_equal(chi_pool_lookup(c, "nosuchpool", &id), -ENOENT);
	assert_int_equal(id, 77);
	assert_int_equal(chi_pool_lookup(c, NULL, &id), -EINVAL);
	assert_int_equal(chi_pool_lookup(c, "test", NULL), -EINVAL);

	/* a pool created at run time, then gone */
	chi_admin_pool_task p;
	chi_admin_pool_init(&p, CHI_ADMIN_CREATE_POOL, CHI_POOL_ID_ANY, "looked_up", "test", "", 0);
	int64_t nid = chi_call(c, &p.hdr, &chi_admin_pool_codec);
	assert_true(nid >= 2);
	assert_int_equal(chi_pool_lookup(c, "looked_up", &id), 0);
	assert_int_equal(id, (chi_pool_id)nid);
	chi_test_double_plus_task t;
	chi_test_double_plus_init(&t, id, 5, 9);
	assert_int_equal(chi_call(c, &t.hdr, &chi_test_double_plus_codec), 19);
	chi_admin_pool_init(&p, CHI_ADMIN_DESTROY_POOL, (uint32_t)nid, "", "", "", 0);
	assert_int_equal(chi_call(c, &p.hdr, &chi_admin_pool_codec), 0);
	assert_int_equal(chi_pool_lookup(c, "looked_up", &id), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batches_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_large_in_middle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_lookup, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
