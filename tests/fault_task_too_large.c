/* tests/fault_task_too_large.c: failure row "task too large for copy space /
 * arena". Inputs or outputs beyond memory.max_task_size fail with -EMSGSIZE
 * and nothing is enqueued (no slot taken, no block held); a task just under
 * the limit goes through an arena block; a method whose output exceeds what
 * the submitter reserved completes with ERROR -EMSGSIZE. */
#include "test_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chi/modules/test.h"
#include "ipc/client.h"

static void test_too_large(void **state)
{
	(void)state;
	chi_config cfg;
	test_config(&cfg, 1, 1, 64);
	cfg.max_task_size = 64 * 1024;
	chi_runtime *rt;
	assert_int_equal(chi_runtime_start(&cfg, &rt), 0);
	chi_client *c = chi_runtime_client(rt);
	uint64_t in_use = c->dir->alloc.in_use;
	uint64_t tail = c->prods[0].ring[0].tail;

	uint32_t n = 64 * 1024; /* + 4 bytes of length: over the limit */
	uint8_t *in = calloc(1, n), *out = calloc(1, n);
	chi_test_echo_task t;
	chi_future f;
	chi_test_echo_init(&t, CHI_POOL_TEST, in, n, out, 16);
	assert_int_equal(chi_make_copy_future(c, &t.hdr, &chi_test_echo_codec, &f), -EMSGSIZE);
	assert_int_equal(chi_try_make_copy_future(c, &t.hdr, &chi_test_echo_codec, &f), -EMSGSIZE);
	chi_test_large_task lt;
	chi_test_large_init(&lt, CHI_POOL_TEST, 1, n, out); /* output over the limit */
	assert_int_equal(chi_make_copy_future(c, &lt.hdr, &chi_test_large_codec, &f), -EMSGSIZE);
	assert_int_equal(c->dir->alloc.in_use, in_use);
	assert_int_equal(c->prods[0].ring[0].tail, tail);

	/* just under the limit: through an arena block, bytes intact */
	for (uint32_t i = 0; i < n - 4; i++)
		in[i] = (uint8_t)(i * 13);
	chi_test_echo_init(&t, CHI_POOL_TEST, in, n - 4, out, n - 4);
	assert_int_equal(chi_call(c, &t.hdr, &chi_test_echo_codec), n - 4);
	assert_memory_equal(out, in, n - 4);

	/* the submitter reserved too little output room: ERROR -EMSGSIZE */
	chi_test_large_init(&lt, CHI_POOL_TEST, 1, 1000, out);
	lt.hdr.out_size = 500;
	assert_int_equal(chi_call(c, &lt.hdr, &chi_test_large_codec), -EMSGSIZE);
	assert_int_equal(c->dir->alloc.in_use, in_use);
	free(in);
	free(out);
	chi_runtime_stop(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_too_large)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
