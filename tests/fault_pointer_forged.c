/* tests/fault_pointer_forged.c: failure row "a client forges a pointer
 * future" (docs/reliability.md). A block of a client's memory that carries
 * CHI_FUTURE_POINTER in its flags must never make a worker dereference its
 * task_ptr: pointer futures are the runtime's own, and the worker runs one
 * only when its tag (src/runtime/run_task.c, PT1-PT3) matches.
 *   in process: task_ptr is the address of a real double_plus task in this
 *     process, so a worker that trusted it would run it (result 2a+b, and
 *     the task's result field written); it must complete with -EBADMSG and
 *     leave the task untouched;
 *   other process: task_ptr is garbage (a worker that followed it killed the
 *     daemon with SIGSEGV, and the wait saw -EOWNERDEAD); it must complete
 *     with -EBADMSG and the runtime must keep serving;
 *   the runtime's own pointer futures (test.sub_double_plus) still run; a
 *   block with the right tag runs once, and its tag on another block (a
 *   replayed copy) is refused. */
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
#include "runtime/runtime.h"
#include "task/future_ops.h"

extern char **environ;
static char self_path[4096];

/* Publish a block that claims to be a pointer future for task_ptr, with
 * `tag` in its first copy-space word, and wait for it. */
static int64_t forge(chi_client *c, uint64_t task_ptr, uint64_t tag)
{
	uint64_t off = chi_client_alloc(c, CHI_FUTURE_BLOCK);
	assert_true(off != 0);
	chi_future_shm *fs = (chi_future_shm *)((char *)c->base + off);
	chi_future_block_init(fs, CHI_FUTURE_POINTER, 0, CHI_OFFPTR_NULL, 0, task_ptr, c->id, 0);
	memcpy(fs->copy_space, &tag, sizeof(tag));
	assert_int_equal(chi_client_publish(c, 0, 0, off, 0), 0);
	uint64_t t0 = chi_now_ns();
	while (!(chi_future_flags(fs) & CHI_FUTURE_COMPLETE)) {
		if (chi_now_ns() - t0 > 5000000000ull || chi_client_check_runtime(c))
			return -EOWNERDEAD; /* never completed: the worker died on it */
		struct timespec ts = {0, 100 * 1000};
		nanosleep(&ts, NULL);
	}
	int64_t r = fs->result;
	chi_client_free(c, off, CHI_FUTURE_BLOCK);
	return r;
}

static void check_served(chi_client *c)
{
	chi_test_double_plus_task t;
	chi_future f;
	chi_test_double_plus_init(&t, CHI_POOL_TEST, 21, 3);
	assert_int_equal(chi_make_copy_future(c, &t.hdr, &chi_test_double_plus_codec, &f), 0);
	assert_int_equal(chi_future_wait_timeout(&f, 5000000000ull), 45);
	assert_int_equal(t.result, 45);
}

static void test_forged_in_process(void **state)
{
	(void)state;
	chi_runtime *rt = test_start(1, 1, 64);
	chi_client *c = chi_runtime_client(rt);
	chi_test_double_plus_task t;
	chi_test_double_plus_init(&t, CHI_POOL_TEST, 100, 7);
	t.result = 12345;
	assert_int_equal(forge(c, (uint64_t)(uintptr_t)&t.hdr, 0), -EBADMSG);
	assert_int_equal(t.result, 12345); /* never run */
	assert_int_equal(forge(c, (uint64_t)(uintptr_t)&t.hdr, 0x0123456789abcdefull), -EBADMSG);
	assert_int_equal(t.result, 12345);
	check_served(c);
	chi_runtime_stop(rt);
}

/* White-box: the tag decides. A block with the tag the runtime would have
 * written for it runs (the positive control); the same tag on another block
 * (a replayed copy) is refused; a block runs at most once (PT3). */
