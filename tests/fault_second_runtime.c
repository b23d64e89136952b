/* tests/fault_second_runtime.c: failure rows "second runtime with the same
 * name" (refused with -EADDRINUSE while the first lives) and "stale segments
 * from a dead runtime" (a segment whose owner pid is gone is removed at
 * start). */
#include "test_util.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>

#include "chi/modules/test.h"
#include "shm/shm.h"

static void test_second_refused(void **state)
{
	(void)state;
	chi_config cfg;
	test_config(&cfg, 1, 1, 64);
	chi_runtime *a, *b = NULL;
	assert_int_equal(chi_runtime_start(&cfg, &a), 0);
	assert_int_equal(chi_runtime_start(&cfg, &b), -EADDRINUSE);
	assert_null(b);
	/* the first still serves */
	chi_test_double_plus_task t;
	chi_test_double_plus_init(&t, CHI_POOL_TEST, 1, 1);
	assert_int_equal(chi_call(chi_runtime_client(a), &t.hdr, &chi_test_double_plus_codec), 3);
	chi_runtime_stop(a);
	/* once stopped, the name is free again */
	assert_int_equal(chi_runtime_start(&cfg, &b), 0);
	chi_runtime_stop(b);
}

static void test_stale_removed(void **state)
{
	(void)state;
	chi_config cfg;
	test_config(&cfg, 1, 1, 64);
	char name[CHI_SEG_NAME_MAX];
	assert_int_equal(chi_shm_name(name, sizeof(name), cfg.name, "main", -1), 0);
	/* a segment owned by a process that has exited */
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	chi_seg s;
	assert_int_equal(chi_seg_create(&s, name, 1 << 20, 1, CHI_SEG_KIND_MAIN, 5, cfg.name), 0);
	chi_seg_hdr_of(&s)->owner_pid = pid;
	s.created = 0; /* leave it behind, as a crashed runtime would */
	chi_seg_close(&s);
	chi_runtime *rt;
	assert_int_equal(chi_runtime_start(&cfg, &rt), 0);
	chi_test_double_plus_task t;
	chi_test_double_plus_init(&t, CHI_POOL_TEST, 2, 0);
	assert_int_equal(chi_call(chi_runtime_client(rt), &t.hdr, &chi_test_double_plus_codec), 4);
	chi_runtime_stop(rt);
	assert_int_equal(chi_seg_open(&s, name), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_second_refused),
		cmocka_unit_test(test_stale_removed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
