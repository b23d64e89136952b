/* tests/fault_config_value.c: bad values, in a YAML file or in the
 * environment, are rejected with -EINVAL and a message naming the value, the
 * key and its line (or the variable); the configuration is left as it was. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chi/config.h"
#include "test_util.h"

extern char **environ;

struct bad {
	const char *section; /* the YAML is "<section>:\n  <key>: <value>\n" at line `line` */
	const char *key;
	const char *value;
};

/* Put the bad key after a few good lines so the line number is not trivial. */
static void expect_rejected(const struct bad *b)
{
	chi_config c, before;
	char yaml[512], err[512], where[64], key[96], shown[96];
	int rc;
	snprintf(yaml, sizeof(yaml),
		 "# chi\nruntime:\n  num_workers: 2\n\n%s:\n  %s: %s\n", b->section, b->key, b->value);
	if (!strcmp(b->section, "runtime")) /* sections may not repeat */
		snprintf(yaml, sizeof(yaml), "# chi\nmemory:\n  max_task_size: 2M\n\n%s:\n  %s: %s\n",
			 b->section, b->key, b->value);
	snprintf(where, sizeof(where), "config.yaml:6:");
	snprintf(key, sizeof(key), "'%s.%s'", b->section, b->key);
	chi_config_defaults(&before);
	chi_config_defaults(&c);
	err[0] = 0;
	rc = chi_config_parse(&c, yaml, strlen(yaml), "config.yaml", err, sizeof(err));
	if (rc != -EINVAL)
		fail_msg("rc %d for:\n%s", rc, yaml);
	if (!strstr(err, where) || !strstr(err, key))
		fail_msg("message \"%s\" lacks \"%s\" or %s", err, where, key);
	/* scalar values are quoted back; quotes in the YAML are not part of them */
	if (b->value[0] != '[' && b->value[0] != '{' && b->value[0] != '"') {
		snprintf(shown, sizeof(shown), "'%s'", b->value);
		if (!strstr(err, shown))
			fail_msg("message \"%s\" lacks the value %s", err, shown);
	}
	assert_memory_equal(&c, &before, sizeof(c));
}

static void run(const struct bad *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
		expect_rejected(&cases[i]);
}

