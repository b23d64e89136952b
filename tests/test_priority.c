/* tests/test_priority.c: the lane's two priorities. With the worker held
 * busy, latency (0) and bulk (1) tasks pile up; a user module records the
 * order they run in. Priority 0 runs first, yet a bulk task runs at least
 * once every runtime.bulk_every tasks, so neither starves. Also shows a user
 * module registered through the public module API. */
#include "test_util.h"

#include <string.h>

#include "ipc/client.h"
#include "prio_order.h"

#define NLAT 64
#define NBULK 16
#define BULK_EVERY 4

static void test_neither_starves(void **state)
{
	(void)state;
	chi_config cfg;
	test_config(&cfg, 1, 1, 128);
	cfg.bulk_every = BULK_EVERY;
	prio_order_config(&cfg);
	chi_runtime *rt;
	assert_int_equal(chi_runtime_start(&cfg, &rt), 0);
	chi_client *c = chi_runtime_client(rt);

	chi_test_arg_task spin;
	chi_test_arg_init(&spin, CHI_POOL_TEST, CHI_TEST_SPIN, 200 * 1000 * 1000);
	spin.hdr.flags |= CHI_TASK_BULK; /* leaves the worker's bulk counter at 0 */
	chi_future fs;
	assert_int_equal(chi_make_copy_future(c, &spin.hdr, &chi_test_arg_codec, &fs), 0);
	/* wait until the worker took the spin task */
	while (!__atomic_load_n(&c->lanes[0].popped, __ATOMIC_RELAXED))
		chi_cpu_relax();
	static chi_test_arg_task t[NLAT + NBULK];
	static chi_future f[NLAT + NBULK];
	for (uint32_t k = 0; k < NLAT + NBULK; k++) {
		prio_order_task(&t[k], k, NBULK);
		assert_int_equal(chi_make_copy_future(c, &t[k].hdr, &chi_test_arg_codec, &f[k]), 0);
	}
	assert_int_equal(chi_future_wait(&fs), 0);
	for (int i = 0; i < NLAT + NBULK; i++)
		assert_int_equal(chi_future_wait(&f[i]), 0);
	prio_order_check(NLAT, NBULK, BULK_EVERY);
	chi_runtime_stop(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_neither_starves),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
