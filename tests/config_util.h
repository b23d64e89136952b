/* tests/config_util.h: what test_config.c and test_config_cluster.c share:
 * parsing from a string, message checks, temporary files, and the print ->
 * parse round trip. */
#ifndef CHI_TESTS_CONFIG_UTIL_H
#define CHI_TESTS_CONFIG_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chi/config.h"
#include "test_util.h"

static inline int parse(chi_config *c, const char *yaml, char *err, size_t errlen)
{
	chi_config_defaults(c);
	return chi_config_parse(c, yaml, strlen(yaml), "config.yaml", err, errlen);
}

static inline void assert_has(const char *msg, const char *part)
{
	if (!strstr(msg, part))
		fail_msg("message \"%s\" lacks \"%s\"", msg, part);
}

/* Write text to a fresh temporary file; returns its path (static buffer). */
static inline const char *temp_file(const char *text)
{
	static char path[64];
	strcpy(path, "/tmp/chi_test_config_XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static inline void round_trip(const chi_config *c)
{
	static char buf[64 * 1024], small[64 * 1024];
	char err[256];
	chi_config d;
	int n = chi_config_print(c, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	chi_config_defaults(&d);
	if (chi_config_parse(&d, buf, (size_t)n, "printed", err, sizeof(err)))
		fail_msg("%s\n--- printed:\n%s", err, buf);
	assert_memory_equal(c, &d, sizeof(d));
	/* exactly n + 1 bytes are needed: the terminating NUL counts */
	assert_int_equal(chi_config_print(c, small, (size_t)n), -ENOSPC);
	assert_int_equal(chi_config_print(c, small, (size_t)n + 1), n);
	assert_string_equal(small, buf);
	assert_int_equal(chi_config_print(c, NULL, 0), -ENOSPC);
}

#endif
