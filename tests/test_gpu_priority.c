/* tests/test_gpu_priority.c: a GPU lane's two priorities, with a simulated
 * GPU (the CHI_HD submit code from a CPU thread). With the lane's worker
 * held by a spinning task, latency (0) and bulk (CHI_TASK_BULK, 1) tasks pile
 * up on the GPU lane; a user module records the order they run in. Each
 * priority keeps its submission order, latency tasks run first, and a bulk
 * task runs at least once every runtime.bulk_every tasks (the same rule as
 * CPU lanes, tests/test_priority.c). */
#include "test_util.h"

#include <string.h>

#include "chi/gpu/api.h"
#include "prio_order.h"
#include "runtime/runtime.h"

#define NLAT 48
#define NBULK 12
#define BULK_EVERY 4

static void test_gpu_lane_priorities(void **state)
{
	(void)state;
	chi_gpu_simulate(1);
	chi_config cfg;
	test_config(&cfg, 2, 1, 128);
	cfg.bulk_every = BULK_EVERY;
	cfg.gpu_lanes = 1;
	cfg.gpu_queue_depth = 128;
	cfg.gpu_segment_size = 16u << 20;
	cfg.gpu_clients = 1;
	cfg.gpu_workers = CHI_GPU_WORKERS_DEDICATED;
	prio_order_config(&cfg);
	chi_runtime *rt;
	assert_int_equal(chi_runtime_start(&cfg, &rt), 0);
	chi_gpu_client *gc;
	assert_int_equal(chi_gpu_client_open(chi_runtime_client(rt), 0, &gc), 0);
	const chi_gpu_ctx *x = chi_gpu_client_ctx(gc);
	chi_lane_shm *gl = rt->lane_refs[rt->nlane_refs - 1].shm; /* the GPU lane */
	assert_true(rt->lane_refs[rt->nlane_refs - 1].gpu);

	chi_test_arg_task spin;
	chi_gpu_future fs;
	chi_test_arg_init(&spin, CHI_POOL_TEST, CHI_TEST_SPIN, 200 * 1000 * 1000);
	spin.hdr.flags |= CHI_TASK_BULK; /* leaves the worker's bulk counter at 0 */
	assert_int_equal(chi_gpu_make_copy_future(x, 0, &spin.hdr, chi_test_arg_ser_in, &fs), 0);
	while (!__atomic_load_n(&gl->popped, __ATOMIC_ACQUIRE)) /* the worker took it */
		chi_cpu_relax();
	static chi_test_arg_task t[NLAT + NBULK];
	static chi_gpu_future f[NLAT + NBULK];
	for (uint32_t k = 0; k < NLAT + NBULK; k++) {
		prio_order_task(&t[k], k, NBULK);
		assert_int_equal(chi_gpu_make_copy_future(x, 0, &t[k].hdr, chi_test_arg_ser_in, &f[k]), 0);
	}
	assert_int_equal(chi_gpu_future_wait(x, &fs, &spin.hdr, NULL, 0), 0);
	for (int i = 0; i < NLAT + NBULK; i++)
		assert_int_equal(chi_gpu_future_wait(x, &f[i], &t[i].hdr, NULL, 0), 0);
	prio_order_check(NLAT, NBULK, BULK_EVERY);
	chi_gpu_client_close(gc);
	chi_runtime_stop(rt);
	chi_gpu_simulate(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gpu_lane_priorities),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
