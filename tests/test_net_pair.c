/* tests/test_net_pair.c: the net layer (src/net/net.h) between two
 * embedded runtimes of one process, A (node 0) and B (node 1), each with
 * its own net thread, over UCX pinned to loopback (UCX_NET_DEVICES=lo,
 * UCX_TLS from CHI_TEST_UCX_TLS or "tcp"). The runtimes themselves run
 * without a cluster (cluster.node -1): this test drives chi_net_* directly,
 * as src/runtime/route.c does. Asserted on data:
 *   - the key file must exist and be 0600 (-ENOENT, -EACCES);
 *   - 256 stamped double_plus tasks from A, 32 in flight, run on B: every
 *     output decodes to value * 2 + id, each target done exactly once;
 *     A's counters for B: sent == done == 256, none failed, none in
 *     flight, round trips sampled; B's for A: 256 received;
 *   - a 1 MiB-class echo and large_output (rendezvous) byte for byte;
 *   - errors from the far side: an unknown pool (-ENOENT), a pool naming a
 *     third node (-EHOSTUNREACH), an unknown node (-EHOSTUNREACH at once),
 *     this node (-EINVAL);
 *   - a task past A's cluster.task_timeout_ms ends -ETIMEDOUT and its late
 *     reply is counted stale;
 *   - a third net with the wrong key is refused: its forward to B is
 *     -EHOSTDOWN, B counts errors for it, it never comes UP;
 *   - stopping B with tasks in flight ends each of A's targets with
 *     -ESHUTDOWN (or -EHOSTDOWN) within 3 s; new forwards fail at once
 *     (-EHOSTDOWN); B started again (a new epoch) is used again.
 * Every wait is bounded. */
#include "test_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <pthread.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "chi/cluster.h"
#include "chi/modules/test.h"
#include "net/net.h"

static char dir[64];
static char key[128], badkey[128];
static uint32_t port[3];
static chi_runtime *rt[2];
static chi_net *net[3];
static uint64_t epoch_seq = 0x1000;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* n distinct TCP ports nothing listens on now (the kernel's picks, each
 * held until all are picked, so no two are the same) */
