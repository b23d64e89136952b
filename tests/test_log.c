/* tests/test_log.c: the log hook (include/chi/log.h). The default writes
 * "chi: <msg>\n" to stderr; a hook gets the message (no prefix, no newline)
 * and its level from real library paths: a refused configuration (error), a
 * pool of an unknown module (error), a stale segment removed at start
 * (warning), a second runtime of the same name (error); long messages arrive
 * whole; chi_set_log waits out the calls of the hook it replaces, while
 * threads log at once; NULL restores the default. */
#include "test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>

#include "chi/log.h"
#include "shm/shm.h"

#define CAP_MAX 16

struct capture {
	pthread_mutex_t lock;
	unsigned n;
	int level[CAP_MAX];
	char msg[CAP_MAX][1024];
};

static struct capture cap = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void capture_hook(int level, const char *msg, void *arg)
{
	struct capture *c = arg;
	pthread_mutex_lock(&c->lock);
	if (c->n < CAP_MAX) {
		c->level[c->n] = level;
		snprintf(c->msg[c->n], sizeof(c->msg[c->n]), "%s", msg);
		c->n++;
	}
	pthread_mutex_unlock(&c->lock);
}

/* The index of the first captured message that contains `s`, or -1. */
static int captured(const char *s)
{
	for (unsigned i = 0; i < cap.n; i++)
		if (strstr(cap.msg[i], s))
			return (int)i;
	return -1;
}

static int setup(void **state)
{
	(void)state;
	cap.n = 0;
	chi_set_log(capture_hook, &cap);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	chi_set_log(NULL, NULL);
	return 0;
}

/* What the default writes to stderr while fn runs. */
static void stderr_of(void (*fn)(void), char *out, size_t cap_len)
{
	char path[] = "/tmp/chi_test_log_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	fflush(stderr);
	int saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	fn();
	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	ssize_t n = pread(fd, out, cap_len - 1, 0);
	assert_true(n >= 0);
	out[n] = 0;
	close(fd);
}

static void log_two(void)
{
	chi_log(CHI_LOG_INFO, "hello %d", 42);
	chi_log(CHI_LOG_ERROR, "%s: %s", "second", "line");
}

static void test_default_stderr(void **state)
{
	(void)state;
	char out[256];
	stderr_of(log_two, out, sizeof(out));
	assert_string_equal(out, "chi: hello 42\nchi: second: line\n");
}

static void test_hook_direct(void **state)
{
	(void)state;
	chi_log(CHI_LOG_WARN, "w %u", 7u);
	assert_int_equal(cap.n, 1);
	assert_int_equal(cap.level[0], CHI_LOG_WARN);
	assert_string_equal(cap.msg[0], "w 7");
	/* longer than chi_log's stack buffer: arrives whole */
	char big[900];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	chi_log(CHI_LOG_INFO, "<%s>", big);
	assert_int_equal(cap.n, 2);
	assert_int_equal(cap.level[1], CHI_LOG_INFO);
	assert_int_equal(strlen(cap.msg[1]), sizeof(big) + 1);
	assert_int_equal(cap.msg[1][0], '<');
	assert_int_equal(cap.msg[1][sizeof(big)], '>');
}

/* chi_runtime_start refuses an invalid configuration and says why */
static void test_hook_bad_config(void **state)
{
	(void)state;
	chi_config cfg;
	test_config(&cfg, 1, 1, 64);
	cfg.queue_depth = 100; /* not a power of two */
	chi_runtime *rt = NULL;
	assert_int_equal(chi_runtime_start(&cfg, &rt), -EINVAL);
	assert_null(rt);
	assert_int_equal(cap.n, 1);
	assert_int_equal(cap.level[0], CHI_LOG_ERROR);
	assert_non_null(strstr(cap.msg[0], "runtime.queue_depth"));
	assert_int_not_equal(strncmp(cap.msg[0], "chi: ", 5), 0); /* no prefix */
	assert_null(strchr(cap.msg[0], '\n'));
}

/* a pool of a module nobody registered: the start fails after the segment
 * and workers exist, and undoes them */
static void test_hook_unknown_module(void **state)
{
	(void)state;
	chi_config cfg;
	test_config(&cfg, 1, 1, 64);
	chi_pool_conf *p = &cfg.pools[cfg.npools++];
	memset(p, 0, sizeof(*p));
	strcpy(p->name, "lost");
	strcpy(p->module, "nosuchmodule");
	p->id = 9;
	chi_runtime *rt = NULL;
	assert_int_equal(chi_runtime_start(&cfg, &rt), -ENOENT);
	int i = captured("pool 'lost': no module named 'nosuchmodule'");
	assert_true(i >= 0);
	assert_int_equal(cap.level[i], CHI_LOG_ERROR);
}

