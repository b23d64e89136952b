/* tests/fault_restart_zombie.c: failure row "restart right after the
 * runtime was killed" (docs/reliability.md). A SIGKILLed daemon lingers as a
 * zombie until its parent reaps it, and kill(pid, 0) still finds a zombie:
 * deciding liveness by that alone refused the restart (-EADDRINUSE) and made
 * `chi cleanup` keep the dead segment. Liveness now also reads the process
 * state (a zombie is dead), its start time against the segment's creation
 * (a pid reused by a later process is not the owner), and for a main
 * segment that is ready and not stopping the heartbeat (`alive` must move
 * within CHI_GPU_HEARTBEAT_NS, as clients require).
 *   zombie: a restart with the same name succeeds and serves; chi cleanup
 *     removes a zombie's segment;
 *   frozen heartbeat: a ready segment whose owner pid is a live process (this
 *     one) but whose heartbeat never moves is removed;
 *   live: a runtime that lives (child process) still refuses a second one
 *     with -EADDRINUSE and keeps its segment. */
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
#include "shm/shm.h"
#include "task/future_ops.h"

extern char **environ;
static char self_path[4096];

static int runtime_child(const char *name)
{
	return test_runtime_child(name, 64, 1);
}

static pid_t spawn_runtime(const char *name)
{
	pid_t pid;
	char *argv[] = {self_path, (char *)"--runtime", (char *)name, NULL};
	assert_int_equal(posix_spawn(&pid, self_path, NULL, NULL, argv, environ), 0);
	chi_client *c = NULL;
	for (int i = 0; i < 500 && chi_client_connect(name, &c); i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	assert_non_null(c);
	chi_client_close(c);
	return pid;
}

/* SIGKILL, and wait until the kernel made it a zombie (not reaped). */
static void kill_to_zombie(pid_t pid)
{
	assert_int_equal(kill(pid, SIGKILL), 0);
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
	assert_int_equal(kill(pid, 0), 0); /* a zombie still answers */
}

static void test_restart_over_zombie(void **state)
{
	(void)state;
	chi_config cfg;
	test_config(&cfg, 1, 1, 64);
	pid_t pid = spawn_runtime(cfg.name);
	kill_to_zombie(pid);
	chi_runtime *rt = NULL;
	assert_int_equal(chi_runtime_start(&cfg, &rt), 0);
	chi_test_double_plus_task t;
	chi_test_double_plus_init(&t, CHI_POOL_TEST, 5, 2);
	assert_int_equal(chi_call(chi_runtime_client(rt), &t.hdr, &chi_test_double_plus_codec), 12);
	chi_runtime_stop(rt);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
}

static void test_cleanup_zombie(void **state)
{
	(void)state;
	chi_config cfg;
	test_config(&cfg, 1, 1, 64);
	pid_t pid = spawn_runtime(cfg.name);
	kill_to_zombie(pid);
	assert_int_equal(chi_shm_cleanup(cfg.name, NULL, NULL), 1);
	char name[CHI_SEG_NAME_MAX];
	chi_seg s;
	assert_int_equal(chi_shm_name(name, sizeof(name), cfg.name, "main", -1), 0);
	assert_int_equal(chi_seg_open(&s, name), -ENOENT);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
}

static void test_frozen_heartbeat(void **state)
{
	(void)state;
	chi_config cfg;
	test_config(&cfg, 1, 1, 64);
	char name[CHI_SEG_NAME_MAX];
	assert_int_equal(chi_shm_name(name, sizeof(name), cfg.name, "main", -1), 0);
	/* a ready main segment "owned" by this live process, whose heartbeat
	 * never moves: no monitor bumps it */
	chi_seg s;
	assert_int_equal(chi_seg_create(&s, name, 1 << 20, CHI_SEG_ID_MAIN, CHI_SEG_KIND_MAIN, 5,
					cfg.name), 0);
	chi_seg_hdr_of(&s)->alive = 77;
	chi_seg_hdr_of(&s)->ready = 1;
	s.created = 0;
	chi_seg_close(&s);
	uint64_t t0 = chi_now_ns();
	assert_int_equal(chi_shm_cleanup(cfg.name, NULL, NULL), 1);
	assert_true(chi_now_ns() - t0 < 2 * CHI_GPU_HEARTBEAT_NS);
	assert_int_equal(chi_seg_open(&s, name), -ENOENT);
}

static void test_live_kept(void **state)
{
	(void)state;
	chi_config cfg;
	test_config(&cfg, 1, 1, 64);
	pid_t pid = spawn_runtime(cfg.name);
	chi_runtime *rt = NULL;
	uint64_t t0 = chi_now_ns();
	assert_int_equal(chi_runtime_start(&cfg, &rt), -EADDRINUSE);
	assert_int_equal(chi_shm_cleanup(cfg.name, NULL, NULL), 0);
	assert_true(chi_now_ns() - t0 < 1000000000ull); /* a moving heartbeat is seen at once */
	chi_client *c;
	assert_int_equal(chi_client_connect(cfg.name, &c), 0);
	chi_client_close(c);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(chi_shm_cleanup(cfg.name, NULL, NULL), 1);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--runtime"))
		return runtime_child(argv[2]);
	if (test_self_exe(self_path, sizeof(self_path)))
		return 1;
#if defined(CHI_TSAN)
	fprintf(stderr, "fault_restart_zombie: skipped under ThreadSanitizer (cross-process)\n");
	return 77;
#endif
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restart_over_zombie),
		cmocka_unit_test(test_cleanup_zombie),
		cmocka_unit_test(test_frozen_heartbeat),
		cmocka_unit_test(test_live_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