static void free_ports(uint32_t *out, int n)
{
	int fds[8];
	assert_true(n <= 8);
	for (int i = 0; i < n; i++) {
		struct sockaddr_in a = {0};
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		socklen_t len = sizeof(a);
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(fds[i] >= 0);
		assert_int_equal(bind(fds[i], (struct sockaddr *)&a, sizeof(a)), 0);
		assert_int_equal(getsockname(fds[i], (struct sockaddr *)&a, &len), 0);
		out[i] = ntohs(a.sin_port);
	}
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* The net config of node k (nodes 0..n-1 in peers), key file kf. */
static void net_config(chi_config *c, uint32_t k, uint32_t n, const char *kf)
{
	chi_config_defaults(c);
	c->cluster.node = (int32_t)k;
	snprintf(c->cluster.key_file, sizeof(c->cluster.key_file), "%s", kf);
	c->cluster.heartbeat_ms = 100;
	c->cluster.peer_timeout_ms = 1500;
	c->cluster.task_timeout_ms = 10000;
	c->cluster.retry_ms = 100;
	c->first_busy_wait_us = 200;
	c->cluster.npeers = n;
	for (uint32_t j = 0; j < n; j++) {
		c->cluster.peers[j].node = j;
		snprintf(c->cluster.peers[j].host, sizeof(c->cluster.peers[j].host), "127.0.0.1");
		c->cluster.peers[j].port = port[j];
	}
}

static int start_net_t(uint32_t k, uint32_t n, const char *kf, chi_client *local, chi_net **out,
		       uint32_t task_timeout_ms)
{
	chi_config c;
	net_config(&c, k, n, kf);
	c.cluster.task_timeout_ms = task_timeout_ms;
	char err[256] = "";
	int rc = chi_net_start(&c, ++epoch_seq, local, out, err, sizeof(err));
	if (rc)
		print_message("chi_net_start node %u: %d %s\n", k, rc, err);
	return rc;
}

static int start_net(uint32_t k, uint32_t n, const char *kf, chi_client *local, chi_net **out)
{
	return start_net_t(k, n, kf, local, out, 10000);
}

static chi_net_peer_info peer_of(chi_net *n, uint32_t node)
{
	chi_net_peer_info info[8];
	uint32_t k = chi_net_peers(n, info, 8);
	for (uint32_t i = 0; i < k; i++)
		if (info[i].node == node)
			return info[i];
	fail_msg("node %u not in the peer list", node);
	return info[0];
}

/* Wait (bounded) until n sees node in `state`. */
static void wait_state(chi_net *n, uint32_t node, uint32_t state, uint64_t ms)
{
	uint64_t end = now_ms() + ms;
	while (peer_of(n, node).state != state) {
		if (now_ms() > end)
			fail_msg("node %u: state %u, want %u after %llu ms", node, peer_of(n, node).state,
				 state, (unsigned long long)ms);
		usleep(2000);
	}
}

typedef struct sync_target {
	uint32_t done;
	int64_t result;
	chi_net_target t;
} sync_target;

static void target_init(sync_target *s, uint8_t *out, uint32_t out_size)
{
	s->done = 0;
	s->result = INT64_MIN;
	s->t = (chi_net_target){NULL, 0, out, out_size, 0, &s->done, &s->result};
}

/* Wait (bounded) for s; returns its result. */
static int64_t target_wait(sync_target *s, uint64_t ms)
{
	uint64_t end = now_ms() + ms;
	while (!__atomic_load_n(&s->done, __ATOMIC_ACQUIRE)) {
		if (now_ms() > end)
			fail_msg("target not done after %llu ms", (unsigned long long)ms);
		usleep(100);
	}
	return s->result;
}

/* The wire of task t (header + inputs) into w: its length. */
static uint32_t wire_of(chi_task *t, const chi_codec *codec, uint8_t *w)
{
	memcpy(w, t, sizeof(*t));
	chi_ar a;
	chi_ar_init(&a, w + sizeof(*t), t->in_size);
	assert_int_equal(codec->ser_in(&a, t), 0);
	assert_int_equal(a.pos, t->in_size);
	return (uint32_t)sizeof(*t) + t->in_size;
}

static chi_runtime *runtime(const char *tag)
{
	chi_config c;
	chi_config_defaults(&c);
	snprintf(c.name, sizeof(c.name), "%s%d", tag, (int)getpid());
	c.num_workers = 1;
	c.npools = 2; /* admin, test */
	c.first_busy_wait_us = 200;
	c.cluster.node = -1; /* the test drives the nets itself */
	chi_runtime *r = NULL;
	assert_int_equal(chi_runtime_start(&c, &r), 0);
	return r;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/chi-net-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(key, sizeof(key), "%s/key", dir);
	snprintf(badkey, sizeof(badkey), "%s/badkey", dir);
	write_file(key, "chi-net-pair-test-key-0123456789\n", 0600);
	write_file(badkey, "not-the-cluster-key\n", 0600);
	free_ports(port, 3);
	rt[0] = runtime("netA");
	rt[1] = runtime("netB");
	assert_int_equal(start_net(0, 2, key, chi_runtime_client(rt[0]), &net[0]), 0);
	assert_int_equal(start_net(1, 3, key, chi_runtime_client(rt[1]), &net[1]), 0);
	assert_int_equal(chi_net_node(net[0]), 0);
	assert_int_equal(chi_net_node(net[1]), 1);
	wait_state(net[0], 1, CHI_PEER_UP, 10000);
	wait_state(net[1], 0, CHI_PEER_UP, 10000);
	return 0;
}

static int torn_down;

static int teardown(void **state)
{
	(void)state;
	torn_down = 1;
	for (int i = 2; i >= 0; i--) {
		chi_net_stop(net[i]);
		net[i] = NULL;
	}
	for (int i = 0; i < 2; i++)
		if (rt[i]) {
			chi_runtime_stop(rt[i]);
			rt[i] = NULL;
		}
	unlink(key);
	unlink(badkey);
	rmdir(dir);
	return 0;
}

static void test_key_file(void **state)
{
	(void)state;
	chi_config c;
	char err[256], path[160];
	chi_net *n = NULL;
	snprintf(path, sizeof(path), "%s/nokey", dir);
	net_config(&c, 2, 3, path);
	assert_int_equal(chi_net_start(&c, 1, NULL, &n, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "nokey"));
	snprintf(path, sizeof(path), "%s/openkey", dir);
	write_file(path, "k\n", 0644);
	net_config(&c, 2, 3, path);
	assert_int_equal(chi_net_start(&c, 1, NULL, &n, err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "0600"));
	unlink(path);
	assert_null(n);
}

#define NTASKS 256
#define INFLIGHT 32

static void test_double_plus(void **state)
{
	(void)state;
	static sync_target tg[NTASKS];
	static uint8_t out[NTASKS][8];
	chi_net_peer_info a0 = peer_of(net[0], 1), b0 = peer_of(net[1], 0);
	uint8_t w[64];
	for (uint32_t i = 0; i < NTASKS; i++) {
		if (i >= INFLIGHT)
			target_wait(&tg[i - INFLIGHT], 5000);
		chi_test_double_plus_task t;
		chi_test_double_plus_init(&t, CHI_POOL_TEST, 1000 + i, i);
		uint32_t len = wire_of(&t.hdr, &chi_test_double_plus_codec, w);
		target_init(&tg[i], out[i], t.hdr.out_size);
		assert_int_equal(chi_net_forward(net[0], 1, w, len, &tg[i].t), 0);
	}
	for (uint32_t i = 0; i < NTASKS; i++) {
		/* double_plus's result is its value too */
		assert_int_equal(target_wait(&tg[i], 5000), (1000 + i) * 2 + i);
		assert_int_equal(tg[i].done, 1);
		chi_test_double_plus_task t;
		chi_test_double_plus_init(&t, CHI_POOL_TEST, 0, 0);
		chi_ar a;
		chi_ar_init(&a, out[i], sizeof(out[i]));
		assert_int_equal(chi_test_double_plus_codec.de_out(&a, &t.hdr), 0);
		assert_int_equal(t.result, (1000 + i) * 2 + i);
	}
	chi_net_peer_info a1 = peer_of(net[0], 1), b1 = peer_of(net[1], 0);
	assert_int_equal(a1.state, CHI_PEER_UP);
	assert_int_equal(a1.tasks_sent - a0.tasks_sent, NTASKS);
	assert_int_equal(a1.tasks_done - a0.tasks_done, NTASKS);
	assert_int_equal(a1.tasks_failed - a0.tasks_failed, 0);
	assert_int_equal(a1.in_flight, 0);
	assert_true(a1.rtt_count - a0.rtt_count >= NTASKS);
	assert_true(a1.bytes_sent > a0.bytes_sent);
	assert_true(a1.epoch != 0);
	assert_int_equal(b1.tasks_received - b0.tasks_received, NTASKS);
	uint64_t h = 0;
	for (uint32_t b = 0; b < CHI_NET_RTT_BUCKETS; b++)
		h += a1.rtt_hist[b];
	assert_int_equal(h, a1.rtt_count);
	print_message("A->B: %u tasks, mean round trip %.1f us (heartbeats included)\n", NTASKS,
		      (double)(a1.rtt_sum_ns - a0.rtt_sum_ns) / (double)(a1.rtt_count - a0.rtt_count) / 1e3);
}

static void test_large(void **state)
{
	(void)state;
	const uint32_t big = (1u << 20) - 64;
	uint8_t *data = malloc(big), *w = malloc(big + 64), *out = malloc(big + 8);
	uint8_t *reply = malloc(big);
	assert_true(data && w && out && reply);
	for (uint32_t i = 0; i < big; i++)
		data[i] = (uint8_t)(i * 131u + 7u);
	/* echo: 1 MiB in, 1 MiB back */
	chi_test_echo_task e;
	chi_test_echo_init(&e, CHI_POOL_TEST, data, big, reply, big);
	uint32_t len = wire_of(&e.hdr, &chi_test_echo_codec, w);
	sync_target s;
	target_init(&s, out, e.hdr.out_size);
	assert_int_equal(chi_net_forward(net[0], 1, w, len, &s.t), 0);
	assert_true(target_wait(&s, 10000) >= 0);
	chi_ar a;
	chi_ar_init(&a, out, e.hdr.out_size);
	assert_int_equal(chi_test_echo_codec.de_out(&a, &e.hdr), 0);
	assert_int_equal(e.reply_len, big);
	assert_memory_equal(reply, data, big);
	/* large_output: a small request, a 1 MiB reply */
	chi_test_large_task l;
	chi_test_large_init(&l, CHI_POOL_TEST, 77, big, reply);
	len = wire_of(&l.hdr, &chi_test_large_codec, w);
	target_init(&s, out, l.hdr.out_size);
	assert_int_equal(chi_net_forward(net[0], 1, w, len, &s.t), 0);
	assert_true(target_wait(&s, 10000) >= 0);
	chi_ar_init(&a, out, l.hdr.out_size);
	assert_int_equal(chi_test_large_codec.de_out(&a, &l.hdr), 0);
	assert_int_equal(l.got, big);
	for (uint32_t i = 0; i < big; i++)
		if (reply[i] != chi_test_pattern(77, i))
			fail_msg("large_output byte %u: %u, want %u", i, reply[i], chi_test_pattern(77, i));
	free(data);
	free(w);
	free(out);
	free(reply);
}

static int64_t one_noop(uint32_t node, chi_pool_id pool, int *rc)
{
	chi_test_noop_task t;
	chi_test_noop_init(&t, pool);
	uint8_t w[64];
	uint32_t len = wire_of(&t.hdr, &chi_test_noop_codec, w);
	sync_target s;
	target_init(&s, NULL, 0);
	*rc = chi_net_forward(net[0], node, w, len, &s.t);
	if (*rc)
		return *rc;
	return target_wait(&s, 5000);
}

static void test_errors(void **state)
{
	(void)state;
	int rc;
	assert_int_equal(one_noop(1, CHI_POOL_TEST, &rc), 0);
	assert_int_equal(one_noop(1, 99, &rc), -ENOENT); /* the far runtime's verdict */
	assert_int_equal(rc, 0);
	assert_int_equal(one_noop(1, CHI_POOL_ON_NODE(CHI_POOL_TEST, 2), &rc), -EHOSTUNREACH);
	assert_int_equal(rc, 0);
	assert_int_equal(one_noop(1, CHI_POOL_ON_NODE(CHI_POOL_TEST, 1), &rc), 0);
	one_noop(5, CHI_POOL_TEST, &rc);
	assert_int_equal(rc, -EHOSTUNREACH); /* no such node */
	one_noop(0, CHI_POOL_TEST, &rc);
	assert_int_equal(rc, -EINVAL); /* this node */
}

/* A third node C (node 2, the right key, cluster.task_timeout_ms 500)
 * sends B a task that runs 1 s. */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* One noop at a time, A -> B -> A: every one completes with 0; the median
 * round trip is printed (not asserted: the machine is shared). */
static void test_roundtrip(void **state)
{
	(void)state;
	enum { R = 500 };
	static uint64_t ns[R];
	int rc;
	for (int i = 0; i < R; i++) {
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		assert_int_equal(one_noop(1, CHI_POOL_TEST, &rc), 0);
		clock_gettime(CLOCK_MONOTONIC, &b);
		ns[i] = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000ull + (uint64_t)b.tv_nsec -
			(uint64_t)a.tv_nsec;
	}
	qsort(ns, R, sizeof(ns[0]), cmp_u64);
	print_message("remote noop round trip (UCX_TLS=%s): median %.1f us, p99 %.1f us\n",
		      getenv("UCX_TLS"), (double)ns[R / 2] / 1e3, (double)ns[R * 99 / 100] / 1e3);
}

static void test_timeout(void **state)
{
	(void)state;
	chi_net *c = NULL;
	assert_int_equal(start_net_t(2, 3, key, chi_runtime_client(rt[0]), &c, 500), 0);
	wait_state(c, 1, CHI_PEER_UP, 10000);
	chi_test_arg_task t;
	chi_test_arg_init(&t, CHI_POOL_TEST, CHI_TEST_SPIN, 1000ull * 1000 * 1000); /* 1 s > 0.5 s */
	uint8_t w[64];
	uint32_t len = wire_of(&t.hdr, &chi_test_arg_codec, w);
	sync_target s;
	target_init(&s, NULL, 0);
	uint64_t t0 = now_ms();
	assert_int_equal(chi_net_forward(c, 1, w, len, &s.t), 0);
	assert_int_equal(target_wait(&s, 3000), -ETIMEDOUT);
	uint64_t took = now_ms() - t0;
	print_message("timed out after %llu ms (deadline 500 ms)\n", (unsigned long long)took);
	/* the deadline, found by the thread's timer (loaded machines and
	 * sanitizer builds add hundreds of ms), well before the 3 s wait */
	assert_true(took >= 450 && took < 1400);
	/* the late reply is dropped and counted (N3) */
	uint64_t end = now_ms() + 3000;
	while (peer_of(c, 1).stale == 0) {
		if (now_ms() > end)
			fail_msg("the late reply was not counted stale");
		usleep(5000);
	}
	chi_net_peer_info i = peer_of(c, 1);
	assert_int_equal(i.stale, 1);
	assert_int_equal(i.tasks_failed, 1);
	assert_int_equal(i.tasks_done, 0);
	assert_int_equal(i.state, CHI_PEER_UP); /* heartbeats kept it up meanwhile */
	chi_net_stop(c);
	wait_state(net[1], 2, CHI_PEER_DOWN, 3000);
}

static void test_wrong_key(void **state)
{
	(void)state;
	uint64_t e0 = peer_of(net[1], 2).errors, r0 = peer_of(net[1], 2).tasks_received;
	assert_int_equal(start_net(2, 3, badkey, chi_runtime_client(rt[0]), &net[2]), 0);
	uint64_t end = now_ms() + 5000;
	while (peer_of(net[1], 2).errors == e0 || peer_of(net[2], 1).errors == 0) {
		if (now_ms() > end)
			fail_msg("the wrong key was not refused");
		usleep(5000);
	}
	assert_int_not_equal(peer_of(net[1], 2).state, CHI_PEER_UP);
	assert_int_not_equal(peer_of(net[2], 1).state, CHI_PEER_UP);
	chi_test_noop_task t;
	chi_test_noop_init(&t, CHI_POOL_TEST);
	uint8_t w[64];
	uint32_t len = wire_of(&t.hdr, &chi_test_noop_codec, w);
	sync_target s;
	target_init(&s, NULL, 0);
	assert_int_equal(chi_net_forward(net[2], 1, w, len, &s.t), -EHOSTDOWN);
	assert_int_equal(s.done, 0); /* untouched */
	/* a few retries later: still refused, A and B still fine */
	usleep(300 * 1000);
	assert_int_not_equal(peer_of(net[2], 1).state, CHI_PEER_UP);
	assert_int_equal(peer_of(net[1], 2).tasks_received, r0);
	int rc;
	assert_int_equal(one_noop(1, CHI_POOL_TEST, &rc), 0);
	chi_net_stop(net[2]);
	net[2] = NULL;
}

static void *stop_b(void *arg)
{
	(void)arg;
	chi_net_stop(net[1]);
	net[1] = NULL;
	return NULL;
}

static void test_stop_peer(void **state)
{
	(void)state;
	enum { N = 4 };
	sync_target s[N];
	uint8_t w[64];
	chi_test_arg_task t;
	chi_test_arg_init(&t, CHI_POOL_TEST, CHI_TEST_SPIN, 200ull * 1000 * 1000);
	uint32_t len = wire_of(&t.hdr, &chi_test_arg_codec, w);
	for (int i = 0; i < N; i++) {
		target_init(&s[i], NULL, 0);
		assert_int_equal(chi_net_forward(net[0], 1, w, len, &s[i].t), 0);
	}
	usleep(50 * 1000); /* on their way, the first one running on B */
	/* B stops in a thread of its own: its stop waits for the tasks that
	 * run there (bounded), A's targets must not */
	uint64_t t0 = now_ms();
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, stop_b, NULL), 0);
	for (int i = 0; i < N; i++) {
		int64_t r = target_wait(&s[i], 3000);
		assert_true(r == -ESHUTDOWN || r == -EHOSTDOWN);
	}
	uint64_t took = now_ms() - t0;
	print_message("B stopped: A's %d targets ended in %llu ms\n", N, (unsigned long long)took);
	assert_true(took < 1400); /* the goodbye, before A's peer_timeout_ms (1500) */
	assert_int_equal(pthread_join(th, NULL), 0);
	wait_state(net[0], 1, CHI_PEER_DOWN, 3000);
	sync_target x;
	target_init(&x, NULL, 0);
	assert_int_equal(chi_net_forward(net[0], 1, w, len, &x.t), -EHOSTDOWN); /* N6 */
	chi_net_peer_info a = peer_of(net[0], 1);
	assert_int_equal(a.in_flight, 0);
	uint64_t old_epoch = a.epoch;
	/* B again, a new epoch: A reconnects and uses it */
	assert_int_equal(start_net(1, 3, key, chi_runtime_client(rt[1]), &net[1]), 0);
	wait_state(net[0], 1, CHI_PEER_UP, 5000);
	assert_true(peer_of(net[0], 1).epoch != old_epoch);
	assert_true(peer_of(net[0], 1).connects >= 2);
	int rc;
	assert_int_equal(one_noop(1, CHI_POOL_TEST, &rc), 0);
	assert_int_equal(rc, 0);
}

int main(void)
{
	/* before the first UCX call: loopback only, an explicit transport */
	setenv("UCX_NET_DEVICES", "lo", 1);
	const char *tls = getenv("CHI_TEST_UCX_TLS");
	setenv("UCX_TLS", tls && *tls ? tls : "tcp", 1);
	chi_config c;
	chi_config_defaults(&c);
	chi_net *probe = NULL;
	char err[128];
	if (chi_net_start(&c, 1, NULL, &probe, err, sizeof(err)) == -ENOTSUP) {
		fprintf(stderr, "skip: %s\n", err);
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_double_plus),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_stop_peer),
	};
	int failed = cmocka_run_group_tests(tests, setup, teardown);
	if (!torn_down) /* the group's setup failed: cmocka skips teardown */
		teardown(NULL);
	return failed;
}
