/* tests/prio_order.h: shared by the lane-priority tests (test_priority.c on
 * a CPU lane, test_gpu_priority.c on a GPU lane): a module whose one method
 * records the arg of each task in the order the worker runs them, and the
 * check of that order. Tags < 1000 are latency tasks, >= 1000 bulk ones. */
#ifndef CHI_TESTS_PRIO_ORDER_H
#define CHI_TESTS_PRIO_ORDER_H

#include "test_util.h"

#include <string.h>

#include "chi/module.h"
#include "chi/modules/test.h"

#define PRIO_ORDER_MAX 256
static uint32_t prio_order[PRIO_ORDER_MAX];
static uint32_t prio_norder;

/* Atomics: the test thread sees the worker's records through future
 * completions, and a simulated GPU client reads those through its own
 * mapping of the segment, where TSan cannot see the synchronization. */
static int64_t prio_record(chi_ctx *ctx, chi_task *h)
{
	(void)ctx;
	uint32_t i = __atomic_load_n(&prio_norder, __ATOMIC_RELAXED); /* one worker */
	if (i < PRIO_ORDER_MAX) {
		__atomic_store_n(&prio_order[i], (uint32_t)((chi_test_arg_task *)h)->arg,
				 __ATOMIC_RELAXED);
		__atomic_store_n(&prio_norder, i + 1, __ATOMIC_RELEASE);
	}
	return 0;
}
static const chi_method prio_order_methods[] = {{"record", &chi_test_arg_codec, prio_record}};
static const chi_module prio_order_module = {"order", 1, prio_order_methods, NULL, NULL};

#define PRIO_ORDER_POOL 5

/* Register the module and add a pool of it (id PRIO_ORDER_POOL) to cfg. */
static inline void prio_order_config(chi_config *cfg)
{
	assert_int_equal(chi_module_register(&prio_order_module), 0);
	cfg->npools = 3;
	memset(&cfg->pools[2], 0, sizeof(cfg->pools[2]));
	strcpy(cfg->pools[2].name, "order");
	strcpy(cfg->pools[2].module, "order");
	cfg->pools[2].id = PRIO_ORDER_POOL;
}

/* The k-th task to submit: every bulk task first (tags 1000..), then the
 * latency ones (tags 0..). Run in submission (FIFO) order they would fail
 * prio_order_check. */
static inline void prio_order_task(chi_test_arg_task *t, uint32_t k, uint32_t nbulk)
{
	if (k < nbulk) {
		chi_test_arg_init(t, PRIO_ORDER_POOL, 0, 1000 + (uint64_t)k);
		t->hdr.flags |= CHI_TASK_BULK;
	} else {
		chi_test_arg_init(t, PRIO_ORDER_POOL, 0, (uint64_t)(k - nbulk));
	}
}

/* Every task ran once; each priority in its submission order; latency ran
 * first; while latency work waited, a bulk task ran at least every
 * bulk_every + 1 tasks, and only after bulk_every latency ones (or when no
 * latency task was left). */
static inline void prio_order_check(uint32_t nlat, uint32_t nbulk, uint32_t bulk_every)
{
	uint32_t n = __atomic_load_n(&prio_norder, __ATOMIC_ACQUIRE);
	assert_int_equal(n, nlat + nbulk);
	uint32_t order[PRIO_ORDER_MAX];
	for (uint32_t i = 0; i < n; i++)
		order[i] = __atomic_load_n(&prio_order[i], __ATOMIC_RELAXED);
	uint32_t next_lat = 0, next_bulk = 1000, run_lat = 0, lat_done = 0, bulk_done = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (order[i] < 1000) {
			assert_int_equal(order[i], next_lat++);
			run_lat++;
			lat_done++;
			assert_true(run_lat <= bulk_every || bulk_done == nbulk);
		} else {
			assert_int_equal(order[i], next_bulk++);
			bulk_done++;
			assert_true(run_lat >= bulk_every || lat_done == nlat);
			run_lat = 0;
		}
	}
	assert_int_equal(order[0], 0); /* latency first */
}

#endif
