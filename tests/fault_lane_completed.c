/* tests/fault_lane_completed.c: failure row "a lane's completed counter goes
 * backwards with nested waits" (docs/reliability.md). A method that waits
 * on a sub-task (test.sub_double_plus: a pointer future on the worker's own
 * lane) runs that sub-task nested, on the same thread, before it returns.
 * The outer task's completion stored a count read before its method ran,
 * so every nested completion was lost again: N outer tasks grew the count
 * by N, not 2N. Now each completion adds to the count as it is then. */
#include "test_util.h"

#include "chi/modules/test.h"
#include "ipc/client.h"

static void test_nested_counted(void **state)
{
	(void)state;
	chi_runtime *rt = test_start(1, 1, 64);
	chi_client *c = chi_runtime_client(rt);
	const uint64_t n = 2000;
	uint64_t before = __atomic_load_n(&c->lanes[0].completed, __ATOMIC_RELAXED);
	for (uint64_t i = 0; i < n; i++) {
		chi_test_double_plus_task t;
		chi_test_double_plus_init(&t, CHI_POOL_TEST, i, 1);
		t.hdr.method = CHI_TEST_SUB_DOUBLE_PLUS;
		assert_int_equal(chi_call(c, &t.hdr, &chi_test_double_plus_codec), (int64_t)(2 * i + 1));
		/* never backwards, even read between tasks */
		uint64_t now = __atomic_load_n(&c->lanes[0].completed, __ATOMIC_RELAXED);
		assert_true(now >= before + 2 * (i + 1));
	}
	/* each outer task completed itself and its sub-task, on this one lane */
	assert_int_equal(__atomic_load_n(&c->lanes[0].completed, __ATOMIC_RELAXED) - before, 2 * n);
	assert_int_equal(__atomic_load_n(&c->lanes[0].popped, __ATOMIC_RELAXED),
			 __atomic_load_n(&c->lanes[0].completed, __ATOMIC_RELAXED));
	chi_runtime_stop(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nested_counted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
