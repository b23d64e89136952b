/* tests/fault_queue_full.c: failure row "queue full". With the only worker
 * held busy, a try submit returns -EAGAIN once the ring is full and the lane's
 * queue_full counter counts each refusal; a blocking submit waits with
 * backoff and succeeds once the worker drains; nothing is lost. */
#include "test_util.h"

#include <errno.h>
#include <pthread.h>

#include "chi/modules/test.h"
#include "ipc/client.h"

#define DEPTH 8

static chi_runtime *rt;
static chi_test_double_plus_task bt;
static chi_future bf;
static int brc = -1;

static void *blocking_submit(void *arg)
{
	(void)arg;
	chi_test_double_plus_init(&bt, CHI_POOL_TEST, 77, 1);
	brc = chi_make_copy_future(chi_runtime_client(rt), &bt.hdr, &chi_test_double_plus_codec, &bf);
	return NULL;
}

static void test_queue_full(void **state)
{
	(void)state;
	rt = test_start(1, 1, DEPTH);
	chi_client *c = chi_runtime_client(rt);
	chi_test_arg_task spin;
	chi_test_arg_init(&spin, CHI_POOL_TEST, CHI_TEST_SPIN, 300 * 1000 * 1000);
	chi_future fs;
	assert_int_equal(chi_try_make_copy_future(c, &spin.hdr, &chi_test_arg_codec, &fs), 0);
	while (!__atomic_load_n(&c->lanes[0].popped, __ATOMIC_RELAXED))
		chi_cpu_relax();

	chi_test_double_plus_task t[DEPTH + 1];
	chi_future f[DEPTH + 1];
	for (int i = 0; i < DEPTH; i++) {
		chi_test_double_plus_init(&t[i], CHI_POOL_TEST, (uint64_t)i, 0);
		assert_int_equal(chi_try_make_copy_future(c, &t[i].hdr, &chi_test_double_plus_codec, &f[i]), 0);
	}
	uint64_t full0 = c->prods[0].queue_full;
	uint64_t in_use = c->dir->alloc.in_use;
	chi_test_double_plus_init(&t[DEPTH], CHI_POOL_TEST, 999, 0);
	assert_int_equal(chi_try_make_copy_future(c, &t[DEPTH].hdr, &chi_test_double_plus_codec, &f[DEPTH]), -EAGAIN);
	assert_int_equal(chi_try_make_copy_future(c, &t[DEPTH].hdr, &chi_test_double_plus_codec, &f[DEPTH]), -EAGAIN);
	assert_int_equal(c->prods[0].queue_full, full0 + 2);
	assert_int_equal(c->dir->alloc.in_use, in_use); /* refused: its blocks went back */

	/* a blocking submit waits until the worker frees a slot */
	pthread_t th;
	pthread_create(&th, NULL, blocking_submit, NULL);
	pthread_join(th, NULL);
	assert_int_equal(brc, 0);
	assert_int_equal(c->prods[0].queue_full, full0 + 3);

	assert_int_equal(chi_future_wait(&fs), 0);
	for (int i = 0; i < DEPTH; i++)
		assert_int_equal(chi_future_wait(&f[i]), 2 * i);
	assert_int_equal(chi_future_wait(&bf), 155);
	assert_int_equal(bt.result, 155);
	chi_runtime_stop(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_queue_full)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
