/* tests/storm_clients.c: a kill storm (label fault). An embedded runtime
 * (2 workers, 2 CPU lanes, one simulated GPU with one lane) serves while
 * client processes (this binary, spawned) are SIGKILLed at random points,
 * for --seconds N (20 by default), three at a time, each in one of five
 * modes (CHI_STORM_SECONDS sets the length too; sanitizer builds run
 * it shorter):
 *   connect   connect and close in a loop: killed mid-connect or mid-close;
 *   claim     batches of 1-64 small tasks, half on the bulk ring (one CAS
 *             claims the run of slots, then the marks, then the
 *             publishes): killed between claim and publish, which leaves
 *             holes the workers must skip once the claimant is dead;
 *   inflight  100 tasks in flight (spins, stamped double_plus, a 512 KiB
 *             echo in an arena block): killed with them queued or running;
 *   close     connect, a few tasks, close (sometimes with tasks still in
 *             flight): killed mid-close;
 *   gpu       a simulated-GPU client (its arena slice, its block pools)
 *             with 32 tasks in flight, sometimes closing and reopening:
 *             killed anywhere in that.
 * Half the victims submit on lane 1 (lanes go round per thread). Each
 * victim checks its own results as it goes and exits (not killed) on a
 * wrong one; -ENOMEM (the arena short while dead victims' chunks wait to
 * be reclaimed) it survives. A verifier process runs throughout: two CPU
 * threads (lanes 0 and 1, both rings) with stamped double_plus (value, id
 * known) and echo (stamped bytes, 1 B to 100 KB), and the same on the GPU
 * lane through its own GPU client; it checks every result, and every
 * submit and wait it makes has a deadline (15 s: a task that never comes
 * back is counted lost, and the lanes' heads, claim counters and the slot
 * at head are printed). At the end: 0 wrong, 0 errors, 0 lost at the
 * verifier,
 * no victim that ended by itself, the runtime serving (stamped tasks and
 * admin.stats), every client-table entry but the runtime's own FREE again
 * (dead ones reaped; a claim left by a registrant killed inside CL1-CL1b is
 * counted, it is taken over by the next registrant), the arena's in_use
 * back to its level before the first client, every GPU slice free. The
 * figures (kills per mode, tasks verified, clients reaped, chunks and
 * slices reclaimed, holes skipped) are printed.
 *
 * Cross-process: skipped under ThreadSanitizer, which cannot see the
 * synchronization through shared memory (as tests/test_xproc.c). */
#include "test_util.h"
#include "stress_main.h"

#include <pthread.h>

#include "storm_roles.h"

enum { M_CONNECT, M_CLAIM, M_INFLIGHT, M_CLOSE, M_GPU, M_N };
static const char *const mode_name[M_N] = {"connect", "claim", "inflight", "close", "gpu"};
/* kill delay after the victim says it is up, ms: [lo, hi] */
static const int kill_lo[M_N] = {0, 2, 5, 1, 5};
static const int kill_hi[M_N] = {25, 60, 120, 80, 150};

static char self_path[4096];
static chi_runtime *storm_rt;
static unsigned storm_seconds = 20;
static uint64_t storm_seed = 0x5eed5702ull;


/* ---- the storm ---- */

typedef struct victim {
	pid_t pid;
	int mode;
	int out;
	uint64_t kill_at;
} victim;

typedef struct storm_counts {
	uint64_t spawned, kills[M_N], ended[M_N];
} storm_counts;

static void victim_reap(victim *v, storm_counts *n)
{
	int st;
	kill(v->pid, SIGKILL);
	assert_int_equal(waitpid(v->pid, &st, 0), v->pid);
	close(v->out);
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) {
		n->kills[v->mode]++;
	} else {
		n->ended[v->mode]++;
		fprintf(stderr, "storm: a %s victim ended by itself: %s %d\n", mode_name[v->mode],
			WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	}
	v->pid = 0;
}

static void victim_spawn(victim *v, const char *name, uint64_t *rng, storm_counts *n)
{
	v->mode = (int)st_range(rng, 0, M_N - 1);
	char seed[32];
	snprintf(seed, sizeof(seed), "%llu", (unsigned long long)st_rand(rng));
	char *argv[] = {self_path, (char *)"--victim", (char *)mode_name[v->mode], (char *)name, seed,
			NULL};
	v->pid = st_spawn(argv, &v->out, NULL);
	assert_true(v->pid > 0);
	n->spawned++;
	char line[16];
	st_read_line(v->out, line, sizeof(line), 5000); /* up (or dead: killed at once) */
	v->kill_at = st_now_ns() +
		     st_range(rng, (uint64_t)kill_lo[v->mode] * 1000, (uint64_t)kill_hi[v->mode] * 1000) * 1000;
}

static chi_client_shm *entry(chi_client *c, uint32_t i)
{
	return chi_client_at(c->base, c->dir->clients_off, i);
}

/* Entries of other clients not FREE: *claims of them are claims (CL1) left
 * by registrants that died before CL1b. */
