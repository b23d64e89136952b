/* tests/test_config.c: chi_config defaults, YAML parsing of every key, sizes,
 * environment overrides, print -> parse round trip, the pool list and
 * validation (the cluster section's own cases: test_config_cluster.c). */
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
#include "config_util.h"

extern char **environ;

#define MiB (1ull << 20)
#define GiB (1ull << 30)

static void test_defaults_match_design(void **state)
{
	chi_config c;
	char err[256];
	(void)state;
	memset(&c, 0xa5, sizeof(c));
	chi_config_defaults(&c);
	assert_string_equal(c.name, "chi");
	assert_int_equal(c.num_workers, 0); /* auto */
	assert_int_equal(c.queue_depth, 1024);
	assert_int_equal(c.lanes, 0);
	assert_int_equal(c.first_busy_wait_us, 10000);
	assert_int_equal(c.max_sleep_us, 50000);
	assert_int_equal(c.bulk_every, 16);
	assert_int_equal(c.hole_timeout_ms, 100);
	assert_int_equal(c.main_segment_size, 0);
	assert_int_equal(c.max_task_size, 1 * MiB);
	assert_int_equal(c.gpu_enabled, CHI_AUTO);
	assert_int_equal(c.gpu_segment_size, 0); /* auto */
	assert_int_equal(c.gpu_queue_depth, 0);
	assert_int_equal(c.gpu_lanes, 1);
	assert_int_equal(c.gpu_workers, CHI_GPU_WORKERS_DEDICATED);
	assert_int_equal(c.gpu_numa, CHI_NUMA_AUTO);
	assert_int_equal(c.gpu_max_sleep_us, 100);
	assert_int_equal(c.gpu_lane_helpers, 0);
	assert_int_equal(c.npools, 3);
	assert_string_equal(c.pools[0].name, "admin");
	assert_string_equal(c.pools[0].module, "admin");
	assert_int_equal(c.pools[0].id, 0);
	assert_string_equal(c.pools[1].name, "test");
	assert_string_equal(c.pools[1].module, "test");
	assert_int_equal(c.pools[1].id, 1);
	assert_string_equal(c.pools[2].name, "ram0");
	assert_string_equal(c.pools[2].module, "bdev");
	assert_int_equal(c.pools[2].id, CHI_POOL_BDEV);
	assert_string_equal(c.pools[2].path, "");
	assert_int_equal(c.pools[2].size, 64 * MiB);
	for (unsigned i = 0; i < c.npools; i++)
		assert_int_equal(c.pools[i].node, CHI_NODE_ANY); /* every runtime runs its own */
	assert_int_equal(c.cluster.node, CHI_NODE_ANY);      /* no cluster */
	assert_string_equal(c.cluster.listen, "");
	assert_int_equal(c.cluster.port, 0);
	assert_string_equal(c.cluster.key_file, "");
	assert_string_equal(c.cluster.hosts_file, "");
	assert_int_equal(c.cluster.heartbeat_ms, 500);
	assert_int_equal(c.cluster.peer_timeout_ms, 3000);
	assert_int_equal(c.cluster.task_timeout_ms, 30000);
	assert_int_equal(c.cluster.retry_ms, 500);
	assert_int_equal(c.cluster.npeers, 0);
	assert_int_equal(chi_config_validate(&c, err, sizeof(err)), 0);
	/* no file, no environment: load gives exactly the defaults */
	chi_config d;
	chi_config_defaults(&c);
	assert_int_equal(chi_config_load(&d, NULL, err, sizeof(err)), 0);
	assert_memory_equal(&c, &d, sizeof(c));
}

