/* tests/stamped_call.h: one stamped test.double_plus round trip for the
 * fault tests that damage a lane and then check it still serves: submit
 * (blocking), wait at most 5 s, check the result in the return value and in
 * the task. `after` names the damage in the failure message. */
#ifndef CHI_TESTS_STAMPED_CALL_H
#define CHI_TESTS_STAMPED_CALL_H

#include "test_util.h"

#include <errno.h>

#include "chi/modules/test.h"

static inline void stamped_call(chi_client *c, int i, uint32_t add, const char *after)
{
	chi_test_double_plus_task t;
	chi_future f;
	chi_test_double_plus_init(&t, CHI_POOL_TEST, (uint64_t)i, add);
	assert_int_equal(chi_make_copy_future(c, &t.hdr, &chi_test_double_plus_codec, &f), 0);
	int64_t r = chi_future_wait_timeout(&f, 5000000000ull);
	if (r == -ETIMEDOUT)
		fail_msg("task %d did not complete in 5 s after %s", i, after);
	assert_int_equal(r, 2 * i + (int)add);
	assert_int_equal(t.result, (uint64_t)(2 * i + (int)add));
}

#endif