/* a stale main segment (its owner gone) is removed at start, with a warning;
 * a second start of the same name is refused, with an error */
static void test_hook_stale_and_second(void **state)
{
	(void)state;
	chi_config cfg;
	test_config(&cfg, 1, 1, 64);
	char name[CHI_SEG_NAME_MAX];
	assert_int_equal(chi_shm_name(name, sizeof(name), cfg.name, "main", -1), 0);
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	chi_seg s;
	assert_int_equal(chi_seg_create(&s, name, 1 << 20, 1, CHI_SEG_KIND_MAIN, 5, cfg.name), 0);
	chi_seg_hdr_of(&s)->owner_pid = pid;
	s.created = 0; /* left behind, as by a crashed runtime */
	chi_seg_close(&s);
	chi_runtime *rt = NULL, *rt2 = NULL;
	assert_int_equal(chi_runtime_start(&cfg, &rt), 0);
	char want[CHI_SEG_NAME_MAX + 64];
	snprintf(want, sizeof(want), "removing stale segment %s of a dead runtime", name);
	int i = captured(want);
	assert_true(i >= 0);
	assert_int_equal(cap.level[i], CHI_LOG_WARN);
	assert_string_equal(cap.msg[i], want);

	assert_int_equal(chi_runtime_start(&cfg, &rt2), -EADDRINUSE);
	snprintf(want, sizeof(want), "a runtime named '%s' is already running (pid %d)", cfg.name,
		 (int)getpid());
	i = captured(want);
	assert_true(i >= 0);
	assert_int_equal(cap.level[i], CHI_LOG_ERROR);
	chi_runtime_stop(rt);
}

/* threads log at once while the hook is swapped back and forth: every
 * message reaches exactly one hook, and once chi_set_log returns the hook it
 * replaced is not running */
#define NTHR 4
#define PER_THR 2000

struct counting {
	uint64_t calls;
	uint32_t inside;
};
static struct counting ca, cb;
static int go, finished;

static void counting_hook(int level, const char *msg, void *arg)
{
	struct counting *c = arg;
	(void)level;
	(void)msg;
	__atomic_fetch_add(&c->inside, 1, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&c->calls, 1, __ATOMIC_RELAXED);
	for (volatile int i = 0; i < 2000; i++) /* a call long enough to be swapped under */
		;
	__atomic_fetch_sub(&c->inside, 1, __ATOMIC_SEQ_CST);
}

static void *logger(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
		;
	for (int i = 0; i < PER_THR; i++)
		chi_log(CHI_LOG_INFO, "t %d", i);
	__atomic_fetch_add(&finished, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void test_hook_threads(void **state)
{
	(void)state;
	memset(&ca, 0, sizeof(ca));
	memset(&cb, 0, sizeof(cb));
	chi_set_log(counting_hook, &ca);
	pthread_t th[NTHR];
	for (int i = 0; i < NTHR; i++)
		assert_int_equal(pthread_create(&th[i], NULL, logger, NULL), 0);
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	/* swap for as long as they log */
	for (int k = 0; k < 200 || __atomic_load_n(&finished, __ATOMIC_ACQUIRE) < NTHR; k++) {
		struct counting *now = k & 1 ? &ca : &cb, *old = k & 1 ? &cb : &ca;
		chi_set_log(counting_hook, now);
		assert_int_equal(__atomic_load_n(&old->inside, __ATOMIC_SEQ_CST), 0);
	}
	for (int i = 0; i < NTHR; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(ca.calls + cb.calls, (uint64_t)NTHR * PER_THR);
}

/* after chi_set_log(NULL, NULL) a library message goes to stderr again,
 * as it did before any hook */
static void bad_start(void)
{
	chi_config cfg;
	test_config(&cfg, 1, 1, 64);
	cfg.queue_depth = 100;
	chi_runtime *rt = NULL;
	assert_int_equal(chi_runtime_start(&cfg, &rt), -EINVAL);
}

static void test_default_restored(void **state)
{
	(void)state;
	chi_set_log(capture_hook, &cap);
	chi_set_log(NULL, NULL);
	unsigned before = cap.n;
	char out[512];
	stderr_of(bad_start, out, sizeof(out));
	assert_int_equal(cap.n, before);
	assert_int_equal(strncmp(out, "chi: invalid 'runtime.queue_depth'", 34), 0);
	assert_int_equal(out[strlen(out) - 1], '\n');
	assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1); /* one line */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_stderr),
		cmocka_unit_test_setup_teardown(test_hook_direct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hook_bad_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hook_unknown_module, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hook_stale_and_second, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hook_threads, NULL, teardown),
		cmocka_unit_test(test_default_restored),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
