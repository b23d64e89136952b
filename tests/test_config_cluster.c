/* tests/test_config_cluster.c: the configuration's cluster section: its
 * keys and CHI_CLUSTER_* variables, cluster.hosts_file merged into
 * cluster.peers, pools[].node printed only when set, and the rules across
 * them (docs/cluster.md). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "config_util.h"

extern char **environ;

/* A one-node configuration prints no pool node (the output is as before
 * the cluster section); a pool with one prints it. */
static void test_print_pool_node_only_when_set(void **state)
{
	static char buf[64 * 1024];
	chi_config c;
	char err[256];
	(void)state;
	chi_config_defaults(&c);
	assert_true(chi_config_print(&c, buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "    node:"));
	assert_non_null(strstr(buf, "cluster:\n  node: -1  # -1 = no cluster"));
	assert_non_null(strstr(buf, "  port: 0  # 0 = the port of this node's entry in peers\n"));
	assert_non_null(strstr(buf, "  peers: []\n"));
	assert_int_equal(parse(&c, "pools:\n  - {name: d, module: bdev, id: 3, node: 5}\n"
				   "  - {name: e, module: bdev, id: 4, node: -1}\n", err, sizeof(err)), 0);
	assert_true(chi_config_print(&c, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "    id: 3\n    path: \"\"\n    size: 0\n    node: 5\n"));
	assert_non_null(strstr(buf, "    id: 4\n    path: \"\"\n    size: 0\n  - name"));
	assert_null(strstr(buf, "node: -1\n    "));
}

static void test_cluster_env(void **state)
{
	chi_config c;
	char err[512];
	(void)state;
	const char *key = temp_file("secret\n");
	const char *path = temp_file("cluster:\n  node: 0\n  port: 7000\n  heartbeat_ms: 100\n"
				     "  peers:\n    - {node: 0, host: 127.0.0.1, port: 7000}\n"
				     "    - {node: 1, host: 127.0.0.1, port: 7001}\n");
	char fpath[64];
	strcpy(fpath, path);
	/* one file for every runtime of a cluster; each its node, port and key from
	 * the environment */
	setenv("CHI_CLUSTER_NODE", "1", 1);
	setenv("CHI_CLUSTER_PORT", "0", 1);
	setenv("CHI_CLUSTER_KEY_FILE", key, 1);
	setenv("CHI_CLUSTER_LISTEN", "0.0.0.0", 1);
	setenv("CHI_CLUSTER_HEARTBEAT_MS", "200", 1);
	setenv("CHI_CLUSTER_PEER_TIMEOUT_MS", "1000", 1);
	setenv("CHI_CLUSTER_TASK_TIMEOUT_MS", "5000", 1);
	setenv("CHI_CLUSTER_RETRY_MS", "50", 1);
	assert_int_equal(chi_config_load(&c, fpath, err, sizeof(err)), 0);
	assert_int_equal(c.cluster.node, 1);
	assert_int_equal(c.cluster.port, 0);
	assert_string_equal(c.cluster.key_file, key);
	assert_string_equal(c.cluster.listen, "0.0.0.0");
	assert_int_equal(c.cluster.heartbeat_ms, 200);
	assert_int_equal(c.cluster.peer_timeout_ms, 1000);
	assert_int_equal(c.cluster.task_timeout_ms, 5000);
	assert_int_equal(c.cluster.retry_ms, 50);
	assert_int_equal(c.cluster.npeers, 2);
	assert_int_equal(c.cluster.peers[1].port, 7001);
	/* -1 from the environment turns the cluster off */
	setenv("CHI_CLUSTER_NODE", "-1", 1);
	assert_int_equal(chi_config_load(&c, fpath, err, sizeof(err)), 0);
	assert_int_equal(c.cluster.node, CHI_NODE_ANY);
	/* a rule across keys names the variable of the key at fault */
	setenv("CHI_CLUSTER_NODE", "2", 1);
	assert_int_equal(chi_config_load(&c, fpath, err, sizeof(err)), -EINVAL);
	assert_has(err, "CHI_CLUSTER_NODE: 'cluster.node' is 2");
	assert_has(err, "cluster.peers");
	assert_has(err, "cluster.port");
	setenv("CHI_CLUSTER_NODE", "1", 1);
	setenv("CHI_CLUSTER_HEARTBEAT_MS", "1000", 1);
	assert_int_equal(chi_config_load(&c, fpath, err, sizeof(err)), -EINVAL);
	assert_has(err, "CHI_CLUSTER_HEARTBEAT_MS: 'cluster.heartbeat_ms' (1000) must be below "
			"'cluster.peer_timeout_ms' (1000)");
	unsetenv("CHI_CLUSTER_HEARTBEAT_MS");
	unsetenv("CHI_CLUSTER_PEER_TIMEOUT_MS");
	unsetenv("CHI_CLUSTER_KEY_FILE");
	assert_int_equal(chi_config_load(&c, fpath, err, sizeof(err)), -EINVAL);
	assert_has(err, "CHI_CLUSTER_NODE: 'cluster.node' is 1: a cluster needs 'cluster.key_file'");
	/* the list has no variable: the message says what to use */
	setenv("CHI_CLUSTER_KEY_FILE", key, 1);
	setenv("CHI_CLUSTER_PEERS", "0 127.0.0.1 7000", 1);
	assert_int_equal(chi_config_load(&c, fpath, err, sizeof(err)), -EINVAL);
	assert_has(err, "CHI_CLUSTER_PEERS");
	assert_has(err, "CHI_CLUSTER_HOSTS_FILE");
	const char *vars[] = { "CHI_CLUSTER_PEERS", "CHI_CLUSTER_NODE", "CHI_CLUSTER_PORT",
			       "CHI_CLUSTER_KEY_FILE", "CHI_CLUSTER_LISTEN", "CHI_CLUSTER_TASK_TIMEOUT_MS",
			       "CHI_CLUSTER_RETRY_MS" };
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	assert_int_equal(chi_config_load(&c, fpath, err, sizeof(err)), -EINVAL);
	assert_has(err, ":2: 'cluster.node' is 0: a cluster needs 'cluster.key_file'");
	assert_has(err, fpath);
	unlink(fpath);
	unlink(key);
}

