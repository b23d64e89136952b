/* tests/fault_config_value.c: bad values, in a YAML file or in the
 * environment, are rejected with -EINVAL and a message naming the value, the
 * key and its line (or the variable); the configuration is left as it was.
 * Also the cluster section: bad peers entries, a node listed twice, ports
 * out of range, a pool's bad node, the lines of cluster.hosts_file, and the
 * rules across keys that loading checks (a cluster without its key file, a
 * pool on a node that is not a peer), each named with its file and line. */
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

static void test_cluster_values(void **state)
{
	static const struct bad cases[] = {
		{ "cluster", "node", "64" },
		{ "cluster", "node", "-2" },
		{ "cluster", "node", "1.0" },
		{ "cluster", "node", "any" },
		{ "cluster", "port", "65536" },
		{ "cluster", "port", "-1" },
		{ "cluster", "port", "http" },
		{ "cluster", "heartbeat_ms", "0" },
		{ "cluster", "heartbeat_ms", "60001" },
		{ "cluster", "peer_timeout_ms", "1" },
		{ "cluster", "peer_timeout_ms", "600001" },
		{ "cluster", "task_timeout_ms", "0" },
		{ "cluster", "task_timeout_ms", "86400001" },
		{ "cluster", "retry_ms", "0" },
		{ "cluster", "listen", "a b" },
		{ "cluster", "listen", "host/x" },
		{ "cluster", "listen", /* 64 bytes (quoted: a message shows the first 60) */
		  "\"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl\"" },
		{ "cluster", "listen", "[a]" },
		{ "cluster", "key_file", "\"/tmp/a\\tb\"" },
		{ "cluster", "hosts_file", "\"/tmp/\\x01\"" },
	};
	(void)state;
	run(cases, sizeof(cases) / sizeof(cases[0]));
}

struct bad_yaml {
	const char *yaml, *where, *what, *value; /* value NULL: not checked */
};

static void expect_yaml_rejected(const struct bad_yaml *b, size_t n)
{
	chi_config c, before;
	char err[512], shown[96];
	chi_config_defaults(&before);
	for (size_t i = 0; i < n; i++) {
		chi_config_defaults(&c);
		err[0] = 0;
		if (chi_config_parse(&c, b[i].yaml, strlen(b[i].yaml), "config.yaml", err, sizeof(err)) !=
		    -EINVAL)
			fail_msg("accepted:\n%s", b[i].yaml);
		snprintf(shown, sizeof(shown), "'%s'", b[i].value ? b[i].value : "");
		if (!strstr(err, b[i].where) || !strstr(err, b[i].what) || (b[i].value && !strstr(err, shown)))
			fail_msg("message \"%s\" lacks \"%s\", \"%s\" or %s", err, b[i].where, b[i].what,
				 shown);
		assert_memory_equal(&c, &before, sizeof(c));
	}
}

#define PEERS "# chi\ncluster:\n  node: 0\n  peers:\n    - {node: 0, host: 127.0.0.1, port: 7000}\n"

