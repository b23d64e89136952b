/* tests/fault_runtime_gone.c: failure row "runtime dies or stops". The
 * runtime runs in a child process (this binary, spawned).
 *   killed: SIGKILL while a client waits on a running task; the wait returns
 *     within a bounded time, even though the killed runtime stays a zombie
 *     (not reaped) so its pid still answers kill(pid, 0): -ENOTRECOVERABLE,
 *     since the task had started (FA2, chi/proto/future.h);
 *   sigstopped: the runtime stopped (SIGSTOP) for longer than the
 *     heartbeat bound with a task running and tasks queued: the running
 *     one's wait says -ENOTRECOVERABLE, the queued ones' -EOWNERDEAD, each
 *     within the bound; after SIGCONT the runtime runs none of the queued
 *     ones (it used to run them all: a client that retried ran them twice),
 *     completes them -ECANCELED unseen, and serves new tasks; an admin.stop
 *     sent while it is stopped is withdrawn the same way (it goes on);
 *   stopped: admin.stop while tasks are queued; the queued tasks still
 *     complete (the stop drains), then a new submission gets -ESHUTDOWN and a
 *     wait on a task published after the drain returns -ESHUTDOWN promptly. */
#include "test_util.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include "chi/modules/admin.h"
#include "chi/modules/test.h"
#include "ipc/client.h"
#include "shm/shm.h"
#include "task/future_ops.h"

extern char **environ;
static char self_path[4096];

static int runtime_child(const char *name)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL); /* a crashed test does not leave it behind */
	return test_runtime_child(name, 64, 0);
}

static pid_t g_child; /* the runtime child: killed by the teardown if a test fails */

static int kill_child(void **state)
{
	(void)state;
	if (g_child > 0 && waitpid(g_child, NULL, WNOHANG) == 0) {
		kill(g_child, SIGKILL); /* a stopped child too */
		waitpid(g_child, NULL, 0);
	}
	g_child = 0;
	return 0;
}

static pid_t spawn_runtime(char *name, chi_client **c)
{
	static int seq;
	snprintf(name, 32, "rg%d_%d", (int)getpid(), seq++);
	pid_t pid;
	char *argv[] = {self_path, (char *)"--runtime", name, NULL};
	assert_int_equal(posix_spawn(&pid, self_path, NULL, NULL, argv, environ), 0);
	g_child = pid;
	for (int i = 0; i < 500; i++) {
		if (chi_client_connect(name, c) == 0)
			return pid;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	fail_msg("runtime %s did not come up", name);
	return -1;
}

static void test_killed(void **state)
{
	(void)state;
	char name[32];
	chi_client *c;
	pid_t pid = spawn_runtime(name, &c);
	chi_test_arg_task t;
	chi_test_arg_init(&t, CHI_POOL_TEST, CHI_TEST_SPIN, 900 * 1000 * 1000);
	chi_future f;
	assert_int_equal(chi_make_copy_future(c, &t.hdr, &chi_test_arg_codec, &f), 0);
	/* taken (FA1), not only popped: a block popped but not yet taken is
	 * withdrawn and reported -EOWNERDEAD instead */
	while (!(chi_future_flags(f.shm) & CHI_FUTURE_STARTED))
		chi_cpu_relax();
	kill(pid, SIGKILL); /* not reaped yet: a zombie */
	uint64_t t0 = chi_now_ns();
	assert_int_equal(chi_future_wait(&f), -ENOTRECOVERABLE); /* it was running */
	uint64_t waited = chi_now_ns() - t0;
	assert_true(waited < 4000000000ull); /* heartbeat limit 2 s + a slice */
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	/* no new work is accepted through a dead runtime either */
	chi_client_close(c);
	char seg[CHI_SEG_NAME_MAX];
	chi_shm_name(seg, sizeof(seg), name, "main", -1);
	assert_int_equal(chi_client_connect(name, &c), -ECONNREFUSED);
	assert_int_equal(chi_shm_cleanup(name, NULL, NULL), 1);
	assert_int_equal(chi_client_connect(name, &c), -ENOENT);
}

static void test_stopped(void **state)
{
	(void)state;
	char name[32];
	chi_client *c;
	pid_t pid = spawn_runtime(name, &c);
	chi_test_arg_task spin;
	chi_future fs, fd[8], fstop;
	chi_test_double_plus_task d[8];
	chi_test_arg_init(&spin, CHI_POOL_TEST, CHI_TEST_SPIN, 200 * 1000 * 1000);
	assert_int_equal(chi_make_copy_future(c, &spin.hdr, &chi_test_arg_codec, &fs), 0);
	chi_task stop;
	chi_task_init(&stop, CHI_POOL_ADMIN, CHI_ADMIN_STOP, 0);
	assert_int_equal(chi_make_copy_future(c, &stop, &chi_admin_stop_codec, &fstop), 0);
	for (int i = 0; i < 8; i++) {
		chi_test_double_plus_init(&d[i], CHI_POOL_TEST, (uint64_t)i, 1);
		assert_int_equal(chi_make_copy_future(c, &d[i].hdr, &chi_test_double_plus_codec, &fd[i]), 0);
	}
	/* everything published before the stop completes */
	assert_int_equal(chi_future_wait(&fs), 0);
	assert_int_equal(chi_future_wait(&fstop), 0);
	for (int i = 0; i < 8; i++)
		assert_int_equal(chi_future_wait(&fd[i]), 2 * i + 1);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* afterwards: new submissions are refused ... */
	chi_test_double_plus_task x;
	chi_future fx;
	chi_test_double_plus_init(&x, CHI_POOL_TEST, 1, 1);
	assert_int_equal(chi_make_copy_future(c, &x.hdr, &chi_test_double_plus_codec, &fx), -ESHUTDOWN);
	/* ... and a wait on a task that slipped in after the drain ends promptly */
	uint64_t off = chi_client_alloc(c, CHI_FUTURE_BLOCK);
	assert_true(off != 0);
	chi_future_shm *b = (chi_future_shm *)((char *)c->base + off);
	chi_future_block_init(b, CHI_FUTURE_COPY_FROM_CLIENT, 8, CHI_OFFPTR_NULL, 0, 0, c->id, 0);
	assert_int_equal(chi_lane_try_submit(&c->views[0][0], chi_offptr_make(CHI_SEG_ID_MAIN, off), 1, c->id), 0);
	chi_future late = {b, c, &x.hdr, &chi_test_double_plus_codec, off, CHI_FUT_COPY, 0};
	uint64_t t0 = chi_now_ns();
	assert_int_equal(chi_future_wait(&late), -ESHUTDOWN);
	assert_true(chi_now_ns() - t0 < 1000000000ull);
	chi_client_close(c);
}

/* Tasks of (test, double_plus) the runtime ran, from admin.pool_stats. */
static uint64_t double_plus_runs(chi_client *c)
{
	static chi_admin_pool_stats_task ps;
	chi_admin_pool_stats_init(&ps);
	assert_true(chi_call(c, &ps.hdr, &chi_admin_pool_stats_codec) >= 0);
	for (uint32_t i = 0; i < ps.count; i++)
		if (ps.e[i].pool == CHI_POOL_TEST && ps.e[i].method == CHI_TEST_DOUBLE_PLUS)
			return ps.e[i].count;
	return 0;
}

static void served(chi_client *c, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		chi_test_double_plus_task t;
		chi_test_double_plus_init(&t, CHI_POOL_TEST, 40 + i, 2);
		assert_int_equal(chi_call(c, &t.hdr, &chi_test_double_plus_codec), 2 * (40 + i) + 2);
	}
}

