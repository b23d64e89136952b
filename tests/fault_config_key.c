/* tests/fault_config_key.c: unknown, misplaced and repeated keys and sections
 * are rejected with -EINVAL, a message naming the key and its line, and the
 * configuration left as it was. */
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
#include <unistd.h>

#include "chi/config.h"
#include "test_util.h"

extern char **environ;

struct bad {
	const char *yaml;
	const char *where; /* "config.yaml:LINE:" */
	const char *what;  /* the key, quoted as in the message */
};

/* Each case must fail with -EINVAL, name where and what, and change nothing. */
static void expect_all_rejected(const struct bad *cases, size_t n)
{
	chi_config c, before;
	char err[512];
	chi_config_defaults(&before);
	for (size_t i = 0; i < n; i++) {
		int rc;
		chi_config_defaults(&c);
		err[0] = 0;
		rc = chi_config_parse(&c, cases[i].yaml, strlen(cases[i].yaml), "config.yaml", err, sizeof(err));
		if (rc != -EINVAL)
			fail_msg("rc %d for:\n%s", rc, cases[i].yaml);
		if (!strstr(err, cases[i].where) || !strstr(err, cases[i].what))
			fail_msg("message \"%s\" lacks \"%s\" or \"%s\"", err, cases[i].where, cases[i].what);
		assert_memory_equal(&c, &before, sizeof(c));
	}
}

