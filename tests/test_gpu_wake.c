/* tests/test_gpu_wake.c: a GPU kernel cannot wake a sleeping worker (no
 * futex from the device), so a worker that owns a GPU lane sleeps at most
 * gpu.max_sleep_us (src/runtime/worker.c, idle policy). With a simulated GPU
 * (CPU threads through the same CHI_HD submit code):
 *   - runtime.max_sleep_us 2 s, gpu.max_sleep_us 500 us: after the GPU
 *     worker has gone to sleep (its sleep counter moves), a GPU-path task
 *     completes in far less than 2 s, five times over;
 *   - gpu.max_sleep_us 0: the GPU worker never sleeps (its counter stays
 *     0) while the CPU-lane worker does (runtime.max_sleep_us 2 ms), and
 *     tasks still complete. */
#include "test_util.h"

#include <time.h>

#include "chi/gpu/api.h"
#include "chi/modules/test.h"
#include "gpu/gpu.h"
#include "runtime/runtime.h"
#include "task/future_ops.h"

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static chi_runtime *start(uint64_t max_sleep_us, uint64_t gpu_max_sleep_us)
{
	chi_gpu_simulate(1);
	chi_config cfg;
	test_config(&cfg, 2, 1, 64);
	cfg.first_busy_wait_us = 1000;
	cfg.max_sleep_us = max_sleep_us;
	cfg.gpu_max_sleep_us = gpu_max_sleep_us;
	cfg.gpu_lanes = 1;
	cfg.gpu_queue_depth = 64;
	cfg.gpu_segment_size = 8u << 20;
	cfg.gpu_workers = CHI_GPU_WORKERS_DEDICATED;
	chi_runtime *rt;
	assert_int_equal(chi_runtime_start(&cfg, &rt), 0);
	return rt;
}

/* the worker that owns the GPU lane (dedicated: exactly one) */
static chi_worker *gpu_worker(chi_runtime *rt)
{
	for (uint32_t l = 0; l < rt->nlane_refs; l++)
		if (rt->lane_refs[l].gpu)
			return &rt->workers[rt->lane_refs[l].shm->worker];
	fail_msg("no GPU lane");
	return NULL;
}

static uint64_t sleeps(const chi_worker *w)
{
	return __atomic_load_n(&w->shm->sleeps, __ATOMIC_RELAXED);
}

/* one double_plus through the GPU path; returns its latency in ns */
static uint64_t one_task(const chi_gpu_ctx *x, uint64_t v)
{
	chi_test_double_plus_task t;
	chi_gpu_future f;
	memset(&f, 0, sizeof(f));
	chi_test_double_plus_init(&t, CHI_POOL_TEST, v, 3);
	uint64_t t0 = chi_now_ns();
	assert_int_equal(chi_gpu_make_copy_future(x, 0, &t.hdr, chi_test_double_plus_ser_in, &f), 0);
	/* the method returns its result, and decodes it into the task */
	assert_int_equal(chi_gpu_future_wait(x, &f, &t.hdr, chi_test_double_plus_de_out, 0), v * 2 + 3);
	uint64_t dt = chi_now_ns() - t0;
	assert_int_equal(t.result, v * 2 + 3);
	return dt;
}

static void test_bounded_sleep(void **state)
{
	(void)state;
	chi_runtime *rt = start(2000000, 500); /* 2 s: what a GPU lane must not wait */
	chi_gpu_client *gc;
	assert_int_equal(chi_gpu_client_open(chi_runtime_client(rt), 0, &gc), 0);
	const chi_gpu_ctx *x = chi_gpu_client_ctx(gc);
	chi_worker *w = gpu_worker(rt);
	one_task(x, 1);
	uint64_t worst = 0;
	for (int k = 0; k < 5; k++) {
		uint64_t s0 = sleeps(w);
		/* idle until the worker has slept (1 ms of spinning first) */
		for (int i = 0; i < 2000 && sleeps(w) < s0 + 2; i++)
			sleep_ms(1);
		assert_true(sleeps(w) >= s0 + 2);
		uint64_t dt = one_task(x, 100 + k);
		if (dt > worst)
			worst = dt;
	}
	/* each sleep is 500 us at most; 2 s would be runtime.max_sleep_us */
	if (worst >= 500ull * 1000 * 1000)
		fail_msg("a task on a sleeping GPU worker took %llu us",
			 (unsigned long long)(worst / 1000));
	chi_gpu_client_close(gc);
	chi_runtime_stop(rt);
	chi_gpu_simulate(0);
}

static void test_never_sleeps(void **state)
{
	(void)state;
	chi_runtime *rt = start(2000, 0);
	chi_gpu_client *gc;
	assert_int_equal(chi_gpu_client_open(chi_runtime_client(rt), 0, &gc), 0);
	const chi_gpu_ctx *x = chi_gpu_client_ctx(gc);
	chi_worker *w = gpu_worker(rt);
	chi_worker *cpu = &rt->workers[w == &rt->workers[0] ? 1 : 0];
	one_task(x, 7);
	for (int i = 0; i < 2000 && sleeps(cpu) < 2; i++)
		sleep_ms(1);
	assert_true(sleeps(cpu) >= 2); /* the CPU-lane worker went to sleep */
	assert_int_equal(sleeps(w), 0); /* the GPU-lane worker never did */
	one_task(x, 8);
	chi_gpu_client_close(gc);
	chi_runtime_stop(rt);
	chi_gpu_simulate(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounded_sleep),
		cmocka_unit_test(test_never_sleeps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
