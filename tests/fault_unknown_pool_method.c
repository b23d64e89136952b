/* tests/fault_unknown_pool_method.c: failure row "unknown pool or method":
 * the future completes with the ERROR bit and a code (-ENOENT for the pool,
 * -ENOSYS for the method), the worker keeps running, and the lane counts the
 * errors. A method's own error (-ENOSPC from test.fail) travels the same way. */
#include "test_util.h"

#include <errno.h>

#include "chi/modules/test.h"
#include "ipc/client.h"

static void test_unknown(void **state)
{
	(void)state;
	chi_runtime *rt = test_start(1, 1, 64);
	chi_client *c = chi_runtime_client(rt);
	chi_test_double_plus_task t;
	chi_future f;

	chi_test_double_plus_init(&t, 42, 1, 1); /* no pool 42 */
	assert_int_equal(chi_make_copy_future(c, &t.hdr, &chi_test_double_plus_codec, &f), 0);
	chi_future_shm *fs = f.shm;
	assert_int_equal(chi_future_wait(&f), -ENOENT);
	(void)fs;

	chi_test_double_plus_init(&t, CHI_POOL_TEST, 1, 1);
	t.hdr.method = 200; /* no such method */
	assert_int_equal(chi_call(c, &t.hdr, &chi_test_double_plus_codec), -ENOSYS);

	chi_test_arg_task a;
	chi_test_arg_init(&a, CHI_POOL_TEST, CHI_TEST_FAIL, ENOSPC);
	assert_int_equal(chi_call(c, &a.hdr, &chi_test_arg_codec), -ENOSPC);

	/* the COMPLETE and ERROR bits are separate, with the code beside them */
	chi_test_double_plus_init(&t, 43, 1, 1);
	assert_int_equal(chi_make_copy_future(c, &t.hdr, &chi_test_double_plus_codec, &f), 0);
	while (!chi_future_test(&f))
		chi_cpu_relax();
	uint64_t flags = f.shm->flags;
	assert_true(flags & CHI_FUTURE_COMPLETE);
	assert_true(flags & CHI_FUTURE_ERROR);
	assert_true(flags & CHI_FUTURE_COPY_FROM_CLIENT);
	assert_int_equal(f.shm->result, -ENOENT);
	assert_int_equal(chi_future_wait(&f), -ENOENT);

	/* the worker still serves */
	chi_test_double_plus_init(&t, CHI_POOL_TEST, 20, 2);
	assert_int_equal(chi_call(c, &t.hdr, &chi_test_double_plus_codec), 42);
	assert_int_equal(t.result, 42);
	assert_int_equal(c->lanes[0].errors, 4);
	assert_int_equal(c->lanes[0].completed, 5);
	chi_runtime_stop(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_unknown)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