static void test_peer_and_pool_node_values(void **state)
{
	static const struct bad_yaml cases[] = {
		/* a bad entry of cluster.peers: the key, its line, the value */
		{ PEERS "    - {node: 1, host: 127.0.0.1, port: 0}\n", "config.yaml:6:",
		  "'cluster.peers[1].port'", "0" },
		{ PEERS "    - {node: 1, host: 127.0.0.1, port: 65536}\n", "config.yaml:6:",
		  "'cluster.peers[1].port'", "65536" },
		{ PEERS "    - node: 1\n      host: h\n      port: -7\n", "config.yaml:8:",
		  "'cluster.peers[1].port'", "-7" },
		{ PEERS "    - {node: 64, host: 127.0.0.1, port: 7001}\n", "config.yaml:6:",
		  "'cluster.peers[1].node'", "64" },
		{ PEERS "    - {node: -1, host: 127.0.0.1, port: 7001}\n", "config.yaml:6:",
		  "'cluster.peers[1].node'", "-1" },
		{ PEERS "    - {node: 1, host: '', port: 7001}\n", "config.yaml:6:",
		  "'cluster.peers[1].host'", "" },
		{ PEERS "    - {node: 1, host: a b, port: 7001}\n", "config.yaml:6:",
		  "'cluster.peers[1].host'", "a b" },
		{ PEERS "    - {node: 1, host: "
		  "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl, port: 7001}\n",
		  "config.yaml:6:", "'cluster.peers[1].host'", NULL },
		/* a node listed twice */
		{ PEERS "    - {node: 1, host: 127.0.0.1, port: 7001}\n"
		  "    - {node: 0, host: 127.0.0.2, port: 7000}\n", "config.yaml:7:",
		  "'cluster.peers[2]' has the same node (0) as 'cluster.peers[0]'", NULL },
		/* a pool's node */
		{ "pools:\n  - {name: d, module: bdev, id: 3, node: 64}\n", "config.yaml:2:",
		  "'pools[0].node'", "64" },
		{ "pools:\n  - {name: d, module: bdev, id: 3, node: -2}\n", "config.yaml:2:",
		  "'pools[0].node'", "-2" },
		{ "pools:\n  - {name: d, module: bdev, id: 3}\n  - name: e\n    module: bdev\n"
		  "    id: 4\n    node: x\n", "config.yaml:6:", "'pools[1].node'", "x" },
		/* the admin pool runs on every node */
		{ "pools:\n  - {name: t, module: test, id: 1}\n  - {name: admin, module: admin, id: 0, node: 0}\n",
		  "config.yaml:3:", "'pools[1].node': the admin pool has no node", NULL },
	};
	(void)state;
	expect_yaml_rejected(cases, sizeof(cases) / sizeof(cases[0]));
}

