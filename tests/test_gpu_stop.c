/* tests/test_gpu_stop.c: an orderly stop (chi_runtime_stop) with GPU lanes
 * that cannot be drained, on a simulated GPU (src/runtime/worker.c,
 * drain_pending). A sealed entry whose last word never lands is published
 * but can never be popped: the stop must not wait for it. A GPU client that
 * keeps its lane full cannot be refused (kernels are not told of the stop):
 * the stop leaves the lane once it drained it for CHI_GPU_HEARTBEAT_NS. A
 * stop that hangs fails the test instead of hanging it. Label
 * gpu_protocol. */
#include "test_util.h"
#include "gpu_test_util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gpu/gpu.h"
#include "ipc/client.h"
#include "runtime/runtime.h"
#include "task/future_ops.h"

#define BACKLOG 40
#define SPIN_NS 100000000ull /* 100 ms a task: 4 s of work queued */

static char self_path[4096];
extern char **environ;

static chi_runtime *start(void)
{
	chi_gpu_simulate(1);
	chi_config cfg;
	test_config(&cfg, 1, 0, 256);
	cfg.gpu_lanes = 1;
	cfg.gpu_queue_depth = 64;
	cfg.gpu_segment_size = 16u << 20;
	cfg.gpu_clients = 1;
	cfg.hole_timeout_ms = 600000; /* no hole is skipped while the test runs */
	chi_runtime *rt;
	assert_int_equal(chi_runtime_start(&cfg, &rt), 0);
	return rt;
}

typedef struct stopper {
	chi_runtime *rt;
	int done;
} stopper;

static void *stop_main(void *arg)
{
	stopper *s = arg;
	chi_runtime_stop(s->rt);
	__atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Stop rt on another thread; the ms it took, or -1 if it had not returned
 * within limit_ms (the thread is then left behind: the test fails). */
static long stop_within(chi_runtime *rt, long limit_ms)
{
	stopper s = {rt, 0};
	pthread_t t;
	uint64_t t0 = chi_now_ns();
	assert_int_equal(pthread_create(&t, NULL, stop_main, &s), 0);
	for (long i = 0; i < limit_ms && !__atomic_load_n(&s.done, __ATOMIC_ACQUIRE); i++)
		test_nap_ms(1);
	if (!__atomic_load_n(&s.done, __ATOMIC_ACQUIRE))
		return -1;
	pthread_join(t, NULL);
	return (long)((chi_now_ns() - t0) / 1000000u);
}

/* A sealed entry published with its pointer but one word short (its kernel
 * failed, or is still writing, when the stop comes): seen at head, never
 * popped, and the stop returns at once. */
static void test_stop_past_incomplete_sealed_head(void **state)
{
	(void)state;
	chi_runtime *rt = start();
	chi_gpu_client *gc;
	assert_int_equal(chi_gpu_client_open(chi_runtime_client(rt), 0, &gc), 0);
	const chi_gpu_ctx *x = chi_gpu_client_ctx(gc);
	assert_int_equal(test_gpu_double_plus(x, 4), 8); /* the lane works */
	chi_test_double_plus_task t;
	uint32_t pay[CHI_SEAL_WORDS];
	uint32_t n = test_seal_payload(&t, 9, pay), idx = x->blk_base + 3;
	assert_true(n > 4);
	uint64_t off = chi_gpu_block_off(x, 0, idx);
	chi_seal_write((uint64_t *)(void *)(x->base + x->inbox_off + (off - x->blocks_off)), pay,
		       n - 1);
	chi_ring_view v;
	chi_gpu_ring(x, 0, 0, &v);
	uint64_t ticket = chi_ring_claim(&v);
	chi_ring_mark(&v, ticket, x->client);
	chi_ring_publish_sealed(&v, ticket, chi_offptr_make(x->seg_id, off), x->client);
	chi_lane_shm *ls = test_gpu_lane(x, 0);
	for (int i = 0; i < 2000 && !__atomic_load_n(&ls->seal_waits, __ATOMIC_RELAXED); i++)
		test_nap_ms(1);
	assert_true(__atomic_load_n(&ls->seal_waits, __ATOMIC_RELAXED) > 0); /* seen, not taken */
	assert_int_equal(__atomic_load_n(&ls->completed, __ATOMIC_RELAXED), 1);
	chi_gpu_client_close(gc);
	long ms = stop_within(rt, 10000);
	if (ms < 0)
		fail_msg("chi_runtime_stop still waiting after 10 s on an entry it cannot pop");
	assert_true(ms < 1000);
}

/* Child: a kernel's backlog, BACKLOG test.spin tasks of SPIN_NS each
 * published at once through the block pool, then nothing more (it is
 * killed after the stop). */
static int child(const char *name)
{
	chi_gpu_simulate(1);
	chi_client *c;
	chi_gpu_client *gc;
	if (chi_client_connect(name, &c) || chi_gpu_client_open(c, 0, &gc))
		return 2;
	const chi_gpu_ctx *x = chi_gpu_client_ctx(gc);
	static chi_test_arg_task t[BACKLOG];
	static chi_gpu_future f[BACKLOG];
	for (int i = 0; i < BACKLOG; i++) {
		chi_test_arg_init(&t[i], CHI_POOL_TEST, CHI_TEST_SPIN, SPIN_NS);
		if (chi_gpu_make_copy_future(x, 0, &t[i].hdr, chi_test_arg_ser_in, &f[i]))
			return 3;
	}
	for (;;)
		pause();
}

/* The stop comes with 4 s of GPU work queued: the lane is drained for
 * CHI_GPU_HEARTBEAT_NS (2 s, after which the kernel's waits have given up
 * anyway), then left; the stop returns after the task running then. */
static void test_stop_leaves_busy_gpu_lane(void **state)
{
	(void)state;
#if defined(CHI_TSAN)
	skip(); /* cross-process: TSan cannot see synchronization through shared memory */
#endif
	chi_runtime *rt = start();
	chi_gpu_seg *s = &((chi_gpu_state *)rt->gpu)->segs[0];
	chi_lane_shm *ls = (chi_lane_shm *)((char *)s->seg.base + s->dir->lanes_off);
	pid_t pid;
	char *argv[] = {self_path, (char *)"--child", (char *)chi_runtime_config(rt)->name, NULL};
	assert_int_equal(posix_spawn(&pid, self_path, NULL, NULL, argv, environ), 0);
	for (int i = 0; i < 10000 && __atomic_load_n(&ls->popped, __ATOMIC_RELAXED) < 2; i++)
		test_nap_ms(1);
	int st;
	assert_int_equal(waitpid(pid, &st, WNOHANG), 0); /* its tasks are queued */
	assert_true(__atomic_load_n(&ls->popped, __ATOMIC_RELAXED) >= 2);
	long ms = stop_within(rt, 15000);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (ms < 0)
		fail_msg("chi_runtime_stop still draining a GPU lane after 15 s");
	/* drained 2 s, left with about 2 s of work queued (all of it: ~4 s) */
	if (ms < 1900 || ms > 3200)
		fail_msg("the stop took %ld ms, not 2 s and the task then running", ms);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--child"))
		return child(argv[2]);
	if (test_self_exe(self_path, sizeof(self_path)))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stop_past_incomplete_sealed_head),
		cmocka_unit_test(test_stop_leaves_busy_gpu_lane),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
