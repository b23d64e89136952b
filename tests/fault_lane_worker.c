/* tests/fault_lane_worker.c: failure row "a bad write to a lane's worker
 * index" (docs/reliability.md). Producers wake the worker that owns a lane
 * through lanes[l].worker, a word of the shared segment
 * (chi_client_wake_lane, src/ipc/client.c). After one bad write there (an
 * index far past the workers array), every client that published on the
 * lane read a worker record outside the mapping and died with SIGSEGV. Now
 * the index is checked against the workers array the client mapped at
 * attach; a bad one wakes nobody, and the worker still finds the task when
 * its sleep times out (runtime.max_sleep_us), so every task completes with
 * its result, for the embedded client and for one that connects after the
 * bad write. */
#include "test_util.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "chi/modules/test.h"
#include "ipc/client.h"
#include "task/future_ops.h"

static void served(chi_client *c, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		/* let the worker fall asleep, so a wake is needed */
		struct timespec ts = {0, 3 * 1000 * 1000};
		nanosleep(&ts, NULL);
		chi_test_double_plus_task t;
		chi_future f;
		chi_test_double_plus_init(&t, CHI_POOL_TEST, i, 9);
		assert_int_equal(chi_make_copy_future(c, &t.hdr, &chi_test_double_plus_codec, &f), 0);
		assert_int_equal(chi_future_wait_timeout(&f, 5000000000ull), (int64_t)(2 * i + 9));
		assert_int_equal(t.result, 2 * i + 9);
	}
}

static void bad_worker(uint32_t bad)
{
	chi_runtime *rt = test_start(1, 1, 64);
	chi_client *c = chi_runtime_client(rt);
	served(c, 3);
	__atomic_store_n(&c->lanes[0].worker, bad, __ATOMIC_RELAXED);
	served(c, 10);
	chi_client_wake_lane(c, 0);
	chi_client_wake_lane(c, 1u << 30); /* no such lane */
	chi_client *c2;
	assert_int_equal(chi_client_connect(chi_runtime_config(rt)->name, &c2), 0);
	served(c2, 10);
	chi_client_close(c2);
	chi_runtime_stop(rt);
}

static void test_worker_index_far(void **s) { (void)s; bad_worker(1u << 24); }
static void test_worker_index_max(void **s) { (void)s; bad_worker(UINT32_MAX); }
static void test_worker_index_one_past(void **s) { (void)s; bad_worker(1); }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worker_index_one_past),
		cmocka_unit_test(test_worker_index_far),
		cmocka_unit_test(test_worker_index_max),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