#define QUEUED 8

static void test_sigstopped(void **state)
{
	(void)state;
	char name[32];
	chi_client *c;
	pid_t pid = spawn_runtime(name, &c);
	served(c, 4);
	uint64_t runs0 = double_plus_runs(c);
	uint64_t popped0 = __atomic_load_n(&c->lanes[0].popped, __ATOMIC_ACQUIRE);
	uint64_t errors0 = __atomic_load_n(&c->lanes[0].errors, __ATOMIC_ACQUIRE);
	/* one task running when the stop comes, QUEUED behind it */
	chi_test_arg_task spin;
	chi_future fspin, fd[QUEUED];
	chi_test_double_plus_task d[QUEUED];
	chi_test_arg_init(&spin, CHI_POOL_TEST, CHI_TEST_SPIN, 300 * 1000 * 1000);
	assert_int_equal(chi_make_copy_future(c, &spin.hdr, &chi_test_arg_codec, &fspin), 0);
	while (!(chi_future_flags(fspin.shm) & CHI_FUTURE_STARTED)) /* taken, FA1 */
		chi_cpu_relax();
	assert_int_equal(kill(pid, SIGSTOP), 0);
	for (int i = 0; i < QUEUED; i++) {
		chi_test_double_plus_init(&d[i], CHI_POOL_TEST, (uint64_t)i, 1);
		assert_int_equal(chi_make_copy_future(c, &d[i].hdr, &chi_test_double_plus_codec, &fd[i]), 0);
	}
	uint64_t t0 = chi_now_ns();
	assert_int_equal(chi_future_wait(&fspin), -ENOTRECOVERABLE);
	for (int i = 0; i < QUEUED; i++)
		assert_int_equal(chi_future_wait(&fd[i]), -EOWNERDEAD);
	assert_true(chi_now_ns() - t0 < 4000000000ull); /* heartbeat 2 s + slices */
	/* an admin.stop sent now is withdrawn too */
	chi_task stop;
	chi_task_init(&stop, CHI_POOL_ADMIN, CHI_ADMIN_STOP, 0);
	assert_int_equal(chi_call(c, &stop, &chi_admin_stop_codec), -EOWNERDEAD);

	assert_int_equal(kill(pid, SIGCONT), 0);
	/* the runtime goes on: it pops the spin (already running), the QUEUED
	 * tasks and the stop, and runs none of the withdrawn ones */
	uint64_t want = popped0 + 1 + QUEUED + 1;
	for (int i = 0; i < 400 && __atomic_load_n(&c->lanes[0].popped, __ATOMIC_ACQUIRE) < want; i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	assert_int_equal(__atomic_load_n(&c->lanes[0].popped, __ATOMIC_ACQUIRE), want);
	served(c, 4);
	assert_int_equal(double_plus_runs(c), runs0 + 4); /* was runs0 + QUEUED + 4 */
	/* each withdrawn one completed -ECANCELED, for the counters only */
	assert_int_equal(__atomic_load_n(&c->lanes[0].errors, __ATOMIC_ACQUIRE),
			 errors0 + QUEUED + 1);
	assert_int_equal(kill(pid, 0), 0); /* the withdrawn stop did not stop it */
	assert_true(chi_call(c, &stop, &chi_admin_stop_codec) >= 0);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	chi_client_close(c);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--runtime"))
		return runtime_child(argv[2]);
	if (test_self_exe(self_path, sizeof(self_path)))
		return 1;
#if defined(CHI_TSAN)
	fprintf(stderr, "fault_runtime_gone: skipped under ThreadSanitizer (cross-process)\n");
	return 77;
#endif
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_stopped, kill_child),
		cmocka_unit_test_teardown(test_killed, kill_child),
		cmocka_unit_test_teardown(test_sigstopped, kill_child),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
