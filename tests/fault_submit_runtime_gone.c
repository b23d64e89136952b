/* tests/fault_submit_runtime_gone.c: failure row "the runtime dies while a
 * blocking submit waits for room" (docs/reliability.md). The runtime runs in
 * a child process (this binary, spawned); its only worker is held by a long
 * task and its ring is full; then the runtime is SIGKILLed and left a zombie
 * (kill(pid, 0) still answers). A blocking chi_make_copy_future on the full
 * ring must return -EOWNERDEAD within the bound a wait has (heartbeat 2 s,
 * plus a 10 ms check slice), as chi_future_wait on the held task does; it
 * used to spin for room forever. A second submit, begun after the death,
 * ends the same way. */
#include "test_util.h"

#include <errno.h>
#include <pthread.h>
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

static int runtime_child(const char *name)
{
	return test_runtime_child(name, 4, 1);
}

typedef struct submitter {
	chi_client *c;
	chi_test_double_plus_task t;
	chi_future f;
	int rc;
	uint64_t took_ns;
	int done;
} submitter;

static void *submit_main(void *arg)
{
	submitter *s = arg;
	chi_test_double_plus_init(&s->t, CHI_POOL_TEST, 1, 1);
	uint64_t t0 = chi_now_ns();
	s->rc = chi_make_copy_future(s->c, &s->t.hdr, &chi_test_double_plus_codec, &s->f);
	s->took_ns = chi_now_ns() - t0;
	__atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Wait up to `ms` for the submitter to return. */
static int returned_within(submitter *s, int ms)
{
	for (int i = 0; i < ms; i++) {
		if (__atomic_load_n(&s->done, __ATOMIC_ACQUIRE))
			return 1;
		struct timespec ts = {0, 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return 0;
}

static void test_submit_on_full_ring_after_kill(void **state)
{
	(void)state;
	char name[32];
	snprintf(name, sizeof(name), "sg%d", (int)getpid());
	pid_t pid;
	char *argv[] = {self_path, (char *)"--runtime", name, NULL};
	assert_int_equal(posix_spawn(&pid, self_path, NULL, NULL, argv, environ), 0);
	chi_client *c = NULL;
	for (int i = 0; i < 500 && chi_client_connect(name, &c); i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	assert_non_null(c);
	/* hold the worker, then fill the ring behind it */
	chi_test_arg_task spin;
	chi_future fspin;
	chi_test_arg_init(&spin, CHI_POOL_TEST, CHI_TEST_SPIN, 900 * 1000 * 1000);
	assert_int_equal(chi_make_copy_future(c, &spin.hdr, &chi_test_arg_codec, &fspin), 0);
	while (!__atomic_load_n(&c->lanes[0].popped, __ATOMIC_ACQUIRE))
		chi_cpu_relax();
	static chi_test_double_plus_task fill[16];
	static chi_future ff[16];
	for (int i = 0; i < 16; i++)
		chi_test_double_plus_init(&fill[i], CHI_POOL_TEST, (uint64_t)i, 1);
	int queued = 0, rc = 0;
	while (queued < 16 && (rc = chi_try_make_copy_future(c, &fill[queued].hdr,
							     &chi_test_double_plus_codec,
							     &ff[queued])) == 0)
		queued++;
	assert_int_equal(rc, -EAGAIN);
	assert_int_equal(queued, 4); /* depth 4 */
	/* a blocking submit waits for room ... */
	static submitter s1, s2;
	s1.c = c;
	pthread_t th1, th2;
	assert_int_equal(pthread_create(&th1, NULL, submit_main, &s1), 0);
	struct timespec ts = {0, 50 * 1000 * 1000};
	nanosleep(&ts, NULL);
	assert_false(__atomic_load_n(&s1.done, __ATOMIC_ACQUIRE));
	/* ... when the runtime is killed (left a zombie: not reaped yet) */
	assert_int_equal(kill(pid, SIGKILL), 0);
	uint64_t t0 = chi_now_ns();
	s2.c = c;
	assert_int_equal(pthread_create(&th2, NULL, submit_main, &s2), 0);
	/* a wait on the held task, for the bound */
	assert_int_equal(chi_future_wait(&fspin), -ENOTRECOVERABLE); /* it was running */
	uint64_t wait_ns = chi_now_ns() - t0;
	assert_true(wait_ns < 4000000000ull);
	if (!returned_within(&s1, 4000) || !returned_within(&s2, 1000))
		fail_msg("a blocking submit did not return %d s after the runtime died", 5);
	pthread_join(th1, NULL);
	pthread_join(th2, NULL);
	assert_int_equal(s1.rc, -EOWNERDEAD);
	assert_int_equal(s2.rc, -EOWNERDEAD);
	assert_true(chi_now_ns() - t0 < 4000000000ull);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	chi_client_close(c);
	chi_shm_cleanup(name, NULL, NULL);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--runtime"))
		return runtime_child(argv[2]);
	if (test_self_exe(self_path, sizeof(self_path)))
		return 1;
#if defined(CHI_TSAN)
	fprintf(stderr, "fault_submit_runtime_gone: skipped under ThreadSanitizer (cross-process)\n");
	return 77;
#endif
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_submit_on_full_ring_after_kill),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
