/* src/modules/test.c: the test module (docs/design.md, Pools and modules):
 * noop, echo, double_plus, large_output, sub_double_plus (a zero-copy
 * sub-task submitted from inside the worker with chi_make_pointer_future),
 * fail and spin. The serializers are the CHI_HD functions of
 * include/chi/modules/test.h, most generated from field lists
 * (include/chi/proto/codec.h). */
#include <errno.h>

#include "chi/module.h"
#include "chi/modules/test.h"
#include "task/future_ops.h"

const chi_codec chi_test_noop_codec = {chi_test_noop_ser, chi_test_noop_de, NULL, NULL,
				       sizeof(chi_test_noop_task)};
const chi_codec chi_test_echo_codec = CHI_CODEC_TABLE(chi_test_echo, chi_test_echo_task);
const chi_codec chi_test_double_plus_codec =
	CHI_CODEC_TABLE(chi_test_double_plus, chi_test_double_plus_task);
const chi_codec chi_test_large_codec = CHI_CODEC_TABLE(chi_test_large, chi_test_large_task);
const chi_codec chi_test_arg_codec = CHI_CODEC_TABLE_IN(chi_test_arg, chi_test_arg_task);

static int64_t run_noop(chi_ctx *ctx, chi_task *t)
{
	(void)ctx;
	(void)t;
	return 0;
}

static int64_t run_echo(chi_ctx *ctx, chi_task *h)
{
	chi_test_echo_task *t = (chi_test_echo_task *)h;
	(void)ctx;
	if (t->len + 4 > t->hdr.out_size)
		return -EMSGSIZE; /* the submitter reserved too little room */
	t->reply_len = t->len;
	return t->len;
}

static int64_t run_double_plus(chi_ctx *ctx, chi_task *h)
{
	chi_test_double_plus_task *t = (chi_test_double_plus_task *)h;
	(void)ctx;
	t->result = t->value * 2 + t->id;
	return (int64_t)(t->result & INT64_MAX);
}

static int64_t run_large(chi_ctx *ctx, chi_task *h)
{
	chi_test_large_task *t = (chi_test_large_task *)h;
	(void)ctx;
	if ((uint64_t)t->size + 4 > t->hdr.out_size)
		return -EMSGSIZE;
	return t->size; /* ser_out writes the pattern into the output area */
}

/* Runs double_plus as a sub-task through the worker's own lane, zero copy,
 * and waits for it; the wait keeps this worker processing its lanes. */
static int64_t run_sub_double_plus(chi_ctx *ctx, chi_task *h)
{
	chi_test_double_plus_task *t = (chi_test_double_plus_task *)h;
	chi_test_double_plus_task sub;
	chi_test_double_plus_init(&sub, chi_ctx_pool_id(ctx), t->value, t->id);
	chi_future f;
	int rc = chi_make_pointer_future(ctx, &sub.hdr, &f);
	if (rc)
		return rc;
	int64_t r = chi_future_wait(&f);
	if (r < 0)
		return r;
	t->result = sub.result;
	return r;
}

static int64_t run_fail(chi_ctx *ctx, chi_task *h)
{
	uint64_t code = ((chi_test_arg_task *)h)->arg;
	(void)ctx;
	return (code >= 1 && code <= 4095) ? -(int64_t)code : -EINVAL;
}

static int64_t run_spin(chi_ctx *ctx, chi_task *h)
{
	uint64_t ns = ((chi_test_arg_task *)h)->arg;
	(void)ctx;
	if (ns > 1000000000ull)
		return -EINVAL;
	uint64_t end = chi_now_ns() + ns;
	while (chi_now_ns() < end)
		chi_cpu_relax();
	return 0;
}

static const chi_method test_methods[CHI_TEST_NMETHODS] = {
	[CHI_TEST_NOOP] = {"noop", &chi_test_noop_codec, run_noop},
	[CHI_TEST_ECHO] = {"echo", &chi_test_echo_codec, run_echo},
	[CHI_TEST_DOUBLE_PLUS] = {"double_plus", &chi_test_double_plus_codec, run_double_plus},
	[CHI_TEST_LARGE_OUTPUT] = {"large_output", &chi_test_large_codec, run_large},
	[CHI_TEST_SUB_DOUBLE_PLUS] = {"sub_double_plus", &chi_test_double_plus_codec,
				      run_sub_double_plus},
	[CHI_TEST_FAIL] = {"fail", &chi_test_arg_codec, run_fail},
	[CHI_TEST_SPIN] = {"spin", &chi_test_arg_codec, run_spin},
};

const chi_module chi_test_module = {"test", CHI_TEST_NMETHODS, test_methods, NULL, NULL};