static uint32_t table_busy(chi_client *c, uint32_t *claims)
{
	uint32_t busy = 0;
	*claims = 0;
	for (uint32_t i = 0; i < c->dir->max_clients; i++) {
		if (entry(c, i) == c->slot)
			continue;
		uint32_t st = __atomic_load_n(&entry(c, i)->state, __ATOMIC_ACQUIRE);
		if (st & 0x80000000u)
			(*claims)++;
		else if (st != CHI_CLIENT_FREE)
			busy++;
	}
	return busy;
}

static void test_kill_storm(void **state)
{
	(void)state;
	chi_gpu_simulate(1);
	chi_config cfg;
	test_config(&cfg, 2, 2, 256);
	cfg.gpu_enabled = CHI_ON;
	cfg.gpu_lanes = 1;
	cfg.gpu_queue_depth = 256;
	cfg.gpu_clients = 4; /* the verifier's and three victims' */
	cfg.gpu_segment_size = 16u << 20;
	cfg.gpu_workers = CHI_GPU_WORKERS_SHARED;
	/* room for the chunks of clients dead or closed and not reclaimed yet
	 * (the auto size, 80 MiB, runs out under this churn: -ENOMEM, which
	 * victims survive; the verifier must not meet it) */
	cfg.main_segment_size = 192u << 20;
	chi_runtime *rt;
	assert_int_equal(chi_runtime_start(&cfg, &rt), 0);
	storm_rt = rt;
	chi_client *c = chi_runtime_client(rt);
	assert_int_equal(chi_gpu_count(c), 1);
	const uint64_t in_use0 = __atomic_load_n(&c->dir->alloc.in_use, __ATOMIC_RELAXED);
	const uint64_t dead0 = c->dir->clients_dead;

	char secs[16];
	snprintf(secs, sizeof(secs), "%u", storm_seconds);
	char *vargv[] = {self_path, (char *)"--verifier", cfg.name, secs, NULL};
	int vout = -1;
	pid_t vpid = st_spawn(vargv, &vout, NULL);
	assert_true(vpid > 0);
	char line[512];
	assert_true(st_read_line(vout, line, sizeof(line), 10000) > 0);

	uint64_t rng = storm_seed;
	storm_counts n;
	memset(&n, 0, sizeof(n));
	victim vs[3];
	memset(vs, 0, sizeof(vs));
	uint64_t t0 = st_now_ns(), end = t0 + (uint64_t)storm_seconds * 1000000000ull;
	while (st_now_ns() < end) {
		for (int i = 0; i < 3; i++) {
			if (!vs[i].pid)
				victim_spawn(&vs[i], cfg.name, &rng, &n);
			else if (st_now_ns() >= vs[i].kill_at)
				victim_reap(&vs[i], &n);
		}
		st_nap_us(500);
	}
	for (int i = 0; i < 3; i++)
		if (vs[i].pid)
			victim_reap(&vs[i], &n);
	uint64_t kills = 0, ended = 0;
	for (int m = 0; m < M_N; m++) {
		kills += n.kills[m];
		ended += n.ended[m];
	}

	/* the verifier's figures */
	int rl = st_read_line(vout, line, sizeof(line), 60000);
	int st;
	if (rl <= 0) {
		st_kill_reap(vpid);
		fail_msg("the verifier did not report (%d)", rl);
	}
	assert_int_equal(waitpid(vpid, &st, 0), vpid);
	close(vout);
	printf("storm: %s\n", line);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* reaped: every entry but ours FREE, in_use at its start, slices free */
	uint32_t busy = 0, claims = 0, slices = 0;
	uint64_t in_use = 0;
	chi_gpu_info gi;
	for (int i = 0; i < 1000; i++) {
		busy = table_busy(c, &claims);
		in_use = __atomic_load_n(&c->dir->alloc.in_use, __ATOMIC_RELAXED);
		assert_int_equal(chi_gpu_info_get(c, 0, &gi), 0);
		slices = gi.clients;
		if (!busy && in_use == in_use0 && !slices)
			break;
		st_nap_us(10000);
	}
	uint64_t holes = 0;
	for (uint32_t l = 0; l < c->nlanes; l++)
		holes += c->lanes[l].holes_skipped;
	/* the runtime serves, CPU lanes and admin (bounded: a ring stalled
	 * for good must fail the test, not hang it) */
	uint64_t served = 0;
	for (uint32_t i = 0; i < 200; i++) {
		chi_test_double_plus_task t;
		chi_future f;
		chi_test_double_plus_init(&t, CHI_POOL_TEST, 77000 + i, 9);
		int rc = verifier_submit(c, &t.hdr, &chi_test_double_plus_codec, &f);
		int64_t r = rc ? rc : chi_future_wait_timeout(&f, 5000000000ull);
		if (r == -ETIMEDOUT) {
			verifier_dump(c);
			break; /* t stays pending: the test fails below */
		}
		if (r == 2 * (77000 + i) + 9 && t.result == 2 * (77000 + i) + 9)
			served++;
	}
	chi_admin_stats_task *sts = calloc(1, sizeof(*sts));
	assert_non_null(sts);
	int adm = st_admin_stats(c, 5000, sts);
	uint64_t gpu_holes = 0;
	for (uint32_t l = 0; !adm && l < sts->nlanes && l < ST_STATS_LANES; l++)
		if (sts->lanes[l].gpu)
			gpu_holes += sts->lanes[l].holes_skipped;
	free(sts);

	printf("storm: %u s, seed %llu: %llu victims, %llu SIGKILLed (connect %llu, claim %llu, "
	       "inflight %llu, close %llu, gpu %llu), %llu ended by themselves\n",
	       storm_seconds, (unsigned long long)storm_seed, (unsigned long long)n.spawned,
	       (unsigned long long)kills, (unsigned long long)n.kills[M_CONNECT],
	       (unsigned long long)n.kills[M_CLAIM], (unsigned long long)n.kills[M_INFLIGHT],
	       (unsigned long long)n.kills[M_CLOSE], (unsigned long long)n.kills[M_GPU],
	       (unsigned long long)ended);
	printf("storm: reaped %llu dead clients; %llu arena chunks and %llu GPU slices reclaimed; "
	       "holes skipped: %llu CPU, %llu GPU; entries left busy %u, dead claims %u; in_use %llu "
	       "(start %llu); GPU slices held %u; served %llu/200 after; admin.stats %d\n",
	       (unsigned long long)(c->dir->clients_dead - dead0),
	       (unsigned long long)c->dir->chunks_reclaimed,
	       (unsigned long long)c->dir->gpu_slices_reclaimed, (unsigned long long)holes,
	       (unsigned long long)gpu_holes, busy, claims, (unsigned long long)in_use,
	       (unsigned long long)in_use0, slices, (unsigned long long)served, adm);
	fflush(stdout);

	assert_int_equal(ended, 0);
	assert_true(kills >= 10);
	assert_int_equal(st_kv(line, "wrong", 1), 0);
	assert_int_equal(st_kv(line, "errors", 1), 0);
	assert_int_equal(st_kv(line, "timeouts", 1), 0);
	assert_int_equal(st_kv(line, "gpu_open", 1), 0);
	assert_int_equal(st_kv(line, "gpu_wrong", 1), 0);
	assert_int_equal(st_kv(line, "gpu_errors", 1), 0);
	assert_int_equal(st_kv(line, "gpu_timeouts", 1), 0);
	assert_true(st_kv(line, "verified", 0) >= 1000);
	assert_true(st_kv(line, "gpu_verified", 0) >= 100);
	assert_int_equal(busy, 0);
	if (in_use != in_use0)
		fail_msg("the arena's in_use is %lld bytes off its start level with every client gone "
			 "(a chunk no list names: K5 in src/ipc/chunk.c)",
			 (long long)(in_use - in_use0));
	assert_int_equal(slices, 0);
	assert_int_equal(served, 200);
	assert_int_equal(adm, 0);
	assert_true(c->dir->clients_dead - dead0 >= 1);
	assert_true(c->dir->clients_dead - dead0 <= kills + 1); /* + the verifier, never killed */
}