static const char every_key[] =
	"# every key, none at its default\n"
	"runtime:\n"
	"  name: node-7_b\n"
	"  num_workers: 12\n"
	"  queue_depth: 4096\n"
	"  lanes: 3\n"
	"  first_busy_wait_us: 123\n"
	"  max_sleep_us: 18446744073709551615\n"
	"  bulk_every: 7\n"
	"  hole_timeout_ms: 250\n"
	"memory:\n"
	"  main_segment_size: 3G\n"
	"  max_task_size: 64K\n"
	"gpu:\n"
	"  enabled: off\n"
	"  segment_size: 4097\n"
	"  queue_depth: 256\n"
	"  lanes: 8\n"
	"  workers: shared\n"
	"  numa: 1\n"
	"  max_sleep_us: 0\n"
	"  lane_helpers: 2\n"
	"cluster:\n"
	"  node: 1\n"
	"  listen: 127.0.0.1\n"
	"  port: 7001\n"
	"  key_file: /etc/chi/cluster.key\n"
	"  hosts_file: /etc/chi/hosts\n"
	"  heartbeat_ms: 250\n"
	"  peer_timeout_ms: 2000\n"
	"  task_timeout_ms: 9000\n"
	"  retry_ms: 100\n"
	"  peers:\n"
	"    - {node: 0, host: 127.0.0.1, port: 7000}\n"
	"    - node: 1\n"
	"      host: localhost\n"
	"      port: 7001\n"
	"    - {node: 63, host: \"fe80::1%lo\", port: 65535}\n";

static void test_every_key_parsed(void **state)
{
	chi_config c;
	char err[256] = "";
	(void)state;
	assert_int_equal(parse(&c, every_key, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_string_equal(c.name, "node-7_b");
	assert_int_equal(c.num_workers, 12);
	assert_int_equal(c.queue_depth, 4096);
	assert_int_equal(c.lanes, 3);
	assert_int_equal(c.first_busy_wait_us, 123);
	assert_true(c.max_sleep_us == UINT64_MAX);
	assert_int_equal(c.bulk_every, 7);
	assert_int_equal(c.hole_timeout_ms, 250);
	assert_int_equal(c.main_segment_size, 3 * GiB);
	assert_int_equal(c.max_task_size, 64 * 1024);
	assert_int_equal(c.gpu_enabled, CHI_OFF);
	assert_int_equal(c.gpu_segment_size, 4097);
	assert_int_equal(c.gpu_queue_depth, 256);
	assert_int_equal(c.gpu_lanes, 8);
	assert_int_equal(c.gpu_workers, CHI_GPU_WORKERS_SHARED);
	assert_int_equal(c.gpu_numa, 1);
	assert_int_equal(c.gpu_max_sleep_us, 0);
	assert_int_equal(c.gpu_lane_helpers, 2);
	assert_int_equal(c.cluster.node, 1);
	assert_string_equal(c.cluster.listen, "127.0.0.1");
	assert_int_equal(c.cluster.port, 7001);
	assert_string_equal(c.cluster.key_file, "/etc/chi/cluster.key");
	assert_string_equal(c.cluster.hosts_file, "/etc/chi/hosts");
	assert_int_equal(c.cluster.heartbeat_ms, 250);
	assert_int_equal(c.cluster.peer_timeout_ms, 2000);
	assert_int_equal(c.cluster.task_timeout_ms, 9000);
	assert_int_equal(c.cluster.retry_ms, 100);
	assert_int_equal(c.cluster.npeers, 3);
	assert_int_equal(c.cluster.peers[0].node, 0);
	assert_string_equal(c.cluster.peers[0].host, "127.0.0.1");
	assert_int_equal(c.cluster.peers[0].port, 7000);
	assert_int_equal(c.cluster.peers[1].node, 1);
	assert_string_equal(c.cluster.peers[1].host, "localhost");
	assert_int_equal(c.cluster.peers[1].port, 7001);
	assert_int_equal(c.cluster.peers[2].node, 63);
	assert_string_equal(c.cluster.peers[2].host, "fe80::1%lo");
	assert_int_equal(c.cluster.peers[2].port, 65535);
	assert_int_equal(c.npools, 3); /* no `pools` in the file: defaults stay */
	assert_int_equal(chi_config_validate(&c, err, sizeof(err)), 0);

	/* the other spellings of the enumerated keys */
	static const struct { const char *yaml; int enabled, numa; } words[] = {
		{ "gpu: {enabled: auto, numa: auto}", CHI_AUTO, CHI_NUMA_AUTO },
		{ "gpu: {enabled: true, numa: off}", CHI_ON, CHI_NUMA_OFF },
		{ "gpu: {enabled: on, numa: 0}", CHI_ON, 0 },
		{ "gpu: {enabled: false, numa: 4095}", CHI_OFF, 4095 },
	};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		assert_int_equal(parse(&c, words[i].yaml, err, sizeof(err)), 0);
		assert_int_equal(c.gpu_enabled, words[i].enabled);
		assert_int_equal(c.gpu_numa, words[i].numa);
	}
	assert_int_equal(parse(&c, "memory:\n  main_segment_size: auto\n", err, sizeof(err)), 0);
	assert_int_equal(c.main_segment_size, 0);
	/* quoted scalars, empty documents and null sections are fine */
	assert_int_equal(parse(&c, "runtime: {num_workers: \"9\", name: 'q'}", err, sizeof(err)), 0);
	assert_int_equal(c.num_workers, 9);
	assert_string_equal(c.name, "q");
	chi_config d;
	chi_config_defaults(&d);
	const char *empty[] = { "", "# nothing\n", "---\n", "~\n", "runtime:\nmemory: ~\ngpu: {}\n" };
	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		assert_int_equal(parse(&c, empty[i], err, sizeof(err)), 0);
		assert_memory_equal(&c, &d, sizeof(c));
	}
}

