/* tests/test_start_race.c: start is atomic per name (runtime.c, NL1-NL3).
 * Two embedded starts of one name at the same moment, many rounds: exactly
 * one serves, the other gets -EADDRINUSE, and the winner is the runtime
 * chi_client_connect reaches. (Before the name lock, a starter could take
 * the other's half-made segment for a dead runtime's, unlink it and serve
 * too: 1 round in 6 of `chi start`.) */
#include "test_util.h"

#include <pthread.h>
#include <time.h>

#include "chi/modules/test.h"

#define ROUNDS 200
#define BUDGET_NS (20ull * 1000000000ull)

struct starter {
	const chi_config *cfg;
	pthread_barrier_t *go;
	chi_runtime *rt;
	int rc;
};

static void *start_one(void *arg)
{
	struct starter *s = arg;
	pthread_barrier_wait(s->go);
	s->rc = chi_runtime_start(s->cfg, &s->rt);
	return NULL;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void test_two_starts_one_wins(void **state)
{
	(void)state;
	chi_config cfg;
	test_config(&cfg, 1, 1, 64);
	cfg.gpu_enabled = CHI_OFF;
	cfg.main_segment_size = 8ull << 20; /* small: the race is the point */
	cfg.first_busy_wait_us = 100;
	uint64_t t0 = now_ns();
	int rounds = 0;
	for (; rounds < ROUNDS && now_ns() - t0 < BUDGET_NS; rounds++) {
		pthread_barrier_t go;
		pthread_barrier_init(&go, NULL, 2);
		struct starter s[2] = {{&cfg, &go, NULL, 0}, {&cfg, &go, NULL, 0}};
		pthread_t th[2];
		for (int i = 0; i < 2; i++)
			assert_int_equal(pthread_create(&th[i], NULL, start_one, &s[i]), 0);
		for (int i = 0; i < 2; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&go);
		int ok = (s[0].rc == 0) + (s[1].rc == 0);
		if (ok != 1)
			fail_msg("round %d: starts returned %d and %d (%d served)", rounds, s[0].rc, s[1].rc, ok);
		struct starter *w = s[0].rc == 0 ? &s[0] : &s[1], *l = w == &s[0] ? &s[1] : &s[0];
		assert_int_equal(l->rc, -EADDRINUSE);
		assert_null(l->rt);
		/* the winner is the one a client reaches */
		chi_client *c = NULL;
		int crc = chi_client_connect(cfg.name, &c);
		if (crc)
			fail_msg("round %d: connect: %d", rounds, crc);
		assert_int_equal(chi_client_owner_pid(c), getpid());
		chi_test_double_plus_task t;
		chi_test_double_plus_init(&t, CHI_POOL_TEST, 3, 1);
		assert_int_equal(chi_call(c, &t.hdr, &chi_test_double_plus_codec), 7);
		chi_client_close(c);
		chi_runtime_stop(w->rt);
	}
	print_message("%d rounds in %.1f s\n", rounds, (double)(now_ns() - t0) / 1e9);
	assert_true(rounds >= 20);
}

/* The name is free again once its runtime stopped, and the lock file goes
 * with it. */
static void test_after_stop_free(void **state)
{
	(void)state;
	chi_config cfg;
	test_config(&cfg, 1, 1, 64);
	cfg.gpu_enabled = CHI_OFF;
	cfg.main_segment_size = 8ull << 20;
	chi_runtime *a = NULL, *b = NULL;
	assert_int_equal(chi_runtime_start(&cfg, &a), 0);
	assert_int_equal(chi_runtime_start(&cfg, &b), -EADDRINUSE);
	chi_runtime_stop(a);
	assert_int_equal(chi_runtime_start(&cfg, &b), 0);
	chi_runtime_stop(b);
	char p[160];
	snprintf(p, sizeof(p), "/dev/shm/.chi.%u.%s.lock", (unsigned)getuid(), cfg.name);
	assert_int_equal(access(p, F_OK), -1); /* the lock file goes with its runtime */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_starts_one_wins),
		cmocka_unit_test(test_after_stop_free),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
