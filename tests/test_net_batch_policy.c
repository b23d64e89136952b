/* tests/test_net_batch_policy.c: B5 in src/net/conn.c, the batch size a
 * runtime starts with. Batches stay on (CHI_NET_BATCH_MAX) unless every
 * other peer is on this host and UCX_TLS lets UCX carry active messages by
 * shared memory; then they are off (0), where they cost ~40% of the
 * throughput at 256 in flight. Each case sets cluster.peers and UCX_TLS and
 * checks the answer. */
#include "test_util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/core.h"

static chi_cluster_conf two(const char *other_host)
{
	chi_cluster_conf cl;
	memset(&cl, 0, sizeof(cl));
	cl.npeers = 2;
	cl.peers[0].node = 0;
	snprintf(cl.peers[0].host, sizeof(cl.peers[0].host), "127.0.0.1");
	cl.peers[0].port = 7001;
	cl.peers[1].node = 1;
	snprintf(cl.peers[1].host, sizeof(cl.peers[1].host), "%s", other_host);
	cl.peers[1].port = 7002;
	return cl;
}

static uint32_t with_tls(const char *tls, const chi_cluster_conf *cl)
{
	if (tls)
		setenv("UCX_TLS", tls, 1);
	else
		unsetenv("UCX_TLS");
	return chi_net_batch_default(cl, 0);
}

static void test_one_host(void **s)
{
	(void)s;
	chi_cluster_conf cl = two("127.0.0.1");
	assert_int_equal(with_tls(NULL, &cl), 0);          /* UCX's default: all */
	assert_int_equal(with_tls("sm,tcp", &cl), 0);
	assert_int_equal(with_tls("posix,tcp", &cl), 0);
	assert_int_equal(with_tls("self,sm,tcp", &cl), 0);
	assert_int_equal(with_tls("^tcp", &cl), 0);        /* all but tcp */
	assert_int_equal(with_tls("tcp", &cl), CHI_NET_BATCH_MAX);
	assert_int_equal(with_tls("^sm", &cl), CHI_NET_BATCH_MAX);
	assert_int_equal(with_tls("rc,ud", &cl), CHI_NET_BATCH_MAX);
	cl = two("localhost");
	assert_int_equal(with_tls("sm,tcp", &cl), 0);
	char me[256] = "";
	assert_int_equal(gethostname(me, sizeof(me)), 0);
	me[sizeof(me) - 1] = 0;
	cl = two(me);
	assert_int_equal(with_tls(NULL, &cl), 0);
}

static void test_other_hosts(void **s)
{
	(void)s;
	chi_cluster_conf cl = two("10.1.2.3");
	assert_int_equal(with_tls(NULL, &cl), CHI_NET_BATCH_MAX);
	assert_int_equal(with_tls("sm,tcp", &cl), CHI_NET_BATCH_MAX);
	cl = two("127.0.0.1");
	cl.npeers = 3; /* one peer elsewhere: on for all */
	cl.peers[2].node = 2;
	snprintf(cl.peers[2].host, sizeof(cl.peers[2].host), "node7.example");
	assert_int_equal(with_tls("sm,tcp", &cl), CHI_NET_BATCH_MAX);
	cl.npeers = 1; /* only this node listed: nothing to decide */
	assert_int_equal(with_tls("sm,tcp", &cl), CHI_NET_BATCH_MAX);
	unsetenv("UCX_TLS");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_host),
		cmocka_unit_test(test_other_hosts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
