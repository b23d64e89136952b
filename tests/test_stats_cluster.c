/* tests/test_stats_cluster.c (label stats): `chi stats` of a runtime in a
 * cluster, with no network: a snapshot with a synthetic admin.peers answer.
 * Every peer counter lands in the table, the JSON (which parses) and the
 * Prometheus text with its value; the rtt histogram is cumulative and ends
 * at +Inf == _count; several nodes' snapshots make one valid text each; a
 * runtime without a cluster writes the golden bytes of test_stats_format.c. */
#include "test_util.h"

#include "chi/modules/admin.h"
#include "prom_check.h"
#include "runtime/stats.h"
/* the formatters are the chi command's: compiled into this test */
#include "../tools/stats_format.c"
#include "../tools/stats_prom.c"
#include "stats_golden.h"

/* ---- a cluster: the snapshot's admin.peers answer ---- */
static chi_admin_peers_task pr;

/* a JSON value, strictly (RFC 8259 without \u checks); returns the end or
 * NULL */
static const char *json_value(const char *p, int depth);
static const char *json_ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}
static const char *json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	for (; *p != '"'; p++) {
		if (!*p || (unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\' && !strchr("\"\\/bfnrtu", *++p))
			return NULL;
	}
	return p + 1;
}
static const char *json_value(const char *p, int depth)
{
	p = json_ws(p);
	if (depth > 32)
		return NULL;
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		p = json_ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (close == '}') {
				if (!(p = json_string(json_ws(p))))
					return NULL;
				p = json_ws(p);
				if (*p++ != ':')
					return NULL;
			}
			if (!(p = json_value(p, depth + 1)))
				return NULL;
			p = json_ws(p);
			if (*p == close)
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	}
	if (*p == '"')
		return json_string(p);
	for (const char *w = "null\0true\0false\0"; *w; w += strlen(w) + 1)
		if (!strncmp(p, w, strlen(w)))
			return p + strlen(w);
	char *end;
	if (*p == '-' || (*p >= '0' && *p <= '9')) {
		strtod(p, &end);
		return end;
	}
	return NULL;
}
static void json_valid(const char *text)
{
	const char *e = json_value(text, 0);
	if (!e || *json_ws(e))
		fail_msg("not JSON at offset %ld:\n%s", e ? (long)(e - text) : -1L, text);
}

/* node `node` of a cluster of three: itself (self), peer 1 up with every
 * counter distinct, peer 2 down and never up (no epoch, no samples) */
static void cluster_snapshot(chi_stats_snapshot *s, int32_t node)
{
	golden_snapshot(s, &st, &ps);
	memset(&pr, 0, sizeof(pr));
	s->peers = &pr;
	pr.node = node;
	pr.count = 3;
	pr.peers[0] = (chi_net_peer_info){.node = (uint32_t)node, .state = CHI_PEER_SELF,
					  .port = 7000, .epoch = 0x1234};
	strcpy(pr.peers[0].host, "10.0.0.1");
	chi_net_peer_info *p = &pr.peers[1];
	*p = (chi_net_peer_info){.node = 1, .state = CHI_PEER_UP, .port = 7001,
				 .epoch = 0xfedcba9876543210ull, .tasks_sent = 1000, .tasks_done = 990,
				 .tasks_failed = 7, .tasks_received = 555, .bytes_sent = 123456789,
				 .bytes_received = 987654, .errors = 3, .stale = 2, .connects = 4,
				 .in_flight = 3, .rtt_count = 10, .rtt_sum_ns = 50000};
	strcpy(p->host, "node\"1");
	p->rtt_hist[12] = 6; /* [4096, 8192) ns */
	p->rtt_hist[13] = 3; /* [8192, 16384) */
	p->rtt_hist[20] = 1; /* [1 Mi, 2 Mi) */
	pr.peers[2] = (chi_net_peer_info){.node = 2, .state = CHI_PEER_DOWN, .port = 7002};
	strcpy(pr.peers[2].host, "10.0.0.3");
}

static void has(const char *text, const char *what)
{
	if (!strstr(text, what))
		fail_msg("missing: %s\nin:\n%s", what, text);
}