static void test_hosts_file_merged(void **state)
{
	static char buf[64 * 1024];
	chi_config c, d;
	char err[512], hosts[64], conf[64], printed[64];
	(void)state;
	strcpy(hosts, temp_file("# node host port\n"
				"\n"
				"1 127.0.0.1 7001   # the second runtime\n"
				"\t2\tnode-2.example  7002\r\n"
				"0 127.0.0.1 7000\n"   /* repeats the file's entry exactly: skipped */
				"   # indented comment\n"
				"63 ::1 65535"));       /* no newline at the end */
	char yaml[512];
	snprintf(yaml, sizeof(yaml),
		 "cluster:\n  node: 0\n  key_file: /k\n  hosts_file: %s\n"
		 "  peers:\n    - {node: 0, host: 127.0.0.1, port: 7000}\n"
		 "pools:\n  - {name: d1, module: bdev, id: 5, node: 1}\n"
		 "  - {name: d63, module: bdev, id: 6, node: 63}\n"
		 "  - {name: here, module: bdev, id: 7, node: 0}\n", hosts);
	strcpy(conf, temp_file(yaml));
	if (chi_config_load(&c, conf, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(c.cluster.npeers, 4);
	static const struct { uint32_t node; const char *host; uint32_t port; } want[] = {
		{ 0, "127.0.0.1", 7000 }, { 1, "127.0.0.1", 7001 }, { 2, "node-2.example", 7002 },
		{ 63, "::1", 65535 },
	};
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(c.cluster.peers[i].node, want[i].node);
		assert_string_equal(c.cluster.peers[i].host, want[i].host);
		assert_int_equal(c.cluster.peers[i].port, want[i].port);
	}
	assert_int_equal(c.pools[0].node, 1);
	assert_int_equal(c.pools[1].node, 63);
	assert_int_equal(c.pools[2].node, 0);
	assert_int_equal(c.pools[3].node, CHI_NODE_ANY); /* the admin pool, appended */
	assert_string_equal(c.pools[3].name, "admin");
	/* the printed configuration (every peer, and the file named) loads again
	 * to the same struct: the file's entries are there already */
	int n = chi_config_print(&c, buf, sizeof(buf));
	assert_true(n > 0);
	strcpy(printed, temp_file(buf));
	assert_int_equal(chi_config_load(&d, printed, err, sizeof(err)), 0);
	assert_memory_equal(&c, &d, sizeof(c));
	/* without the file, pools on nodes 1 and 63 have no peer */
	setenv("CHI_CLUSTER_HOSTS_FILE", "", 1);
	assert_int_equal(chi_config_load(&c, conf, err, sizeof(err)), -EINVAL);
	assert_has(err, ":8: 'pools[0].node' ('d1'): node 1 is neither this node (0) nor in "
			"'cluster.peers'");
	/* a missing file is named */
	setenv("CHI_CLUSTER_HOSTS_FILE", "/nonexistent/chi-hosts", 1);
	assert_int_equal(chi_config_load(&c, conf, err, sizeof(err)), -ENOENT);
	assert_has(err, "/nonexistent/chi-hosts: cannot read 'cluster.hosts_file'");
	unsetenv("CHI_CLUSTER_HOSTS_FILE");
	/* a hosts file without a cluster is read (and harmless) */
	setenv("CHI_CLUSTER_NODE", "-1", 1);
	assert_int_equal(chi_config_load(&c, conf, err, sizeof(err)), 0);
	assert_int_equal(c.cluster.npeers, 4);
	unsetenv("CHI_CLUSTER_NODE");
	unlink(printed);
	unlink(conf);
	unlink(hosts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_print_pool_node_only_when_set),
		cmocka_unit_test(test_cluster_env),
		cmocka_unit_test(test_hosts_file_merged),
	};
	clear_chi_env(); /* start from an environment without CHI_* variables */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
