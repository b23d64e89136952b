/* tests/fault_client_killed.c: failure row "client process dies mid-submit
 * or with futures in flight". A client process (this binary, spawned) is
 * SIGKILLed
 *   - with 100 futures in flight, one of them holding a 512 KiB arena block:
 *     the runtime keeps serving this process, and the dead client's arena
 *     chunks go back to the main arena (in_use returns to its level before
 *     the client came);
 *   - between claiming a ring slot and publishing it (a hole): tasks queued
 *     behind the hole complete once the runtime sees the claimant is dead,
 *     and the lane counts one skipped hole.
 * And the converse: a hole whose claimant is alive is never skipped, only
 * counted as a stall, and the queue moves on once it is published. */
#include "test_util.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "chi/modules/test.h"
#include "ipc/client.h"
#include "task/future_ops.h"

extern char **environ;
static char self_path[4096];

static int child(const char *mode, const char *name)
{
	chi_client *c;
	if (chi_client_connect(name, &c))
		return 2;
	if (!strcmp(mode, "inflight")) {
		static chi_test_arg_task t[100];
		static chi_future f[100];
		for (int i = 0; i < 100; i++) {
			chi_test_arg_init(&t[i], CHI_POOL_TEST, CHI_TEST_SPIN, 2000000);
			if (chi_make_copy_future(c, &t[i].hdr, &chi_test_arg_codec, &f[i]))
				return 3;
		}
		static uint8_t big[512 * 1024], reply[512 * 1024];
		chi_test_echo_task e;
		chi_future fe;
		chi_test_echo_init(&e, CHI_POOL_TEST, big, sizeof(big), reply, sizeof(reply));
		if (chi_make_copy_future(c, &e.hdr, &chi_test_echo_codec, &fe))
			return 4;
	} else { /* hole: claim a slot of lane 0, mark it, die before publishing */
		uint64_t t = 0;
		if (chi_ring_try_claim(&c->views[0][0], &t))
			return 5;
		chi_ring_mark(&c->views[0][0], t, c->id);
	}
	raise(SIGKILL);
	return 6;
}

static void spawn_and_reap(const char *mode, const char *name)
{
	pid_t pid;
	char *argv[] = {self_path, (char *)"--child", (char *)mode, (char *)name, NULL};
	assert_int_equal(posix_spawn(&pid, self_path, NULL, NULL, argv, environ), 0);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFSIGNALED(st))
		fail_msg("child %s exited with %d", mode, WEXITSTATUS(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
}

static void wait_reclaimed(chi_client *c, uint64_t baseline, uint64_t dead)
{
	for (int i = 0; i < 500; i++) { /* up to 5 s */
		if (__atomic_load_n(&c->dir->alloc.in_use, __ATOMIC_RELAXED) == baseline &&
		    __atomic_load_n(&c->dir->clients_dead, __ATOMIC_RELAXED) == dead)
			return;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	fail_msg("in_use %llu (want %llu), clients_dead %llu (want %llu)",
		 (unsigned long long)c->dir->alloc.in_use, (unsigned long long)baseline,
		 (unsigned long long)c->dir->clients_dead, (unsigned long long)dead);
}

static void check_served(chi_client *c, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		chi_test_double_plus_task t;
		chi_future f;
		chi_test_double_plus_init(&t, CHI_POOL_TEST, 1000 + i, 5);
		assert_int_equal(chi_make_copy_future(c, &t.hdr, &chi_test_double_plus_codec, &f), 0);
		assert_int_equal(chi_future_wait_timeout(&f, 5000000000ull), 2 * (1000 + i) + 5);
		assert_int_equal(t.result, 2 * (1000 + i) + 5);
	}
}

static void test_killed_with_futures_in_flight(void **state)
{
	(void)state;
	chi_runtime *rt = test_start(1, 1, 256);
	chi_client *c = chi_runtime_client(rt);
	uint64_t baseline = c->dir->alloc.in_use;
	spawn_and_reap("inflight", chi_runtime_config(rt)->name);
	check_served(c, 50);
	wait_reclaimed(c, baseline, 1);
	assert_true(c->dir->chunks_reclaimed >= 1);
	chi_runtime_stop(rt);
}

static void test_killed_mid_submit(void **state)
{
	(void)state;
	chi_runtime *rt = test_start(1, 1, 256);
	chi_client *c = chi_runtime_client(rt);
	uint64_t baseline = c->dir->alloc.in_use;
	spawn_and_reap("hole", chi_runtime_config(rt)->name);
	check_served(c, 20); /* queued behind the hole */
	assert_int_equal(c->lanes[0].holes_skipped, 1);
	wait_reclaimed(c, baseline, 1);
	chi_runtime_stop(rt);
}

static void test_live_claimant_not_skipped(void **state)
{
	(void)state;
	chi_runtime *rt = test_start(1, 1, 256);
	chi_client *c = chi_runtime_client(rt);
	chi_ring_view *r = &c->views[0][0];
	uint64_t t = 0;
	assert_int_equal(chi_ring_try_claim(r, &t), 0);
	chi_ring_mark(r, t, c->id); /* we hold a hole and stay alive */
	chi_test_double_plus_task dt;
	chi_future f;
	chi_test_double_plus_init(&dt, CHI_POOL_TEST, 4, 1);
	assert_int_equal(chi_make_copy_future(c, &dt.hdr, &chi_test_double_plus_codec, &f), 0);
	/* 3 hole timeouts: stalls are counted, nothing is skipped */
	assert_int_equal(chi_future_wait_timeout(&f, 300000000ull), -ETIMEDOUT);
	assert_int_equal(c->lanes[0].holes_skipped, 0);
	assert_true(c->lanes[0].hole_stalls >= 1);
	/* publish the hole with a real task: both complete, in order */
	chi_test_double_plus_task ht;
	chi_test_double_plus_init(&ht, CHI_POOL_TEST, 10, 0);
	uint64_t off = chi_client_alloc(c, CHI_FUTURE_BLOCK);
	chi_future_shm *fs = (chi_future_shm *)((char *)c->base + off);
	chi_future_block_init(fs, CHI_FUTURE_COPY_FROM_CLIENT, 8, CHI_OFFPTR_NULL, 0, 0, c->id, 0);
	memcpy(fs->copy_space, &ht.hdr, sizeof(chi_task));
	chi_ar a;
	chi_ar_init(&a, fs->copy_space + sizeof(chi_task), ht.hdr.in_size);
	assert_int_equal(chi_test_double_plus_ser_in(&a, &ht.hdr), 0);
	chi_ring_publish(r, t, chi_offptr_make(CHI_SEG_ID_MAIN, off), 1, c->id);
	chi_client_wake_lane(c, 0);
	assert_int_equal(chi_future_wait_timeout(&f, 5000000000ull), 9);
	while (!(chi_future_flags(fs) & CHI_FUTURE_COMPLETE))
		chi_cpu_relax();
	assert_int_equal(fs->result, 20);
	chi_client_free(c, off, CHI_FUTURE_BLOCK);
	chi_runtime_stop(rt);
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--child"))
		return child(argv[2], argv[3]);
	if (test_self_exe(self_path, sizeof(self_path)))
		return 1;
#if defined(CHI_TSAN)
	/* TSan cannot see synchronization through memory shared between
	 * processes; this test runs in the plain and ASan builds. */
	fprintf(stderr, "fault_client_killed: skipped under ThreadSanitizer\n");
	return 77;
#endif
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_claimant_not_skipped),
		cmocka_unit_test(test_killed_with_futures_in_flight),
		cmocka_unit_test(test_killed_mid_submit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