static void test_unknown_key(void **state)
{
	static const struct bad cases[] = {
		{ "runtime:\n  nme: x\n", "config.yaml:2:", "unknown key 'runtime.nme'" },
		{ "runtime:\n  name: ok\n  num_workers: 2\n\n  num_worker: 3\n", "config.yaml:5:",
		  "'runtime.num_worker'" },
		{ "memory:\n  max_task_size: 1M\n  main_segment: auto\n", "config.yaml:3:", "'memory.main_segment'" },
		{ "gpu:\n  enabled: auto\n  Lanes: 2\n", "config.yaml:3:", "'gpu.Lanes'" },
		/* a key of another section is unknown here */
		{ "memory:\n  num_workers: 4\n", "config.yaml:2:", "'memory.num_workers'" },
		{ "runtime:\n  segment_size: 4M\n", "config.yaml:2:", "'runtime.segment_size'" },
		/* a key that was removed (no code used it) is unknown like any other */
		{ "memory:\n  max_task_size: 1M\n  client_data_segment_size: 512M\n", "config.yaml:3:",
		  "unknown key 'memory.client_data_segment_size'" },
		/* flow style reports the same line numbers */
		{ "# comment\n\nruntime: {name: a, nme: b}\n", "config.yaml:3:", "'runtime.nme'" },
		/* a pool's keys */
		{ "pools:\n  - name: a\n    module: m\n    id: 1\n    pth: /x\n", "config.yaml:5:", "'pools[0].pth'" },
		{ "pools:\n  - {name: a, module: m, id: 1}\n  - {name: b, module: m, id: 2, mod: x}\n",
		  "config.yaml:3:", "'pools[1].mod'" },
		/* a key that is not text */
		{ "runtime:\n  [a, b]: c\n", "config.yaml:2:", "runtime" },
		/* the cluster section, its peers and a pool's node */
		{ "cluster:\n  node: 0\n  nod: 1\n", "config.yaml:3:", "unknown key 'cluster.nod'" },
		{ "cluster:\n  peer: []\n", "config.yaml:2:", "unknown key 'cluster.peer'" },
		{ "runtime:\n  peers: []\n", "config.yaml:2:", "unknown key 'runtime.peers'" },
		{ "cluster:\n  peers:\n    - {node: 0, host: h, port: 1, hots: x}\n", "config.yaml:3:",
		  "unknown key 'cluster.peers[0].hots'" },
		{ "cluster:\n  peers:\n    - {node: 0, host: h, port: 1}\n    - node: 1\n      host: h\n"
		  "      prot: 2\n", "config.yaml:6:", "'cluster.peers[1].prot'" },
		{ "pools:\n  - {name: a, module: m, id: 1, nodes: 1}\n", "config.yaml:2:", "'pools[0].nodes'" },
	};
	(void)state;
	expect_all_rejected(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_unknown_section(void **state)
{
	static const struct bad cases[] = {
		{ "runtime:\n  name: x\nruntim:\n  name: y\n", "config.yaml:3:", "unknown section 'runtim'" },
		{ "network:\n  port: 80\n", "config.yaml:1:", "'network'" },
		{ "name: x\n", "config.yaml:1:", "'name'" },
		{ "gpu: {}\nPools: []\n", "config.yaml:2:", "'Pools'" },
		{ "runtime.name: x\n", "config.yaml:1:", "'runtime.name'" },
		{ "{[x]: 1}\n", "config.yaml:1:", "section" },
	};
	(void)state;
	expect_all_rejected(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_duplicates_and_shape(void **state)
{
	static const struct bad cases[] = {
		{ "runtime:\n  lanes: 1\n  lanes: 2\n", "config.yaml:3:", "duplicate key 'runtime.lanes'" },
		{ "runtime: {}\ngpu: {}\nruntime: {}\n", "config.yaml:3:", "duplicate section 'runtime'" },
		{ "pools: []\npools: []\n", "config.yaml:2:", "'pools'" },
		{ "pools:\n  - {name: a, name: b, module: m, id: 1}\n", "config.yaml:2:", "'pools[0].name'" },
		{ "runtime: 4\n", "config.yaml:1:", "'runtime'" },
		{ "\n\nmemory:\n  - a\n", "config.yaml:4:", "'memory'" },
		{ "- runtime\n", "config.yaml:1:", "mapping" },
		{ "just text\n", "config.yaml:1:", "mapping" },
		{ "runtime: {}\n---\ngpu: {}\n", "config.yaml:3:", "one YAML document" },
		{ "cluster:\n  port: 1\n  port: 2\n", "config.yaml:3:", "duplicate key 'cluster.port'" },
		{ "cluster: {peers: [], peers: []}\n", "config.yaml:1:", "duplicate key 'cluster.peers'" },
		{ "cluster: []\n", "config.yaml:1:", "section 'cluster' must be a mapping" },
		{ "cluster:\n  peers: {node: 0, host: h, port: 1}\n", "config.yaml:2:",
		  "'cluster.peers' must be a sequence" },
		{ "cluster:\n  peers:\n    - 0 127.0.0.1 7000\n", "config.yaml:3:",
		  "'cluster.peers[0]' must be a mapping" },
		{ "cluster:\n  peers:\n    - {node: 0, host: h, port: 1, node: 2}\n", "config.yaml:3:",
		  "duplicate key 'cluster.peers[0].node'" },
		/* a peer's node, host and port are all required */
		{ "cluster:\n  peers:\n    - {host: h, port: 1}\n", "config.yaml:3:",
		  "missing key 'cluster.peers[0].node'" },
		{ "cluster:\n  peers:\n    - {node: 0, host: h, port: 1}\n    - {node: 1, port: 1}\n",
		  "config.yaml:4:", "missing key 'cluster.peers[1].host'" },
		{ "cluster:\n  peers:\n    - node: 0\n      host: h\n", "config.yaml:3:",
		  "missing key 'cluster.peers[0].port'" },
		{ "cluster:\n  peers:\n    - {node: 0, host: [a], port: 1}\n", "config.yaml:3:",
		  "'cluster.peers[0].host'" },
	};
	(void)state;
	expect_all_rejected(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_syntax_error_names_line(void **state)
{
	static const struct bad cases[] = {
		{ "runtime:\n  name: a\n b: c\n", "config.yaml:3:", "YAML syntax error" },
		{ "runtime:\n  name: \"open\n", "config.yaml:", "YAML syntax error" },
		{ "runtime:\n  name: x\n\tlanes: 2\n", "config.yaml:3:", "YAML syntax error" },
		{ "runtime: {name: a\n", "config.yaml:", "YAML syntax error" },
		{ "runtime:\n  name: *nope\n", "config.yaml:2:", "alias" },
		{ "runtime:\n  name: x\n  lanes: \xff\n", "config.yaml:3:", "YAML syntax error" },
	};
	(void)state;
	expect_all_rejected(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_file_origin(void **state)
{
	char path[] = "/tmp/chi_fault_key_XXXXXX", want[64], err[512];
	const char text[] = "runtime:\n  num_workers: 2\ngpu:\n  numaa: 0\n";
	chi_config c;
	int fd = mkstemp(path);
	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	assert_int_equal(chi_config_load(&c, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:4: unknown key 'gpu.numaa'", path);
	assert_string_equal(err, want);
	unlink(path);
}

/* memory.client_data_segment_size was a key that no code used: a file that
 * still has it fails to load with the usual message, and nothing changes */
static void test_removed_key(void **state)
{
	char path[] = "/tmp/chi_fault_key_XXXXXX", want[128], err[512];
	const char text[] = "memory:\n  client_data_segment_size: 512M\n";
	chi_config c, before;
	int fd = mkstemp(path);
	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	chi_config_defaults(&c);
	before = c;
	assert_int_equal(chi_config_load(&c, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: unknown key 'memory.client_data_segment_size'", path);
	assert_string_equal(err, want);
	assert_memory_equal(&c, &before, sizeof(c));
	unlink(path);
}

static void test_unknown_env_variable(void **state)
{
	chi_config c, before;
	char err[512];
	(void)state;
	chi_config_defaults(&c);
	before = c;
	static const struct { const char *var, *key; } cases[] = {
		{ "CHI_RUNTIME_NME", "runtime.nme" },
		{ "CHI_MEMORY_SEGMENT_SIZE", "memory.segment_size" },
		{ "CHI_GPU_NUM_WORKERS", "gpu.num_workers" },
		{ "CHI_MEMORY_CLIENT_DATA_SEGMENT_SIZE", "memory.client_data_segment_size" }, /* removed */
		{ "CHI_GPU_", "gpu." },
		{ "CHI_RUNTIME_name", "runtime.name" }, /* lower case is not the key's variable */
		{ "CHI_CLUSTER_NODES", "cluster.nodes" },
		{ "CHI_CLUSTER_HEARTBEAT", "cluster.heartbeat" },
		/* a list has no variable: the message names the file that holds one */
		{ "CHI_CLUSTER_PEERS", "CHI_CLUSTER_HOSTS_FILE" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setenv(cases[i].var, "1", 1);
		assert_int_equal(chi_config_apply_env(&c, err, sizeof(err)), -EINVAL);
		if (!strstr(err, cases[i].var) || !strstr(err, cases[i].key))
			fail_msg("message \"%s\" lacks %s or %s", err, cases[i].var, cases[i].key);
		assert_int_equal(chi_config_load(&c, NULL, err, sizeof(err)), -EINVAL);
		unsetenv(cases[i].var);
		chi_config_defaults(&c);
	}
	/* other CHI_ variables are not overrides */
	setenv("CHI_REQUIRE_GPU", "1", 1);
	setenv("CHI_SERVER_CONF", "", 1);
	setenv("CHI_RUNTIMEX", "1", 1);
	assert_int_equal(chi_config_apply_env(&c, err, sizeof(err)), 0);
	assert_memory_equal(&c, &before, sizeof(c));
	unsetenv("CHI_REQUIRE_GPU");
	unsetenv("CHI_SERVER_CONF");
	unsetenv("CHI_RUNTIMEX");
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_unknown_section),
		cmocka_unit_test(test_duplicates_and_shape),
		cmocka_unit_test(test_syntax_error_names_line),
		cmocka_unit_test(test_file_origin),
		cmocka_unit_test(test_removed_key),
		cmocka_unit_test(test_unknown_env_variable),
	};
	clear_chi_env();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
