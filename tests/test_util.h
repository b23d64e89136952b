/* tests/test_util.h: helpers shared by the cmocka tests. */
#ifndef CHI_TESTS_UTIL_H
#define CHI_TESTS_UTIL_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "chi/chi.h"
#include "chi/config.h"

/* A config for tests: a unique runtime name, `workers` workers, `lanes`
 * lanes (0: one per worker), short busy-wait so idle workers sleep. */
static inline void test_config(chi_config *c, uint32_t workers, uint32_t lanes, uint32_t depth)
{
	static int seq;
	chi_config_defaults(c);
	snprintf(c->name, sizeof(c->name), "t%d_%d", (int)getpid(), seq++);
	c->num_workers = workers;
	c->lanes = lanes;
	c->queue_depth = depth;
	c->first_busy_wait_us = 2000;
	c->max_sleep_us = 20000;
	/* tests use the pools admin (0) and test (1) */
	c->npools = 2;
}

static inline chi_runtime *test_start(uint32_t workers, uint32_t lanes, uint32_t depth)
{
	chi_config c;
	chi_runtime *rt = NULL;
	test_config(&c, workers, lanes, depth);
	int rc = chi_runtime_start(&c, &rt);
	assert_int_equal(rc, 0);
	assert_non_null(rt);
	return rt;
}

/* This test binary's own path into p (for posix_spawn of a child role):
 * 0, or -1 when /proc/self/exe cannot be read. */
/* The body of a test's runtime child process (spawned with "--child NAME"):
 * a runtime of that name with `depth` slots per ring, serving until an
 * admin.stop (or forever when `forever`: the test kills it). 2 if the
 * start fails. */
static inline int test_runtime_child(const char *name, uint32_t depth, int forever)
{
	chi_config cfg;
	test_config(&cfg, 1, 1, depth);
	snprintf(cfg.name, sizeof(cfg.name), "%s", name);
	chi_runtime *rt;
	if (chi_runtime_start(&cfg, &rt))
		return 2;
	while (forever || !chi_runtime_stop_requested(rt)) {
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	chi_runtime_stop(rt);
	return 0;
}

static inline int test_self_exe(char *p, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", p, cap - 1);
	if (n <= 0)
		return -1;
	p[n] = 0;
	return 0;
}

/* chi_gpu_client_open, retried every 10 ms while -EBUSY (a slice being
 * released) for at most `ms`; returns the last result. */
static inline int test_gpu_open_within(chi_client *c, uint32_t gpu, chi_gpu_client **gc, int ms)
{
	int rc = chi_gpu_client_open(c, gpu, gc);
	for (int i = 0; i < ms / 10 && rc == -EBUSY; i++) {
		usleep(10 * 1000);
		rc = chi_gpu_client_open(c, gpu, gc);
	}
	return rc;
}

/* Remove every CHI_* variable, so the caller's environment cannot change
 * what a config test sees. */
extern char **environ;
static inline void clear_chi_env(void)
{
	char name[256];
	for (char **e = environ; *e;) {
		if (!strncmp(*e, "CHI_", 4)) {
			snprintf(name, sizeof(name), "%.*s", (int)strcspn(*e, "="), *e);
			unsetenv(name);
			e = environ; /* unsetenv may move the array */
		} else {
			e++;
		}
	}
}

#endif
