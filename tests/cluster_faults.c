/* tests/cluster_faults.c (labels cluster, fault): the failure rows of
 * docs/cluster.md, with real daemons (tests/cluster_util.h):
 *   - a peer SIGKILLed with 200 tasks in flight to it: every future ends
 *     with an error within a bound, the local pool keeps serving, the peer
 *     restarted (a new epoch) is used again;
 *   - a peer SIGSTOPped: its tasks end with an error at the silence bound
 *     (cluster.peer_timeout_ms), never a second completion once it goes on
 *     (its late replies are dropped and counted stale; the blocks, reused,
 *     carry only their new tasks' results);
 *   - a peer stopped with `chi stop`: new tasks fail at once;
 *   - a peer that is not up at start: tasks fail fast, then succeed once it
 *     comes;
 *   - a peer with the wrong key: refused, its tasks never run. */
#include "cluster_util.h"

#define CL_SPIN_NS (20ull * 1000 * 1000) /* a task on the peer: 20 ms */

static int cl_is_peer_error(int64_t r)
{
	return r == -EHOSTDOWN || r == -ECONNRESET || r == -ETIMEDOUT || r == -ESHUTDOWN;
}

static void two_up(cl_cluster *cl, chi_client **c0)
{
	cl_init(cl, 2);
	cl_start(cl, 0);
	cl_start(cl, 1);
	assert_int_equal(chi_client_connect(cl->name[0], c0), 0);
	assert_true(cl_wait_up(*c0, 1, 10000));
}

/* n spin tasks to t1 from c: submitted, not waited. */
static void cl_spins(chi_client *c, chi_test_arg_task *t, chi_future *f, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		chi_test_arg_init(&t[i], CL_POOL_T(1), CHI_TEST_SPIN, CL_SPIN_NS);
		assert_int_equal(chi_make_copy_future(c, &t[i].hdr, &chi_test_arg_codec, &f[i]), 0);
	}
}

static void peer_killed_in_flight(void **state)
{
	(void)state;
	cl_cluster cl;
	chi_client *c;
	two_up(&cl, &c);
	enum { N = 200 };
	chi_test_arg_task *t = calloc(N, sizeof(*t));
	chi_future *f = calloc(N, sizeof(*f));
	cl_spins(c, t, f, N); /* 200 x 20 ms on 2 workers: seconds of work */
	usleep(200 * 1000);
	cl_kill(&cl, 1);
	uint64_t t0 = cl_now_ms();
	uint32_t ok = 0, failed = 0;
	for (uint32_t i = 0; i < N; i++) {
		int64_t r = chi_future_wait_timeout(&f[i], 15ull * 1000 * 1000 * 1000);
		if (r == 0)
			ok++;
		else if (cl_is_peer_error(r))
			failed++;
		else
			fail_msg("task %u ended with %lld (%s)", i, (long long)r, chi_strerror((int)r));
	}
	uint64_t took = cl_now_ms() - t0;
	assert_int_equal(ok + failed, N);
	assert_true(failed > N / 2); /* most were still queued on the peer */
	/* the bound: the peer's connection fails at once, the silence bound is 2 s */
	if (took > 5000)
		fail_msg("in-flight tasks took %llu ms to end", (unsigned long long)took);
	/* local pools keep serving; the peer is refused fast while down */
	assert_int_equal(cl_double_plus(c, CHI_POOL_TEST, 5, 1), 11);
	uint64_t a = cl_now_ms();
	int64_t r = cl_double_plus(c, CL_POOL_T(1), 5, 1);
	assert_true(cl_is_peer_error(r));
	assert_true(cl_now_ms() - a < 1000);
	/* the peer restarted is used again */
	cl_start(&cl, 1);
	assert_true(cl_wait_up(c, 1, 10000));
	for (uint32_t i = 0; i < 50; i++)
		assert_int_equal(cl_double_plus(c, CL_POOL_T(1), i, 3), 2 * i + 3);
	free(t);
	free(f);
	chi_client_close(c);
	cl_fini(&cl);
}