static void test_rtt_quantile(void **state)
{
	(void)state;
	uint64_t h[CHI_NET_RTT_BUCKETS] = {0};
	assert_int_equal(chi_rtt_quantile(h, 0.5), 0);
	h[12] = 6;
	h[13] = 3;
	h[20] = 1;
	assert_int_equal(chi_rtt_count(h), 10);
	assert_int_equal(chi_rtt_quantile(h, 0.5), 4096 + 2047); /* 5th of 10: bucket 12 */
	assert_int_equal(chi_rtt_quantile(h, 0.6), 4096 + 2047); /* 6th */
	assert_int_equal(chi_rtt_quantile(h, 0.7), 8192 + 4095); /* 7th */
	assert_int_equal(chi_rtt_quantile(h, 0.99), (1u << 20) + (1u << 19) - 1);
	h[0] = 100;
	assert_int_equal(chi_rtt_quantile(h, 0.5), 1);
	memset(h, 0, sizeof(h));
	h[CHI_NET_RTT_BUCKETS - 1] = 1; /* the last bucket: its lower bound */
	assert_int_equal(chi_rtt_quantile(h, 0.5), 1ull << (CHI_NET_RTT_BUCKETS - 1));
}

/* a runtime without a cluster (admin.peers: node -1, no peers) writes the
 * golden bytes, through the one-node and the several-node functions */
static void test_format_no_cluster(void **state)
{
	(void)state;
	chi_stats_snapshot s;
	golden_snapshot(&s, &st, &ps);
	memset(&pr, 0, sizeof(pr));
	pr.node = -1;
	s.peers = &pr;
	chi_cli_stats_table(&s, buf, sizeof(buf));
	assert_string_equal(buf, golden_table);
	chi_cli_stats_table_nodes(&s, 1, buf, sizeof(buf));
	assert_string_equal(buf, golden_table);
	chi_cli_stats_json(&s, buf, sizeof(buf));
	assert_string_equal(buf, golden_json);
	json_valid(buf);
	chi_cli_stats_prometheus(&s, buf, sizeof(buf));
	assert_string_equal(buf, golden_prometheus);
	chi_cli_stats_prometheus_nodes(&s, 1, buf, sizeof(buf));
	assert_string_equal(buf, golden_prometheus);
	assert_null(strstr(buf, "chi_peer_"));
}

static void test_format_cluster_table(void **state)
{
	(void)state;
	chi_stats_snapshot s;
	cluster_snapshot(&s, 0);
	size_t n = chi_cli_stats_table(&s, buf, sizeof(buf));
	assert_int_equal(n, strlen(buf));
	/* the header names the node; its last word stays the lanes */
	static const char hd[] = "runtime r\"1\\   node 0   uptime 12.3 s   workers 2   lanes 2\n";
	assert_true(!strncmp(buf, hd, strlen(hd)));
	/* the golden table, then the peers section */
	has(buf, golden_table + strlen("runtime r\"1\\   uptime 12.3 s   workers 2   lanes 2\n"));
	has(buf,
	    "\npeers of node 0\n"
	    "node  state      address               epoch            connects in_flight       sent       done   failed   received     bytes_sent     bytes_recv   errors    stale     rtt_n     rtt_p50     rtt_p99\n"
	    "0     self       10.0.0.1:7000         0000000000001234        0         0          0          0        0          0              0              0        0        0         0           -           -\n"
	    "1     up         node\"1:7001           fedcba9876543210        4         3       1000        990        7        555      123456789         987654        3        2        10     6143 ns   1572.9 us\n"
	    "2     down       10.0.0.3:7002         -                       0         0          0          0        0          0              0              0        0        0         0           -           -\n");
}

static void test_format_cluster_json(void **state)
{
	(void)state;
	chi_stats_snapshot s;
	cluster_snapshot(&s, 0);
	chi_cli_stats_json(&s, buf, sizeof(buf));
	json_valid(buf);
	/* the golden object's keys, then the cluster */
	assert_true(!strncmp(buf, golden_json, strlen(golden_json) - 3));
	has(buf, "],\"cluster\":{\"node\":0,\"peers\":[{\"node\":0,\"state\":\"self\",\"host\":\"10.0.0.1\","
		 "\"port\":7000,\"epoch\":\"0000000000001234\",");
	has(buf, "{\"node\":1,\"state\":\"up\",\"host\":\"node\\\"1\",\"port\":7001,"
		 "\"epoch\":\"fedcba9876543210\",\"connects\":4,\"in_flight\":3,\"tasks_sent\":1000,"
		 "\"tasks_done\":990,\"tasks_failed\":7,\"tasks_received\":555,\"bytes_sent\":123456789,"
		 "\"bytes_received\":987654,\"errors\":3,\"stale\":2,\"rtt_ns\":{\"samples\":10,"
		 "\"sum\":50000,\"p50\":6143,\"p99\":1572863},\"rtt_hist\":[0,0,0,0,0,0,0,0,0,0,0,0,6,3,"
		 "0,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,0]}");
	has(buf, "{\"node\":2,\"state\":\"down\",\"host\":\"10.0.0.3\",\"port\":7002,\"epoch\":null,"
		 "\"connects\":0,");
	has(buf, "\"rtt_ns\":{\"samples\":0,\"sum\":0,\"p50\":null,\"p99\":null}");
	has(buf, "]}]}}\n");
	assert_null(strstr(buf, ":-"));
}