static void test_tag_bound_to_block(void **state)
{
	(void)state;
	chi_runtime *rt = test_start(1, 1, 64);
	chi_client *c = chi_runtime_client(rt);
	chi_test_double_plus_task t;
	chi_test_double_plus_init(&t, CHI_POOL_TEST, 100, 7);
	uint64_t ptr = (uint64_t)(uintptr_t)&t.hdr;
	uint64_t a = chi_client_alloc(c, CHI_FUTURE_BLOCK), b = chi_client_alloc(c, CHI_FUTURE_BLOCK);
	assert_true(a && b && a != b);
	chi_future_shm *fa = (chi_future_shm *)((char *)c->base + a);
	chi_future_shm *fb = (chi_future_shm *)((char *)c->base + b);
	uint64_t tag_a = chi_pointer_tag(rt, ptr, a);
	/* replayed: a's tag on block b */
	chi_future_block_init(fb, CHI_FUTURE_POINTER, 0, CHI_OFFPTR_NULL, 0, ptr, c->id, 0);
	memcpy(fb->copy_space, &tag_a, 8);
	assert_int_equal(chi_client_publish(c, 0, 0, b, 0), 0);
	/* genuine: a's tag on block a */
	chi_future_block_init(fa, CHI_FUTURE_POINTER, 0, CHI_OFFPTR_NULL, 0, ptr, c->id, 0);
	memcpy(fa->copy_space, &tag_a, 8);
	assert_int_equal(chi_client_publish(c, 0, 0, a, 0), 0);
	while (!(chi_future_flags(fa) & CHI_FUTURE_COMPLETE) ||
	       !(chi_future_flags(fb) & CHI_FUTURE_COMPLETE))
		chi_cpu_relax();
	assert_int_equal(fb->result, -EBADMSG);
	assert_int_equal(fa->result, 207);
	assert_int_equal(t.result, 207);
	/* a published again (flags reset, tag word as the worker left it) */
	t.result = 0;
	chi_future_block_init(fa, CHI_FUTURE_POINTER, 0, CHI_OFFPTR_NULL, 0, ptr, c->id, 0);
	assert_int_equal(chi_client_publish(c, 0, 0, a, 0), 0);
	while (!(chi_future_flags(fa) & CHI_FUTURE_COMPLETE))
		chi_cpu_relax();
	assert_int_equal(fa->result, -EBADMSG);
	assert_int_equal(t.result, 0);
	chi_client_free(c, a, CHI_FUTURE_BLOCK);
	chi_client_free(c, b, CHI_FUTURE_BLOCK);
	chi_runtime_stop(rt);
}

/* The runtime's own pointer futures still work, nested inside a method. */
static void test_own_pointer_futures_run(void **state)
{
	(void)state;
	chi_runtime *rt = test_start(1, 1, 64);
	chi_client *c = chi_runtime_client(rt);
	for (uint64_t i = 0; i < 200; i++) {
		chi_test_double_plus_task t;
		chi_future f;
		chi_test_double_plus_init(&t, CHI_POOL_TEST, i, 1);
		t.hdr.method = CHI_TEST_SUB_DOUBLE_PLUS;
		assert_int_equal(chi_make_copy_future(c, &t.hdr, &chi_test_double_plus_codec, &f), 0);
		assert_int_equal(chi_future_wait_timeout(&f, 5000000000ull), (int64_t)(2 * i + 1));
		assert_int_equal(t.result, 2 * i + 1);
	}
	chi_runtime_stop(rt);
}

static int runtime_child(const char *name)
{
	return test_runtime_child(name, 64, 0);
}

static void test_forged_other_process(void **state)
{
	(void)state;
#if defined(CHI_TSAN)
	skip(); /* TSan cannot see synchronization between processes */
#endif
	char name[32];
	snprintf(name, sizeof(name), "pf%d", (int)getpid());
	pid_t pid;
	char *argv[] = {self_path, (char *)"--runtime", name, NULL};
	assert_int_equal(posix_spawn(&pid, self_path, NULL, NULL, argv, environ), 0);
	chi_client *c = NULL;
	for (int i = 0; i < 500 && chi_client_connect(name, &c); i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	assert_non_null(c);
	assert_int_equal(forge(c, 0x10, 0), -EBADMSG);
	assert_int_equal(forge(c, 0xdead00000000ull, 42), -EBADMSG);
	check_served(c);
	kill(pid, SIGTERM);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st) && WTERMSIG(st) != SIGTERM)
		fail_msg("runtime died of signal %d", WTERMSIG(st));
	chi_client_close(c);
	chi_shm_cleanup(name, NULL, NULL);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--runtime"))
		return runtime_child(argv[2]);
	if (test_self_exe(self_path, sizeof(self_path)))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forged_in_process),
		cmocka_unit_test(test_tag_bound_to_block),
		cmocka_unit_test(test_own_pointer_futures_run),
		cmocka_unit_test(test_forged_other_process),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