static void *stop_main(void *arg)
{
	chi_runtime_stop(arg);
	return arg;
}

/* Stop the runtime (its segments go) whether the test passed or not; a
 * ring the test found stalled for good can keep the stop draining for
 * ever: then its segments are unlinked and the test ends here. */
static int storm_teardown(void **state)
{
	(void)state;
	if (!storm_rt)
		return 0;
	char name[CHI_NAME_MAX];
	snprintf(name, sizeof(name), "%s", chi_runtime_config(storm_rt)->name);
	pthread_t t;
	static int done;
	if (pthread_create(&t, NULL, stop_main, storm_rt))
		return -1;
	for (int i = 0; i < 10000; i++) {
		if (pthread_tryjoin_np(t, NULL) == 0) {
			done = 1;
			break;
		}
		st_nap_us(1000);
	}
	storm_rt = NULL;
	if (!done) {
		fprintf(stderr, "storm: chi_runtime_stop still draining after 10 s (a ring stalled for "
				"good); segments removed\n");
		st_cleanup(name);
		_exit(1);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "--victim"))
		return victim_main(argv[2], argv[3], strtoull(argv[4], NULL, 10));
	if (argc == 4 && !strcmp(argv[1], "--verifier"))
		return verifier_main(argv[2], (unsigned)atoi(argv[3]));
	static const st_main_args args = {
		.prog = "storm_clients",
		.usage = "[--seconds N] [--seed S]",
		.env = "CHI_STORM_SECONDS",
		.whole_seconds = &storm_seconds,
		.seed = &storm_seed,
		.self = self_path,
		.self_cap = sizeof(self_path),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_kill_storm, storm_teardown),
	};
	return st_main(&args, argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