static void test_sizes(void **state)
{
	static const struct { const char *s; int rc; uint64_t v; } cases[] = {
		{ "0", 0, 0 }, { "1", 0, 1 }, { "4096", 0, 4096 }, { "1K", 0, 1024 },
		{ "12M", 0, 12 * MiB }, { "3G", 0, 3 * GiB }, { "2k", 0, 2048 }, { "5g", 0, 5 * GiB },
		{ "17179869183G", 0, 17179869183ull * GiB },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "17179869184G", -EINVAL, 0 },          /* 2^34 G = 2^64: overflow */
		{ "18446744073709551616", -EINVAL, 0 },  /* 2^64 */
		{ "99999999999999999999999", -EINVAL, 0 },
		{ "17592186044416M", -EINVAL, 0 },       /* 2^44 M = 2^64 */
		{ "", -EINVAL, 0 }, { "K", -EINVAL, 0 }, { "12Q", -EINVAL, 0 }, { "-1", -EINVAL, 0 },
		{ "+1", -EINVAL, 0 }, { " 1", -EINVAL, 0 }, { "1 ", -EINVAL, 0 }, { "1 K", -EINVAL, 0 },
		{ "1KB", -EINVAL, 0 }, { "1KK", -EINVAL, 0 }, { "0x10", -EINVAL, 0 }, { "1.5G", -EINVAL, 0 },
		{ "1T", -EINVAL, 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 0xdead;
		int rc = chi_parse_size(cases[i].s, &v);
		if (rc != cases[i].rc || (rc == 0 && v != cases[i].v))
			fail_msg("chi_parse_size(\"%s\") = %d, %llu", cases[i].s, rc, (unsigned long long)v);
		if (rc)
			assert_int_equal(v, 0xdead); /* untouched on error */
	}
	uint64_t v = 7;
	assert_int_equal(chi_parse_size(NULL, &v), -EINVAL);

	/* the size keys: suffixes accepted, the max_task_size limit enforced */
	chi_config c;
	char err[256];
	assert_int_equal(parse(&c, "memory: {max_task_size: 1G, main_segment_size: 2G}\n"
				   "gpu: {segment_size: 1024K}\n", err, sizeof(err)), 0);
	assert_int_equal(c.max_task_size, GiB);
	assert_int_equal(c.main_segment_size, 2 * GiB);
	assert_int_equal(c.gpu_segment_size, MiB);
	assert_int_equal(parse(&c, "memory:\n  max_task_size: 1025M\n", err, sizeof(err)), -EINVAL);
	assert_has(err, "config.yaml:2:");
	assert_has(err, "memory.max_task_size");
	assert_int_equal(parse(&c, "gpu:\n  segment_size: 17179869184G\n", err, sizeof(err)), -EINVAL);
	assert_has(err, "gpu.segment_size");
	assert_has(err, "17179869184G");
}

