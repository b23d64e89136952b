/* tests/test_xproc.c: clients in other processes. The test starts an
 * embedded runtime and spawns (posix_spawn, never fork: TSan and CUDA) two
 * copies of itself that connect by name, submit stamped double_plus and echo
 * tasks with many in flight and check every result, while this process
 * submits its own. Each child exits 0 only if all its results were right. */
#include "test_util.h"

#include <errno.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "chi/modules/test.h"

extern char **environ;
static char self_path[4096];

#define CHILD_TASKS 4000
#define WINDOW 64

static int child_main(const char *name, uint32_t id)
{
	chi_client *c;
	int rc = chi_client_connect(name, &c);
	if (rc) {
		fprintf(stderr, "child %u: connect: %s\n", id, chi_strerror(rc));
		return 2;
	}
	static chi_test_double_plus_task t[WINDOW];
	static chi_future f[WINDOW];
	uint64_t wrong = 0;
	for (uint32_t done = 0; done < CHILD_TASKS; done += WINDOW) {
		for (int i = 0; i < WINDOW; i++) {
			chi_test_double_plus_init(&t[i], CHI_POOL_TEST,
						  ((uint64_t)id << 32) | (done + (uint32_t)i), id);
			if (chi_make_copy_future(c, &t[i].hdr, &chi_test_double_plus_codec, &f[i]))
				return 3;
		}
		for (int i = 0; i < WINDOW; i++) {
			uint64_t want = t[i].value * 2 + id;
			if (chi_future_wait(&f[i]) != (int64_t)want || t[i].result != want)
				wrong++;
		}
		uint8_t in[3000], out[3000];
		uint32_t n = 1 + (done % 2999);
		for (uint32_t k = 0; k < n; k++)
			in[k] = (uint8_t)(k * id + done);
		chi_test_echo_task e;
		chi_test_echo_init(&e, CHI_POOL_TEST, in, n, out, sizeof(out));
		if (chi_call(c, &e.hdr, &chi_test_echo_codec) != n || memcmp(in, out, n))
			wrong++;
	}
	/* an arena-sized transfer: its block lives in one of this client's
	 * chunks, bigger than the default chunk */
	static uint8_t big[600 * 1024], back[600 * 1024];
	for (uint32_t k = 0; k < sizeof(big); k++)
		big[k] = (uint8_t)(k * 7 + id);
	chi_test_echo_task e;
	chi_test_echo_init(&e, CHI_POOL_TEST, big, sizeof(big), back, sizeof(back));
	if (chi_call(c, &e.hdr, &chi_test_echo_codec) != (int64_t)sizeof(big) ||
	    memcmp(big, back, sizeof(big)))
		wrong++;
	chi_client_close(c);
	return wrong ? 1 : 0;
}

static void test_two_client_processes(void **state)
{
	(void)state;
	chi_config cfg;
	test_config(&cfg, 2, 2, 256);
	chi_runtime *rt;
	assert_int_equal(chi_runtime_start(&cfg, &rt), 0);
	pid_t pids[2];
	for (int i = 0; i < 2; i++) {
		char idbuf[16];
		snprintf(idbuf, sizeof(idbuf), "%d", 7 + i);
		char *argv[] = {self_path, (char *)"--child", cfg.name, idbuf, NULL};
		assert_int_equal(posix_spawn(&pids[i], self_path, NULL, NULL, argv, environ), 0);
	}
	/* this process submits too, meanwhile */
	chi_client *c = chi_runtime_client(rt);
	for (uint32_t i = 0; i < 3000; i++) {
		chi_test_double_plus_task t;
		chi_test_double_plus_init(&t, CHI_POOL_TEST, i, 1);
		assert_int_equal(chi_call(c, &t.hdr, &chi_test_double_plus_codec), 2 * i + 1);
	}
	for (int i = 0; i < 2; i++) {
		int st;
		assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	chi_runtime_stop(rt);
}

static void test_connect_errors(void **state)
{
	(void)state;
	chi_client *c = NULL;
	assert_int_equal(chi_client_connect("nosuchruntime_xyz", &c), -ENOENT);
	assert_null(c);
	assert_int_equal(chi_client_connect("bad.name", &c), -EINVAL);
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--child"))
		return child_main(argv[2], (uint32_t)atoi(argv[3]));
#if defined(CHI_TSAN)
	/* ThreadSanitizer cannot see synchronization through memory shared
	 * between processes (a block freed by a child and reused here looks
	 * like a race): this test runs in the plain and ASan builds. */
	fprintf(stderr, "test_xproc: skipped under ThreadSanitizer\n");
	return 77;
#endif
	if (test_self_exe(self_path, sizeof(self_path)))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_errors),
		cmocka_unit_test(test_two_client_processes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