/* Write text to a fresh file under /tmp; path receives its name. */
static void temp_file(char path[64], const char *text)
{
	strcpy(path, "/tmp/chi_fault_value_XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* The rules across keys, checked once the file, the environment and
 * cluster.hosts_file are read: each message names the file and the line of
 * the key at fault. */
static void test_cluster_rules_on_load(void **state)
{
	static const struct { const char *yaml; unsigned line; const char *what; } cases[] = {
		{ "runtime: {name: a}\ncluster:\n  port: 7000\n  node: 3\n", 4,
		  "'cluster.node' is 3: a cluster needs 'cluster.key_file'" },
		{ "cluster:\n  node: 3\n  key_file: /k\n  peers:\n    - {node: 1, host: h, port: 7001}\n", 2,
		  "'cluster.node' is 3, which has no entry in 'cluster.peers' to take its port from" },
		{ "cluster:\n  node: 0\n  port: 7000\n  key_file: /k\n"
		  "  peers:\n    - {node: 1, host: h, port: 7001}\n"
		  "pools:\n  - {name: d1, module: bdev, id: 3, node: 1}\n"
		  "  - name: d2\n    module: bdev\n    id: 4\n    node: 2\n", 12,
		  "'pools[1].node' ('d2'): node 2 is neither this node (0) nor in 'cluster.peers'" },
		{ "cluster:\n  node: 0\n  port: 7000\n  key_file: /k\n  heartbeat_ms: 3000\n", 5,
		  "'cluster.heartbeat_ms' (3000) must be below 'cluster.peer_timeout_ms' (3000)" },
		{ "cluster:\n  node: 0\n  port: 7000\n  key_file: /k\n  peer_timeout_ms: 400\n", 5,
		  "'cluster.heartbeat_ms' (500) must be below 'cluster.peer_timeout_ms' (400)" },
	};
	char path[64], want[128], err[512];
	chi_config c;
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		temp_file(path, cases[i].yaml);
		chi_config c2;
		chi_config_defaults(&c2);
		/* the parser alone accepts it: the rule needs the whole configuration */
		assert_int_equal(chi_config_parse(&c2, cases[i].yaml, strlen(cases[i].yaml), "x", err,
						  sizeof(err)), 0);
		assert_int_equal(chi_config_validate(&c2, err, sizeof(err)), -EINVAL);
		assert_int_equal(chi_config_load(&c, path, err, sizeof(err)), -EINVAL);
		snprintf(want, sizeof(want), "%s:%u: ", path, cases[i].line);
		if (strncmp(err, want, strlen(want)) || !strstr(err, cases[i].what))
			fail_msg("message \"%s\" lacks \"%s\" or \"%s\"", err, want, cases[i].what);
		unlink(path);
	}
}

/* cluster.hosts_file: a bad line is named with the file and its line, and
 * nothing of the file is kept. */
static void test_hosts_file_values(void **state)
{
	static const struct { const char *text; unsigned line; const char *what; } cases[] = {
		{ "# peers\n1 127.0.0.1 7001\n2 127.0.0.1\n", 3, "expected 'node host port'" },
		{ "1 127.0.0.1 7001 extra\n", 1, "not 4 fields" },
		{ "\n\n1 127.0.0.1 70000\n", 3, "bad port '70000' in 'cluster.hosts_file'" },
		{ "1 127.0.0.1 0\n", 1, "bad port '0'" },
		{ "64 127.0.0.1 7001\n", 1, "bad node '64'" },
		{ "-1 127.0.0.1 7001\n", 1, "bad node '-1'" },
		{ "1 a/b 7001\n", 1, "bad host 'a/b'" },
		/* node 0 is in the YAML's peers with another port */
		{ "1 127.0.0.1 7001\n0 127.0.0.1 7100\n", 2,
		  "node 0 (in 'cluster.hosts_file') is already 'cluster.peers[0]'" },
		{ "1 127.0.0.1 7001\n1 127.0.0.2 7001\n", 2, "node 1 (in 'cluster.hosts_file') is already" },
		{ "1 127.0.0.1 7001\n2 127.0.0.1 7\0002\n", 2, "a NUL byte" },
	};
	char hosts[64], conf[64], yaml[256], want[128], err[512];
	chi_config c;
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].text);
		if (strstr(cases[i].what, "NUL"))
			len += 1 + strlen(cases[i].text + len + 1);
		strcpy(hosts, "/tmp/chi_fault_hosts_XXXXXX");
		int fd = mkstemp(hosts);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, cases[i].text, len), (ssize_t)len);
		close(fd);
		snprintf(yaml, sizeof(yaml), "cluster:\n  node: 0\n  key_file: /k\n  hosts_file: %s\n"
			 "  peers:\n    - {node: 0, host: 127.0.0.1, port: 7000}\n", hosts);
		temp_file(conf, yaml);
		assert_int_equal(chi_config_load(&c, conf, err, sizeof(err)), -EINVAL);
		snprintf(want, sizeof(want), "%s:%u: ", hosts, cases[i].line);
		if (strncmp(err, want, strlen(want)) || !strstr(err, cases[i].what))
			fail_msg("message \"%s\" lacks \"%s\" or \"%s\"", err, want, cases[i].what);
		unlink(conf);
		unlink(hosts);
	}
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
		{ "CHI_CLUSTER_NODE", "64", "cluster.node" },
		{ "CHI_CLUSTER_NODE", "", "cluster.node" },
		{ "CHI_CLUSTER_PORT", "70000", "cluster.port" },
		{ "CHI_CLUSTER_LISTEN", "a b", "cluster.listen" },
		{ "CHI_CLUSTER_HEARTBEAT_MS", "0", "cluster.heartbeat_ms" },
		{ "CHI_CLUSTER_RETRY_MS", "fast", "cluster.retry_ms" },
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
		cmocka_unit_test(test_cluster_values),
		cmocka_unit_test(test_peer_and_pool_node_values),
		cmocka_unit_test(test_cluster_rules_on_load),
		cmocka_unit_test(test_hosts_file_values),
		cmocka_unit_test(test_env_values),
		cmocka_unit_test(test_message_is_bounded),
	};
	clear_chi_env();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