static void test_env_overrides_win(void **state)
{
	chi_config c;
	char err[256];
	(void)state;
	const char *path = temp_file("runtime:\n  name: fromfile\n  num_workers: 2\n"
				     "gpu:\n  segment_size: 32M\n  numa: 0\n");
	assert_int_equal(chi_config_load(&c, path, err, sizeof(err)), 0);
	assert_string_equal(c.name, "fromfile");
	assert_int_equal(c.num_workers, 2);
	assert_int_equal(c.gpu_segment_size, 32 * MiB);
	assert_int_equal(c.gpu_numa, 0);

	setenv("CHI_RUNTIME_NAME", "fromenv", 1);
	setenv("CHI_RUNTIME_NUM_WORKERS", "8", 1);
	setenv("CHI_RUNTIME_QUEUE_DEPTH", "64", 1);
	setenv("CHI_GPU_SEGMENT_SIZE", "128M", 1);
	setenv("CHI_GPU_NUMA", "off", 1);
	setenv("CHI_GPU_ENABLED", "on", 1);
	setenv("CHI_GPU_WORKERS", "shared", 1);
	setenv("CHI_MEMORY_MAX_TASK_SIZE", "2M", 1);
	setenv("CHI_MEMORY_MAIN_SEGMENT_SIZE", "1G", 1);
	setenv("CHI_REQUIRE_GPU", "1", 1);   /* not an override: ignored */
	setenv("CHI_SERVER_CONF", "/nonexistent/chi.yaml", 1); /* the path argument wins */
	assert_int_equal(chi_config_load(&c, path, err, sizeof(err)), 0);
	assert_string_equal(c.name, "fromenv");
	assert_int_equal(c.num_workers, 8);
	assert_int_equal(c.queue_depth, 64);
	assert_int_equal(c.gpu_segment_size, 128 * MiB);
	assert_int_equal(c.gpu_numa, CHI_NUMA_OFF);
	assert_int_equal(c.gpu_enabled, CHI_ON);
	assert_int_equal(c.gpu_workers, CHI_GPU_WORKERS_SHARED);
	assert_int_equal(c.max_task_size, 2 * MiB);
	assert_int_equal(c.main_segment_size, GiB);
	assert_int_equal(c.lanes, 0); /* in neither: default */

	/* with no path argument, CHI_SERVER_CONF names the file */
	setenv("CHI_SERVER_CONF", path, 1);
	unsetenv("CHI_RUNTIME_NAME");
	assert_int_equal(chi_config_load(&c, NULL, err, sizeof(err)), 0);
	assert_string_equal(c.name, "fromfile");
	assert_int_equal(c.num_workers, 8);
	setenv("CHI_SERVER_CONF", "/nonexistent/chi.yaml", 1);
	assert_int_equal(chi_config_load(&c, NULL, err, sizeof(err)), -ENOENT);
	assert_has(err, "/nonexistent/chi.yaml");

	const char *vars[] = { "CHI_RUNTIME_NUM_WORKERS", "CHI_RUNTIME_QUEUE_DEPTH", "CHI_GPU_SEGMENT_SIZE",
			       "CHI_GPU_NUMA", "CHI_GPU_ENABLED", "CHI_GPU_WORKERS", "CHI_MEMORY_MAX_TASK_SIZE",
			       "CHI_MEMORY_MAIN_SEGMENT_SIZE", "CHI_REQUIRE_GPU", "CHI_SERVER_CONF" };
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	assert_int_equal(chi_config_load(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.num_workers, 2);
	unlink(path);
}

static void test_env_bad_value_names_variable(void **state)
{
	chi_config c, before;
	char err[256];
	(void)state;
	chi_config_defaults(&c);
	before = c;
	setenv("CHI_GPU_SEGMENT_SIZE", "256M", 1); /* good, but must not stick: all or nothing */
	setenv("CHI_RUNTIME_NUM_WORKERS", "x", 1);
	assert_int_equal(chi_config_apply_env(&c, err, sizeof(err)), -EINVAL);
	assert_has(err, "CHI_RUNTIME_NUM_WORKERS");
	assert_has(err, "runtime.num_workers");
	assert_has(err, "'x'");
	assert_memory_equal(&c, &before, sizeof(c));
	unsetenv("CHI_RUNTIME_NUM_WORKERS");
	unsetenv("CHI_GPU_SEGMENT_SIZE");

	setenv("CHI_MEMORY_MAX_TASK_SIZE", "2G", 1);
	assert_int_equal(chi_config_load(&c, NULL, err, sizeof(err)), -EINVAL);
	assert_has(err, "CHI_MEMORY_MAX_TASK_SIZE");
	unsetenv("CHI_MEMORY_MAX_TASK_SIZE");

	/* looks like an override of a known section but names no key */
	setenv("CHI_GPU_SEGMENTSIZE", "1M", 1);
	assert_int_equal(chi_config_apply_env(&c, err, sizeof(err)), -EINVAL);
	assert_has(err, "CHI_GPU_SEGMENTSIZE");
	assert_has(err, "gpu.segmentsize");
	unsetenv("CHI_GPU_SEGMENTSIZE");
	setenv("CHI_UNRELATED_THING", "1", 1); /* not a known section: ignored */
	assert_int_equal(chi_config_apply_env(&c, err, sizeof(err)), 0);
	unsetenv("CHI_UNRELATED_THING");
	assert_memory_equal(&c, &before, sizeof(c));
}

static void test_print_parse_round_trip(void **state)
{
	chi_config c;
	char err[256];
	(void)state;
	chi_config_defaults(&c);
	round_trip(&c);
	assert_int_equal(parse(&c, every_key, err, sizeof(err)), 0);
	round_trip(&c);
	/* strings that need quoting and escaping; sizes that are not multiples */
	assert_int_equal(parse(&c, "runtime: {name: '123'}\n"
				   "pools:\n"
				   "  - {name: a.b, module: user-mod, id: 4294967295, size: 1025,\n"
				   "     path: \"/tmp/a b/\\\"q\\\" \\\\x #: - [x] caf\\u00e9 \\u2028 \\U0001F600 \\x85\"}\n"
				   "  - {name: 'true', module: 'null', id: 1, path: '~', size: 3G}\n",
			       err, sizeof(err)), 0);
	assert_int_equal(c.npools, 3); /* the admin pool appended */
	assert_string_equal(c.pools[2].name, "admin");
	assert_string_equal(c.pools[0].path, "/tmp/a b/\"q\" \\x #: - [x] caf\xc3\xa9 \xe2\x80\xa8 "
					     "\xf0\x9f\x98\x80 \xc2\x85");
	assert_string_equal(c.pools[1].name, "true");
	round_trip(&c);
	c.gpu_numa = 17;
	c.gpu_enabled = CHI_ON;
	c.npools = 1; /* the admin pool alone (an empty list gets it) */
	memset(c.pools, 0, sizeof(c.pools));
	strcpy(c.pools[0].name, "admin");
	strcpy(c.pools[0].module, "admin");
	c.pools[0].node = CHI_NODE_ANY;
	round_trip(&c);
	/* a full pool table, the admin pool included, and a full peer table:
	 * the longest hosts and paths, every node, nodes on most pools */
	c.npools = CHI_MAX_POOLS;
	for (unsigned i = 1; i < CHI_MAX_POOLS; i++) {
		snprintf(c.pools[i].name, CHI_NAME_MAX, "p%u", i);
		strcpy(c.pools[i].module, "bdev");
		c.pools[i].id = 1000 + i;
		memset(c.pools[i].path, 'x', CHI_PATH_MAX - 1);
		c.pools[i].size = (uint64_t)i << 20;
		c.pools[i].node = i % 3 ? (int32_t)(i % CHI_MAX_NODES) : CHI_NODE_ANY;
	}
	c.cluster.node = CHI_MAX_NODES - 1;
	memset(c.cluster.listen, 'l', CHI_HOST_MAX - 1);
	c.cluster.port = 65535;
	memset(c.cluster.key_file, 'k', CHI_PATH_MAX - 1);
	strcpy(c.cluster.hosts_file, "/tmp/\"hosts\" #1");
	c.cluster.heartbeat_ms = 1;
	c.cluster.peer_timeout_ms = 600000;
	c.cluster.task_timeout_ms = 86400000;
	c.cluster.retry_ms = 600000;
	c.cluster.npeers = CHI_MAX_NODES;
	for (unsigned i = 0; i < CHI_MAX_NODES; i++) {
		c.cluster.peers[i].node = CHI_MAX_NODES - 1 - i;
		memset(c.cluster.peers[i].host, 'a' + i % 26, CHI_HOST_MAX - 1);
		c.cluster.peers[i].port = 1 + i * 1000;
	}
	assert_int_equal(chi_config_validate(&c, err, sizeof(err)), 0);
	round_trip(&c);
	/* a cluster of one line each */
	assert_int_equal(parse(&c, "cluster: {node: 0, port: 7000, key_file: k, peers: []}\n"
				   "pools:\n  - {name: d, module: bdev, id: 3, node: 0}\n", err, sizeof(err)), 0);
	round_trip(&c);
}

static void test_pools_parsed(void **state)
{
	chi_config c;
	char err[256];
	(void)state;
	assert_int_equal(parse(&c,
			       "pools:\n"
			       "  - name: admin\n"
			       "    module: admin\n"
			       "    id: 0\n"
			       "  - name: disk1\n"
			       "    module: bdev\n"
			       "    id: 7\n"
			       "    path: /var/tmp/disk1.img\n"
			       "    size: 2G\n"
			       "  - {name: mine, module: my_module, id: 9}\n",
			       err, sizeof(err)), 0);
	assert_int_equal(c.npools, 3); /* the file's list replaces the defaults */
	assert_string_equal(c.pools[0].name, "admin");
	assert_string_equal(c.pools[0].module, "admin");
	assert_int_equal(c.pools[0].id, 0);
	assert_string_equal(c.pools[0].path, "");
	assert_int_equal(c.pools[0].size, 0);
	assert_string_equal(c.pools[1].name, "disk1");
	assert_string_equal(c.pools[1].module, "bdev");
	assert_int_equal(c.pools[1].id, 7);
	assert_string_equal(c.pools[1].path, "/var/tmp/disk1.img");
	assert_int_equal(c.pools[1].size, 2 * GiB);
	assert_string_equal(c.pools[2].name, "mine");
	assert_string_equal(c.pools[2].module, "my_module");
	assert_int_equal(c.pools[2].id, 9);
	assert_int_equal(chi_config_validate(&c, err, sizeof(err)), 0);
	for (unsigned i = 3; i < CHI_MAX_POOLS; i++)
		assert_int_equal(c.pools[i].name[0], 0);

	/* a list without the admin pool gets it, after the file's pools */
	assert_int_equal(parse(&c, "pools: []\n", err, sizeof(err)), 0);
	assert_int_equal(c.npools, 1);
	assert_string_equal(c.pools[0].name, "admin");
	assert_string_equal(c.pools[0].module, "admin");
	assert_int_equal(c.pools[0].id, 0);
	assert_int_equal(parse(&c, "pools:\n", err, sizeof(err)), 0);
	assert_int_equal(c.npools, 1);
	assert_int_equal(parse(&c, "pools:\n  - {name: disk1, module: bdev, id: 7, size: 1M}\n",
			       err, sizeof(err)), 0);
	assert_int_equal(c.npools, 2);
	assert_string_equal(c.pools[0].name, "disk1");
	assert_int_equal(c.pools[0].id, 7);
	assert_string_equal(c.pools[1].name, "admin");
	assert_string_equal(c.pools[1].module, "admin");
	assert_int_equal(c.pools[1].id, 0);
	assert_int_equal(chi_config_validate(&c, err, sizeof(err)), 0);
	/* 64 pools and no admin: no room for it */
	char full[8192] = "pools:\n";
	for (unsigned i = 1; i <= CHI_MAX_POOLS; i++)
		snprintf(full + strlen(full), sizeof(full) - strlen(full), "  - {name: p%u, module: m, id: %u}\n", i, i);
	assert_int_equal(parse(&c, full, err, sizeof(err)), -EINVAL);
	assert_has(err, "admin pool included");

	/* errors name the pool key and line; the config is left as it was */
	chi_config before;
	chi_config_defaults(&before);
	static const struct { const char *yaml, *want[2]; } bad[] = {
		{ "pools:\n  - name: a\n    id: 1\n", { "config.yaml:2:", "pools[0].module" } },
		{ "pools:\n  - {name: a, module: m, id: 1}\n  - {name: b, module: m, id: 1}\n",
		  { "config.yaml:3:", "same id as 'pools[0]'" } },
		{ "pools:\n  - {name: a, module: m, id: 1}\n  - {name: a, module: m, id: 2}\n",
		  { "config.yaml:3:", "same name as 'pools[0]'" } },
		{ "pools:\n  - {name: a, module: m, id: 1, colour: red}\n", { "config.yaml:2:", "pools[0].colour" } },
		{ "pools:\n  - {name: a, module: m, id: x}\n", { "config.yaml:2:", "pools[0].id" } },
		{ "pools:\n  - {name: a/b, module: m, id: 1}\n", { "config.yaml:2:", "pools[0].name" } },
		{ "pools:\n  - {name: a, module: m, id: 1, size: 12Q}\n", { "'12Q'", "pools[0].size" } },
		{ "pools:\n  - {name: a, module: m, id: 4294967296}\n", { "config.yaml:2:", "pools[0].id" } },
		{ "pools:\n  - just-a-name\n", { "config.yaml:2:", "pools[0]" } },
		{ "pools: {name: a}\n", { "config.yaml:1:", "pools" } },
		/* the admin pool's id or name taken by another pool */
		{ "pools:\n  - {name: disk, module: bdev, id: 0}\n", { "'pools[0]'", "'disk'" } },
		{ "pools:\n  - {name: t, module: test, id: 1}\n  - {name: admin, module: test, id: 0}\n",
		  { "'pools[1]'", "id of the admin pool" } },
		{ "pools:\n  - {name: admin, module: admin, id: 3}\n", { "'pools[0]'", "name of the admin pool" } },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		if (parse(&c, bad[i].yaml, err, sizeof(err)) != -EINVAL)
			fail_msg("accepted:\n%s", bad[i].yaml);
		assert_has(err, bad[i].want[0]);
		assert_has(err, bad[i].want[1]);
		assert_memory_equal(&c, &before, sizeof(c));
	}
	/* more than CHI_MAX_POOLS */
	char big[8192] = "pools:\n";
	for (unsigned i = 0; i <= CHI_MAX_POOLS; i++)
		snprintf(big + strlen(big), sizeof(big) - strlen(big), "  - {name: p%u, module: m, id: %u}\n", i, i);
	assert_int_equal(parse(&c, big, err, sizeof(err)), -EINVAL);
	assert_has(err, "too many pools");
}

static void test_validate(void **state)
{
	chi_config c;
	char err[256];
	(void)state;
	chi_config_defaults(&c);
	c.queue_depth = 1000;
	assert_int_equal(chi_config_validate(&c, err, sizeof(err)), -EINVAL);
	assert_has(err, "runtime.queue_depth");
	chi_config_defaults(&c);
	c.num_workers = 257; /* 0 is auto */
	assert_int_equal(chi_config_validate(&c, err, sizeof(err)), -EINVAL);
	assert_has(err, "runtime.num_workers");
	chi_config_defaults(&c);
	memset(c.name, 'n', CHI_NAME_MAX - 1); /* 47 characters: the longest name */
	assert_int_equal(chi_config_validate(&c, err, sizeof(err)), 0);
	memset(c.name, 'n', CHI_NAME_MAX);     /* no terminator */
	assert_int_equal(chi_config_validate(&c, err, sizeof(err)), -EINVAL);
	assert_has(err, "runtime.name");
	chi_config_defaults(&c);
	strcpy(c.name, "a.b");
	assert_int_equal(chi_config_validate(&c, err, sizeof(err)), -EINVAL);
	chi_config_defaults(&c);
	c.gpu_numa = -3;
	assert_int_equal(chi_config_validate(&c, err, sizeof(err)), -EINVAL);
	assert_has(err, "gpu.numa");
	chi_config_defaults(&c);
	c.gpu_queue_depth = 3;
	assert_int_equal(chi_config_validate(&c, err, sizeof(err)), -EINVAL);
	assert_has(err, "gpu.queue_depth");
	chi_config_defaults(&c);
	c.npools = 3;
	c.pools[2] = c.pools[1];
	strcpy(c.pools[2].name, "test2");
	c.pools[2].id = 1; /* the id of pool "test" */
	assert_int_equal(chi_config_validate(&c, err, sizeof(err)), -EINVAL);
	assert_has(err, "pools[2]");
	chi_config_defaults(&c);
	c.pools[1].id = 9;
	c.pools[2].id = 0; /* ram0 takes the admin pool's id */
	c.pools[0].id = 5;
	assert_int_equal(chi_config_validate(&c, err, sizeof(err)), -EINVAL);
	assert_has(err, "pools[0]");
	assert_has(err, "admin");
	chi_config_defaults(&c);
	c.npools = CHI_MAX_POOLS + 1;
	assert_int_equal(chi_config_validate(&c, err, sizeof(err)), -EINVAL);

	/* names: 47 characters parse, 48 do not */
	char yaml[128];
	snprintf(yaml, sizeof(yaml), "runtime:\n  name: %.47s\n",
		 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
	assert_int_equal(parse(&c, yaml, err, sizeof(err)), 0);
	assert_int_equal(strlen(c.name), 47);
	snprintf(yaml, sizeof(yaml), "runtime:\n  name: %.48s\n",
		 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
	assert_int_equal(parse(&c, yaml, err, sizeof(err)), -EINVAL);
	assert_has(err, "runtime.name");

	/* a tiny or absent error buffer is never overrun */
	char tiny[4] = "abc";
	assert_int_equal(parse(&c, "runtime: {nme: x}", tiny, 1), -EINVAL);
	assert_int_equal(tiny[0], 0);
	assert_int_equal(tiny[1], 'b');
	assert_int_equal(parse(&c, "runtime: {nme: x}", NULL, 0), -EINVAL);
	assert_int_equal(chi_config_load(&c, "/nonexistent/dir/chi.yaml", NULL, 0), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_match_design),
		cmocka_unit_test(test_every_key_parsed),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_env_overrides_win),
		cmocka_unit_test(test_env_bad_value_names_variable),
		cmocka_unit_test(test_print_parse_round_trip),
		cmocka_unit_test(test_pools_parsed),
		cmocka_unit_test(test_validate),
	};
	clear_chi_env(); /* start from an environment without CHI_* variables */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