static void test_runtime_values(void **state)
{
	static const struct bad cases[] = {
		{ "runtime", "num_workers", "abc" },
		{ "runtime", "num_workers", "four" },
		{ "runtime", "num_workers", "-4" },
		{ "runtime", "num_workers", "0" },
		{ "runtime", "num_workers", "257" },
		{ "runtime", "num_workers", "4.5" },
		{ "runtime", "num_workers", "0x10" },
		{ "runtime", "num_workers", "99999999999999999999" },
		{ "runtime", "num_workers", "[1, 2]" },
		{ "runtime", "num_workers", "{a: 1}" },
		{ "runtime", "num_workers", "\"\"" },
		{ "runtime", "num_workers", "4K" },      /* a count, not a size */
		{ "runtime", "queue_depth", "1000" },    /* not a power of two */
		{ "runtime", "queue_depth", "1" },
		{ "runtime", "queue_depth", "0" },
		{ "runtime", "queue_depth", "33554432" }, /* 2^25 */
		{ "runtime", "lanes", "-1" },
		{ "runtime", "lanes", "1025" },
		{ "runtime", "first_busy_wait_us", "18446744073709551616" },
		{ "runtime", "max_sleep_us", "soon" },
		{ "runtime", "bulk_every", "0" },
		{ "runtime", "bulk_every", "4294967296" },
		{ "runtime", "hole_timeout_ms", "-100" },
		{ "runtime", "name", "a/b" },
		{ "runtime", "name", "a.b" },
		{ "runtime", "name", "has space" },
		{ "runtime", "name", "\"\"" },
		{ "runtime", "name", "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuv" }, /* 48 */
	};
	(void)state;
	run(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_memory_values(void **state)
{
	static const struct bad cases[] = {
		{ "memory", "main_segment_size", "12Q" },
		{ "memory", "main_segment_size", "12 M" },
		{ "memory", "main_segment_size", "-1M" },
		{ "memory", "main_segment_size", "1.5G" },
		{ "memory", "main_segment_size", "17179869184G" }, /* 2^64: overflow */
		{ "memory", "main_segment_size", "4095" },         /* below 4096, not 0 (auto) */
		{ "memory", "main_segment_size", "automatic" },
		{ "memory", "main_segment_size", "1MB" },
		{ "memory", "max_task_size", "2G" },   /* over 1 GiB */
		{ "memory", "max_task_size", "1048577K" },
		{ "memory", "max_task_size", "0" },
	};
	(void)state;
	run(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_gpu_values(void **state)
{
	static const struct bad cases[] = {
		{ "gpu", "max_sleep_us", "-5" },
		{ "gpu", "workers", "sometimes" },
		{ "gpu", "workers", "Dedicated" },
		{ "gpu", "workers", "1" },
		{ "gpu", "enabled", "perhaps" },
		{ "gpu", "enabled", "2" },
		{ "gpu", "numa", "-1" },
		{ "gpu", "numa", "-3" },
		{ "gpu", "numa", "4096" },
		{ "gpu", "numa", "near" },
		{ "gpu", "queue_depth", "100" },
		{ "gpu", "queue_depth", "1" },
		{ "gpu", "lanes", "0" },
		{ "gpu", "lanes", "x" },
		{ "gpu", "segment_size", "64X" },
	};
	(void)state;
	run(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_env_values(void **state)
{
	static const struct { const char *var, *value, *key; } cases[] = {
		{ "CHI_RUNTIME_NUM_WORKERS", "x", "runtime.num_workers" },
		{ "CHI_RUNTIME_NUM_WORKERS", "", "runtime.num_workers" },
		{ "CHI_RUNTIME_NUM_WORKERS", " 4", "runtime.num_workers" },
		{ "CHI_RUNTIME_QUEUE_DEPTH", "1000", "runtime.queue_depth" },
		{ "CHI_RUNTIME_NAME", "../etc", "runtime.name" },
		{ "CHI_MEMORY_MAX_TASK_SIZE", "12Q", "memory.max_task_size" },
		{ "CHI_GPU_SEGMENT_SIZE", "-64M", "gpu.segment_size" },
		{ "CHI_GPU_WORKERS", "sometimes", "gpu.workers" },
		{ "CHI_GPU_NUMA", "everywhere", "gpu.numa" },
		{ "CHI_GPU_ENABLED", "maybe", "gpu.enabled" },
	};
	chi_config c, before;
	char err[512], shown[96];
	(void)state;
	chi_config_defaults(&before);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		chi_config_defaults(&c);
		setenv(cases[i].var, cases[i].value, 1);
		assert_int_equal(chi_config_apply_env(&c, err, sizeof(err)), -EINVAL);
		snprintf(shown, sizeof(shown), "'%s'", cases[i].value);
		if (strncmp(err, cases[i].var, strlen(cases[i].var)) || !strstr(err, cases[i].key) ||
		    !strstr(err, shown))
			fail_msg("message \"%s\" lacks %s, %s or %s", err, cases[i].var, cases[i].key, shown);
		assert_memory_equal(&c, &before, sizeof(c));
		assert_int_equal(chi_config_load(&c, NULL, err, sizeof(err)), -EINVAL);
		assert_true(strstr(err, cases[i].var) != NULL);
		unsetenv(cases[i].var);
	}
}

/* A long or binary value is cut and sanitised in the message. */
static void test_message_is_bounded(void **state)
{
	char yaml[4096], err[512];
	chi_config c;
	(void)state;
	strcpy(yaml, "runtime:\n  num_workers: \"\\x01\\t\\n");
	size_t n = strlen(yaml);
	memset(yaml + n, '7', 3000);
	strcpy(yaml + n + 3000, "\"\n");
	chi_config_defaults(&c);
	assert_int_equal(chi_config_parse(&c, yaml, strlen(yaml), "config.yaml", err, sizeof(err)), -EINVAL);
	assert_true(strlen(err) < 200);
	assert_non_null(strstr(err, "config.yaml:2:"));
	assert_non_null(strstr(err, "runtime.num_workers"));
	for (const char *p = err; *p; p++)
		assert_true(*p >= 0x20 && *p < 0x7f);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runtime_values),
		cmocka_unit_test(test_memory_values),
		cmocka_unit_test(test_gpu_values),
		cmocka_unit_test(test_env_values),
		cmocka_unit_test(test_message_is_bounded),
	};
	clear_chi_env();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