/* the count of a Prometheus sample whose line starts with `series` */
static double prom_value(const char *text, const char *series)
{
	char pat[512];
	snprintf(pat, sizeof(pat), "\n%s ", series);
	const char *p = strstr(text, pat);
	if (!p)
		fail_msg("no series %s in:\n%s", series, text);
	return strtod(p + strlen(pat), NULL);
}

static void test_format_cluster_prometheus(void **state)
{
	(void)state;
	chi_stats_snapshot s;
	cluster_snapshot(&s, 0);
	chi_cli_stats_prometheus(&s, buf, sizeof(buf));
	int n;
	const char *err = prom_check(buf, &n);
	if (err)
		fail_msg("prometheus: %s\n%s", err, buf);
	/* every series of the node carries node="0"; the node's own entry has
	 * no peer series */
	has(buf, "\nchi_workers{runtime=\"r\\\"1\\\\\",node=\"0\"} 2\n");
	assert_null(strstr(buf, "peer=\"0\""));
#define PEER(m) "chi_peer_" m "{runtime=\"r\\\"1\\\\\",node=\"0\",peer=\"1\"}"
#define PEER2(m) "chi_peer_" m "{runtime=\"r\\\"1\\\\\",node=\"0\",peer=\"2\"}"
	assert_true(prom_value(buf, PEER("up")) == 1);
	assert_true(prom_value(buf, PEER2("up")) == 0);
	assert_true(prom_value(buf, PEER("connects_total")) == 4);
	assert_true(prom_value(buf, PEER("in_flight")) == 3);
	assert_true(prom_value(buf, PEER("tasks_sent_total")) == 1000);
	assert_true(prom_value(buf, PEER("tasks_done_total")) == 990);
	assert_true(prom_value(buf, PEER("tasks_failed_total")) == 7);
	assert_true(prom_value(buf, PEER("tasks_received_total")) == 555);
	assert_true(prom_value(buf, PEER("bytes_sent_total")) == 123456789);
	assert_true(prom_value(buf, PEER("bytes_received_total")) == 987654);
	assert_true(prom_value(buf, PEER("errors_total")) == 3);
	assert_true(prom_value(buf, PEER("stale_replies_total")) == 2);
	assert_true(prom_value(buf, PEER2("tasks_sent_total")) == 0);
	has(buf, "# TYPE chi_peer_rtt_seconds histogram\n");
	/* cumulative: below 4096 ns none, [4096, 8192) 6, then 9, then 10 */
#define RTT(le) "chi_peer_rtt_seconds_bucket{runtime=\"r\\\"1\\\\\",node=\"0\",peer=\"1\",le=\"" le "\"}"
	assert_true(prom_value(buf, RTT("1e-09")) == 0);
	assert_true(prom_value(buf, RTT("4.095e-06")) == 0);
	assert_true(prom_value(buf, RTT("8.191e-06")) == 6);
	assert_true(prom_value(buf, RTT("1.6383e-05")) == 9);
	assert_true(prom_value(buf, RTT("0.002097151")) == 10);
	assert_true(prom_value(buf, RTT("2.147483647")) == 10);
	assert_true(prom_value(buf, RTT("+Inf")) == 10);
	assert_true(prom_value(buf, "chi_peer_rtt_seconds_count{runtime=\"r\\\"1\\\\\",node=\"0\",peer=\"1\"}") == 10);
	assert_true(prom_value(buf, "chi_peer_rtt_seconds_sum{runtime=\"r\\\"1\\\\\",node=\"0\",peer=\"1\"}") == 5e-05);
	assert_true(prom_value(buf, "chi_peer_rtt_seconds_count{runtime=\"r\\\"1\\\\\",node=\"0\",peer=\"2\"}") == 0);
	/* every bucket of peer 1 in increasing le, counts never falling */
	double last = -1;
	int buckets = 0;
	for (const char *p = buf; (p = strstr(p, "\nchi_peer_rtt_seconds_bucket{")); p++) {
		if (!strstr(p, "peer=\"1\"") || strstr(p, "peer=\"1\"") > strchr(p + 1, '\n'))
			continue;
		double v = strtod(strchr(p, '}') + 2, NULL);
		assert_true(v >= last);
		last = v;
		buckets++;
	}
	assert_int_equal(buckets, CHI_NET_RTT_BUCKETS); /* 31 bounds and +Inf */
	assert_true(last == 10);

	/* the checker's teeth: a falling bucket, a _count unlike +Inf */
	static char bad[sizeof(buf)];
	snprintf(bad, sizeof(bad), "%s", buf);
	char *p = strstr(bad, RTT("1.6383e-05") " 9\n");
	assert_non_null(p);
	p[strlen(RTT("1.6383e-05")) + 1] = '5';
	assert_string_equal(prom_check(bad, &n), "histogram buckets not cumulative");
	snprintf(bad, sizeof(bad), "%s", buf);
	p = strstr(bad, "chi_peer_rtt_seconds_count{runtime=\"r\\\"1\\\\\",node=\"0\",peer=\"1\"} 10\n");
	assert_non_null(p);
	p[strlen("chi_peer_rtt_seconds_count{runtime=\"r\\\"1\\\\\",node=\"0\",peer=\"1\"} 1")] = '1';
	assert_string_equal(prom_check(bad, &n), "histogram _count differs from its +Inf bucket");
#undef PEER
#undef PEER2
#undef RTT
}

