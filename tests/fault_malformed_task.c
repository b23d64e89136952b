/* tests/fault_malformed_task.c: failure row "malformed serialized task". A
 * client writes garbage into a future block (sizes that overrun the copy
 * space, a byte string whose length runs past the end, trailing junk, an
 * arena pointer outside the segment) and publishes it: each completes with
 * ERROR -EBADMSG and the worker keeps serving. */
#include "test_util.h"

#include <errno.h>
#include <string.h>

#include "chi/modules/test.h"
#include "ipc/client.h"
#include "task/future_ops.h"

static chi_client *c;

/* Publish a hand-made future block; returns its result. */
static int64_t publish_raw(const void *wire, uint32_t len, uint32_t out_size, chi_offptr data,
			   uint32_t data_cap)
{
	uint64_t off = chi_client_alloc(c, CHI_FUTURE_BLOCK);
	assert_true(off != 0);
	chi_future_shm *fs = (chi_future_shm *)((char *)c->base + off);
	chi_future_block_init(fs, CHI_FUTURE_COPY_FROM_CLIENT, out_size, data, data_cap, 0, c->id, 0);
	memcpy(fs->copy_space, wire, len);
	assert_int_equal(chi_client_publish(c, 0, 0, off, 0), 0);
	while (!(chi_future_flags(fs) & CHI_FUTURE_COMPLETE))
		chi_cpu_relax();
	assert_true(fs->flags & CHI_FUTURE_ERROR);
	int64_t r = fs->result;
	chi_client_free(c, off, CHI_FUTURE_BLOCK);
	return r;
}

static void test_malformed(void **state)
{
	(void)state;
	chi_runtime *rt = test_start(1, 1, 64);
	c = chi_runtime_client(rt);
	uint8_t w[CHI_COPY_SPACE];
	chi_task *h = (chi_task *)w;

	/* in_size overruns the copy space */
	memset(w, 0, sizeof(w));
	chi_task_init(h, CHI_POOL_TEST, CHI_TEST_DOUBLE_PLUS, 0);
	h->in_size = 4000;
	h->out_size = 8;
	assert_int_equal(publish_raw(w, sizeof(w), 8, 0, 0), -EBADMSG);

	/* out_size in the header disagrees with the block's */
	h->in_size = 12;
	h->out_size = 8;
	assert_int_equal(publish_raw(w, sizeof(w), 100, 0, 0), -EBADMSG);

	/* echo: a byte string whose length runs past in_size */
	memset(w, 0, sizeof(w));
	chi_task_init(h, CHI_POOL_TEST, CHI_TEST_ECHO, 0);
	h->in_size = 8;
	h->out_size = 8;
	w[16] = 0xff; w[17] = 0xff; w[18] = 0; w[19] = 0; /* length 65535 */
	assert_int_equal(publish_raw(w, sizeof(w), 8, 0, 0), -EBADMSG);

	/* double_plus with trailing junk (in_size 20 instead of 12) */
	memset(w, 0, sizeof(w));
	chi_task_init(h, CHI_POOL_TEST, CHI_TEST_DOUBLE_PLUS, 0);
	h->in_size = 20;
	h->out_size = 8;
	assert_int_equal(publish_raw(w, sizeof(w), 8, 0, 0), -EBADMSG);

	/* an arena pointer outside the segment */
	assert_int_equal(publish_raw(w, sizeof(w), 8, chi_offptr_make(1, 1ull << 46), 4096), -EBADMSG);
	assert_int_equal(publish_raw(w, sizeof(w), 8, chi_offptr_make(7, 4096), 4096), -EBADMSG);

	/* the worker still serves */
	chi_test_double_plus_task t;
	chi_test_double_plus_init(&t, CHI_POOL_TEST, 4, 1);
	assert_int_equal(chi_call(c, &t.hdr, &chi_test_double_plus_codec), 9);
	assert_int_equal(c->lanes[0].errors, 6);
	chi_runtime_stop(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_malformed)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
