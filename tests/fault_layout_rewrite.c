/* tests/fault_layout_rewrite.c: failure row "a client rewrites the main
 * directory's layout words" (docs/reliability.md, issue item 3). The
 * directory (src/ipc/layout.h) is in the main segment; clients of other
 * processes map its pages read-only now (RO1, tests/fault_readonly.c),
 * but any process of the user can map them writable on purpose, so the
 * rewrite here goes through the runtime's own (writable) mapping. The runtime used to read nworkers, max_clients,
 * clients_off, workers_off and nlanes back from it: the reaper walked
 * `max_clients` entries at `clients_off` (SIGSEGV with a far offset), the
 * stats copied `nworkers` records from `workers_off`, and pool lookups and
 * lists read names that a client could leave without a terminating NUL.
 * Now the runtime keeps its own copy of the layout (chi_main_layout, pool
 * names in chi_pool) and never reads those words back: with all of them
 * rewritten, a client that dies and one that closes are still reaped (their
 * chunks counted back), stats, lists and lookups answer with the true
 * values, tasks still run, and the runtime stops cleanly. */
#include "test_util.h"

#include <signal.h>
#include <sys/wait.h>

#include "chi/modules/admin.h"
#include "chi/modules/test.h"
#include "ipc/client.h"
#include "ipc/layout.h"

#define WORKERS 2u
#define LANES 2u

static void served(chi_client *c, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		chi_test_double_plus_task t;
		chi_future f;
		chi_test_double_plus_init(&t, CHI_POOL_TEST, 100 + i, 7);
		assert_int_equal(chi_make_copy_future(c, &t.hdr, &chi_test_double_plus_codec, &f), 0);
		assert_int_equal(chi_future_wait_timeout(&f, 5000000000ull), (int64_t)(2 * (100 + i) + 7));
	}
}

/* A child process that connects, runs tasks (so it holds arena chunks),
 * says so on the pipe and waits to be killed. */
static pid_t spawn_client(const char *name)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		chi_client *c;
		if (chi_client_connect(name, &c))
			_exit(2);
		for (int i = 0; i < 8; i++) {
			chi_test_double_plus_task t;
			chi_future f;
			chi_test_double_plus_init(&t, CHI_POOL_TEST, i, 1);
			if (chi_make_copy_future(c, &t.hdr, &chi_test_double_plus_codec, &f) ||
			    chi_future_wait_timeout(&f, 5000000000ull) != 2 * i + 1)
				_exit(3);
		}
		char one = 1;
		if (write(fds[1], &one, 1) != 1)
			_exit(4);
		for (;;)
			pause();
	}
	close(fds[1]);
	char b = 0;
	assert_int_equal(read(fds[0], &b, 1), 1);
	close(fds[0]);
	return pid;
}

static uint64_t wait_counter(const uint64_t *w, uint64_t want)
{
	for (int i = 0; i < 500; i++) { /* the reaper ticks every 10 ms */
		uint64_t v = __atomic_load_n(w, __ATOMIC_ACQUIRE);
		if (v >= want)
			return v;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return __atomic_load_n(w, __ATOMIC_ACQUIRE);
}

static void test_layout_words_rewritten(void **s)
{
	(void)s;
	chi_runtime *rt = test_start(WORKERS, LANES, 64);
	const char *name = chi_runtime_config(rt)->name;
	chi_client *c = chi_runtime_client(rt);
	served(c, 4);
	chi_client *closing;
	assert_int_equal(chi_client_connect(name, &closing), 0);
	served(closing, 4);
	pid_t victim = spawn_client(name);

	chi_main_dir *d = c->dir;
	uint64_t dead0 = d->clients_dead, chunks0 = d->chunks_reclaimed;
	/* every layout word a client can reach, rewritten */
	d->nworkers = UINT32_MAX;
	d->max_clients = UINT32_MAX;
	d->nlanes = UINT32_MAX;
	d->clients_off = 1ull << 60;
	d->workers_off = 1ull << 60;
	d->lanes_off = 1ull << 60;
	d->start_ns = UINT64_MAX;
	for (uint32_t i = 0; i < CHI_MAX_POOLS; i++) {
		memset(d->pools[i].name, 'X', sizeof(d->pools[i].name)); /* no NUL */
		memset(d->pools[i].module, 'Y', sizeof(d->pools[i].module));
	}

	/* a dead client and a closed one: the reaper walks the table */
	assert_int_equal(kill(victim, SIGKILL), 0);
	assert_int_equal(waitpid(victim, NULL, 0), victim);
	chi_client_close(closing);
	assert_true(wait_counter(&d->clients_dead, dead0 + 1) >= dead0 + 1);
	assert_true(wait_counter(&d->chunks_reclaimed, chunks0 + 2) >= chunks0 + 2);

	/* tasks still run on every lane */
	served(c, 20);

	/* stats and lists report the runtime's own values */
	chi_admin_stats_task st;
	chi_admin_stats_init(&st);
	chi_future f;
	assert_int_equal(chi_make_copy_future(c, &st.hdr, &chi_admin_stats_codec, &f), 0);
	assert_int_equal(chi_future_wait_timeout(&f, 5000000000ull), 0);
	assert_int_equal(st.nworkers, WORKERS);
	assert_int_equal(st.nworker_stats, WORKERS);
	assert_true(st.uptime_ns < 3600ull * 1000000000ull); /* not UINT64_MAX - now */
	uint64_t tasks = 0;
	for (uint32_t w = 0; w < st.nworker_stats; w++)
		tasks += st.workers[w].tasks;
	assert_true(tasks >= 28);

	chi_admin_list_task lt;
	chi_admin_list_init(&lt);
	assert_int_equal(chi_make_copy_future(c, &lt.hdr, &chi_admin_list_codec, &f), 0);
	assert_int_equal(chi_future_wait_timeout(&f, 5000000000ull), 2); /* the count */
	assert_int_equal(lt.count, 2);
	assert_string_equal(lt.pools[0].name, "admin");
	assert_string_equal(lt.pools[1].name, "test");
	assert_string_equal(lt.pools[1].module, "test");
	chi_pool_id id = 0;
	assert_int_equal(chi_pool_lookup(c, "test", &id), 0);
	assert_int_equal(id, CHI_POOL_TEST);

	/* a pool created now gets a name the runtime compares with its own
	 * copies (the shared names are all 'X') */
	chi_admin_pool_task pt;
	chi_admin_pool_init(&pt, CHI_ADMIN_CREATE_POOL, CHI_POOL_ID_ANY, "test", "test", "", 0);
	assert_int_equal(chi_make_copy_future(c, &pt.hdr, &chi_admin_pool_codec, &f), 0);
	assert_int_equal(chi_future_wait_timeout(&f, 5000000000ull), -EEXIST);

	chi_runtime_stop(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_words_rewritten),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