static void peer_stopped_by_signal(void **state)
{
	(void)state;
	cl_cluster cl;
	chi_client *c;
	two_up(&cl, &c);
	enum { N = 20 };
	chi_test_double_plus_task t[N];
	chi_future f[N];
	kill(cl.pid[1], SIGSTOP);
	for (uint32_t i = 0; i < N; i++) {
		chi_test_double_plus_init(&t[i], CL_POOL_T(1), i, 1);
		assert_int_equal(chi_make_copy_future(c, &t[i].hdr, &chi_test_double_plus_codec, &f[i]), 0);
	}
	uint64_t t0 = cl_now_ms();
	for (uint32_t i = 0; i < N; i++) {
		int64_t r = chi_future_wait_timeout(&f[i], 15ull * 1000 * 1000 * 1000);
		if (!cl_is_peer_error(r))
			fail_msg("task %u to a stopped peer ended with %lld", i, (long long)r);
	}
	uint64_t took = cl_now_ms() - t0;
	if (took < 1000 || took > 6000) /* peer_timeout_ms 2000 */
		fail_msg("tasks to a stopped peer ended after %llu ms", (unsigned long long)took);
	kill(cl.pid[1], SIGCONT);
	/* it comes back; any late reply is dropped. Blocks are reused by new
	 * tasks, each checked: a stray second completion would break one */
	assert_true(cl_wait_up(c, 1, 10000));
	for (uint32_t round = 0; round < 10; round++)
		for (uint32_t i = 0; i < N; i++)
			assert_int_equal(cl_double_plus(c, CL_POOL_T(1), 100 * round + i, 2),
					 2 * (100 * round + i) + 2);
	chi_admin_peers_task *p = malloc(sizeof(*p));
	assert_true(cl_peers(c, -1, p) >= 0);
	const chi_net_peer_info *o = cl_peer(p, 1);
	assert_non_null(o);
	assert_true(o->tasks_failed >= N);
	assert_true(o->stale <= N);
	assert_true(o->connects >= 2);
	free(p);
	chi_client_close(c);
	cl_fini(&cl);
}

static void peer_stopped_cleanly(void **state)
{
	(void)state;
	cl_cluster cl;
	chi_client *c;
	two_up(&cl, &c);
	assert_int_equal(cl_double_plus(c, CL_POOL_T(1), 4, 0), 8);
	cl_stop(&cl, 1);
	uint64_t a = cl_now_ms();
	int64_t r = cl_double_plus(c, CL_POOL_T(1), 4, 0);
	if (!cl_is_peer_error(r))
		fail_msg("a task to a stopped peer: %lld", (long long)r);
	assert_true(cl_now_ms() - a < 1000);
	assert_int_equal(cl_double_plus(c, CL_POOL_T(0), 4, 0), 8);
	chi_client_close(c);
	cl_fini(&cl);
}

static void peer_not_up_at_start(void **state)
{
	(void)state;
	cl_cluster cl;
	cl_init(&cl, 2);
	cl_start(&cl, 0);
	chi_client *c;
	assert_int_equal(chi_client_connect(cl.name[0], &c), 0);
	uint64_t a = cl_now_ms();
	int64_t r = cl_double_plus(c, CL_POOL_T(1), 1, 1);
	if (r != -EHOSTDOWN)
		fail_msg("a task to a peer never up: %lld, want -EHOSTDOWN", (long long)r);
	assert_true(cl_now_ms() - a < 1000);
	cl_start(&cl, 1);
	assert_true(cl_wait_up(c, 1, 10000));
	assert_int_equal(cl_double_plus(c, CL_POOL_T(1), 1, 1), 3);
	chi_client_close(c);
	cl_fini(&cl);
}

static void peer_with_wrong_key(void **state)
{
	(void)state;
	cl_cluster cl;
	cl_init(&cl, 2);
	cl_write_conf(&cl, 1, "badkey");
	cl_start(&cl, 0);
	cl_start(&cl, 1);
	chi_client *c0, *c1;
	assert_int_equal(chi_client_connect(cl.name[0], &c0), 0);
	assert_int_equal(chi_client_connect(cl.name[1], &c1), 0);
	usleep(1500 * 1000); /* several connection attempts each way */
	assert_int_equal(cl_double_plus(c0, CL_POOL_T(1), 1, 1), -EHOSTDOWN);
	assert_int_equal(cl_double_plus(c1, CL_POOL_T(0), 1, 1), -EHOSTDOWN);
	chi_admin_peers_task *p = malloc(sizeof(*p));
	for (uint32_t k = 0; k < 2; k++) {
		assert_true(cl_peers(k ? c1 : c0, -1, p) >= 0);
		const chi_net_peer_info *o = cl_peer(p, 1 - k);
		assert_non_null(o);
		assert_true(o->state != CHI_PEER_UP);
		assert_int_equal(o->tasks_received, 0);
		assert_int_equal(o->connects, 0);
	}
	/* one of them saw a proof that failed */
	uint64_t errors = 0;
	for (uint32_t k = 0; k < 2; k++) {
		assert_true(cl_peers(k ? c1 : c0, -1, p) >= 0);
		errors += cl_peer(p, 1 - k)->errors;
	}
	assert_true(errors > 0);
	free(p);
	chi_client_close(c0);
	chi_client_close(c1);
	cl_fini(&cl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(peer_killed_in_flight),
		cmocka_unit_test(peer_stopped_by_signal),
		cmocka_unit_test(peer_stopped_cleanly),
		cmocka_unit_test(peer_not_up_at_start),
		cmocka_unit_test(peer_with_wrong_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