/* chi stats --cluster: node 0's snapshot and node 1's */
static void test_format_nodes(void **state)
{
	(void)state;
	static chi_admin_stats_task st1;
	static chi_admin_pool_stats_task ps1;
	static chi_admin_peers_task pr1;
	chi_stats_snapshot ss[2];
	cluster_snapshot(&ss[0], 0);
	golden_snapshot(&ss[1], &st1, &ps1);
	pr1 = pr; /* node 1's view: node 0 up, with the counters node 0 had of 1 */
	pr1.node = 1;
	pr1.peers[0] = pr.peers[1];
	pr1.peers[0].node = 0;
	pr1.peers[1] = pr.peers[0];
	pr1.peers[1].node = 1;
	ss[1].peers = &pr1;
	st1.nworkers = 7;

	chi_cli_stats_table_nodes(ss, 2, buf, sizeof(buf));
	assert_true(!strncmp(buf, "node 0\nruntime r\"1\\   node 0   uptime", 37));
	has(buf, "\n\nnode 1\nruntime r\"1\\   node 1   uptime 12.3 s   workers 7   lanes 2\n");
	has(buf, "\npeers of node 1\n");

	chi_cli_stats_json_nodes(ss, 2, buf, sizeof(buf));
	json_valid(buf);
	assert_true(!strncmp(buf, "{\"nodes\":[{\"runtime\":", 20));
	has(buf, "\"cluster\":{\"node\":0,");
	has(buf, "},{\"runtime\":");
	has(buf, "\"workers_running\":7,");
	has(buf, "\"cluster\":{\"node\":1,");
	has(buf, "}]}\n");

	chi_cli_stats_prometheus_nodes(ss, 2, buf, sizeof(buf));
	int n;
	const char *err = prom_check(buf, &n);
	if (err)
		fail_msg("prometheus of two nodes: %s\n%s", err, buf);
	has(buf, "\nchi_workers{runtime=\"r\\\"1\\\\\",node=\"0\"} 2\n"
		 "chi_workers{runtime=\"r\\\"1\\\\\",node=\"1\"} 7\n");
	assert_true(prom_value(buf, "chi_peer_tasks_sent_total{runtime=\"r\\\"1\\\\\",node=\"1\",peer=\"0\"}") == 1000);
	assert_true(prom_value(buf, "chi_peer_tasks_sent_total{runtime=\"r\\\"1\\\\\",node=\"0\",peer=\"1\"}") == 1000);
	/* each family once: as many HELP lines as with one node */
	int helps2 = 0, helps1 = 0;
	for (const char *p = buf; (p = strstr(p, "# HELP ")); p++)
		helps2++;
	chi_cli_stats_prometheus(&ss[0], buf, sizeof(buf));
	for (const char *p = buf; (p = strstr(p, "# HELP ")); p++)
		helps1++;
	assert_int_equal(helps1, helps2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rtt_quantile),
		cmocka_unit_test(test_format_no_cluster),
		cmocka_unit_test(test_format_cluster_table),
		cmocka_unit_test(test_format_cluster_json),
		cmocka_unit_test(test_format_cluster_prometheus),
		cmocka_unit_test(test_format_nodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
