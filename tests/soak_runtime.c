/* tests/soak_runtime.c: a soak (labels soak and fault). A runtime child
 * process (2 workers, 2 CPU lanes of depth 64, a simulated GPU) runs for
 * CHI_SOAK_SECONDS (60 without it; sanitizer builds set it shorter) or
 * --minutes N, in three phases:
 *
 * A. Load, most of the time: three client processes (this binary) at
 *    once, each living 2-6 s and then replaced, each with two submitting
 *    threads (lanes 0 and 1) keeping 160 tasks in flight against rings of
 *    64 (queue-full pressure: blocking submits wait, try submits get
 *    -EAGAIN and fall back; 1% of the tasks spin 40 us or 1 ms, so the
 *    workers fall behind in bursts). Tasks: stamped double_plus, stamped echo of
 *    1 B to 8 KiB, now and then an echo exactly at memory.max_task_size
 *    (in and out), a quarter on the bulk ring; every 512 tasks an echo 1
 *    byte over the limit, in or out, must fail with -EMSGSIZE. Waits: most
 *    plain, some with a short timeout (-ETIMEDOUT, then waited again
 *    later), some abandoned (never waited; their client exits with them
 *    pending, or closes once they completed). Lives end by close or by
 *    exit without close (the reaper). Every result is checked against its
 *    stamp; every submit that succeeded is one task: at the end the CPU
 *    lanes' popped and completed counts grew by exactly the tasks
 *    published (0 lost, 0 run twice), no errors, and the arena's in_use is
 *    back to its level before the first client.
 * B. SIGSTOP: a client holds lane 0's worker with a spin and queues 32
 *    stamped tasks behind it, 4 threads wait on them and a fifth on the
 *    spin; the runtime is stopped for 3 s and continued. Every waiter
 *    returns within 5 s of the stop, with its result or a negative errno
 *    (the running spin may be reported with an error of its own); after
 *    SIGCONT new tasks are served; and no queued task whose waiter was
 *    told it failed is run afterwards (its block must not complete with a
 *    result): issue 20, item 7.
 * C. SIGKILL: two client processes each hold both workers with 1 s spins,
 *    fill both rings, and start blocking submitters (the rings are full)
 *    and waiters on CPU lanes, and a waiter on the GPU lane; then the
 *    runtime is SIGKILLed and left a zombie. Every one of them must return
 *    (-EOWNERDEAD or another negative errno, or its right result) within
 *    5 s of the kill.
 *
 * Cross-process: skipped under ThreadSanitizer (as tests/test_xproc.c). */
#include "test_util.h"
#include "stress_main.h"

#include <pthread.h>

#include "soak_roles.h"

static char self_path[4096];
static unsigned soak_seconds = 60;
static pid_t soak_rt_pid;
static char soak_name[32];


/* ---- the test ---- */

typedef struct lane_sums {
	uint64_t popped, completed, errors, queue_full;
} lane_sums;

static lane_sums sums(chi_client *c)
{
	lane_sums s = {0, 0, 0, 0};
	for (uint32_t l = 0; l < c->nlanes; l++) {
		s.popped += __atomic_load_n(&c->lanes[l].popped, __ATOMIC_ACQUIRE);
		s.completed += __atomic_load_n(&c->lanes[l].completed, __ATOMIC_ACQUIRE);
		s.errors += __atomic_load_n(&c->lanes[l].errors, __ATOMIC_ACQUIRE);
		s.queue_full += __atomic_load_n(&c->prods[l].queue_full, __ATOMIC_ACQUIRE);
	}
	return s;
}

typedef struct soak_proc {
	pid_t pid;
	int out;
} soak_proc;

#define NKEYS 13
static const char *const keys[NKEYS] = {"published", "results", "wrong", "errors", "timeouts",
					"eagain", "emsgsize", "emsg_bad", "abandoned", "big",
					"emsg_taken", "closed", "abandoned_pending"};

static void proc_end(soak_proc *p, uint64_t *tot, uint64_t *lives, uint64_t *bad_exit)
{
	char line[512];
	int n = st_read_line(p->out, line, sizeof(line), 60000);
	int st;
	if (n <= 0)
		kill(p->pid, SIGKILL);
	waitpid(p->pid, &st, 0);
	close(p->out);
	p->pid = 0;
	(*lives)++;
	if (n <= 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		(*bad_exit)++;
		fprintf(stderr, "soak: a client ended badly (report %d, status %#x)\n", n, st);
		return;
	}
	for (int k = 0; k < NKEYS; k++)
		tot[k] += st_kv(line, keys[k], 0);
}

/* phase B's waiters */
typedef struct stop_waiter {
	chi_future *f[8];
	int64_t rc[8];
	uint64_t end_ns[8];
	int n;
} stop_waiter;

static void *stop_wait_main(void *arg)
{
	stop_waiter *w = arg;
	for (int i = 0; i < w->n; i++) {
		w->rc[i] = chi_future_wait(w->f[i]);
		w->end_ns[i] = st_now_ns();
	}
	return NULL;
}

static void phase_b(const char *name)
{
	chi_client *c;
	assert_int_equal(st_connect_within(name, &c, 5000), 0);
	uint32_t lane = chi_client_pick_lane(c); /* this thread's */
	uint64_t popped0 = __atomic_load_n(&c->lanes[lane].popped, __ATOMIC_ACQUIRE);
	chi_test_arg_task spin;
	chi_future fspin;
	chi_test_arg_init(&spin, CHI_POOL_TEST, CHI_TEST_SPIN, 500ull * 1000000);
	assert_int_equal(chi_make_copy_future(c, &spin.hdr, &chi_test_arg_codec, &fspin), 0);
	while (__atomic_load_n(&c->lanes[lane].popped, __ATOMIC_ACQUIRE) == popped0)
		st_nap_us(100);
	enum { N = 32 };
	static chi_test_double_plus_task t[N];
	static chi_future f[N];
	chi_future_shm *blk[N];
	for (int i = 0; i < N; i++) {
		chi_test_double_plus_init(&t[i], CHI_POOL_TEST, 5000 + (uint64_t)i, 3);
		assert_int_equal(chi_make_copy_future(c, &t[i].hdr, &chi_test_double_plus_codec, &f[i]), 0);
		blk[i] = f[i].shm;
	}
	/* 4 waiters on the queued tasks, a fifth on the running spin */
	static stop_waiter w[5];
	pthread_t th[5];
	for (int k = 0; k < 5; k++) {
		w[k].n = k < 4 ? 8 : 1;
		for (int i = 0; i < w[k].n; i++)
			w[k].f[i] = k < 4 ? &f[k * 8 + i] : &fspin;
		assert_int_equal(pthread_create(&th[k], NULL, stop_wait_main, &w[k]), 0);
	}
	st_nap_us(100000);
	uint64_t t0 = st_now_ns();
	assert_int_equal(kill(soak_rt_pid, SIGSTOP), 0);
	st_nap_us(3000000);
	assert_int_equal(kill(soak_rt_pid, SIGCONT), 0);
	uint64_t t1 = st_now_ns();
	for (int k = 0; k < 5; k++)
		pthread_join(th[k], NULL);
	int64_t spin_rc = w[4].rc[0];
	/* served again after SIGCONT */
	int served = 0;
	for (int i = 0; i < 20; i++) {
		chi_test_double_plus_task x;
		chi_future fx;
		chi_test_double_plus_init(&x, CHI_POOL_TEST, 9000 + (uint64_t)i, 1);
		if (chi_make_copy_future(c, &x.hdr, &chi_test_double_plus_codec, &fx) == 0 &&
		    chi_future_wait_timeout(&fx, 5000000000ull) == 2 * (9000 + i) + 1 &&
		    x.result == 2 * (9000 + (uint64_t)i) + 1)
			served++;
	}
	/* the lane is FIFO: the new tasks came back, so the old ones were
	 * popped before them; wait a little for any still running */
	st_nap_us(200000);
	int done = 0, failed = 0, wrong = 0, run_after_fail = 0;
	uint64_t last = 0;
	char errs[256] = "";
	for (int k = 0; k < 4; k++)
		for (int i = 0; i < 8; i++) {
			int j = k * 8 + i;
			int64_t r = w[k].rc[i];
			if (w[k].end_ns[i] > last)
				last = w[k].end_ns[i];
			if (r >= 0) {
				done++;
				wrong += r != 2 * (5000 + j) + 3;
				continue;
			}
			failed++;
			if (strlen(errs) < 200 && !strstr(errs, chi_strerror((int)r)))
				snprintf(errs + strlen(errs), sizeof(errs) - strlen(errs), "%s%s",
					 errs[0] ? ", " : "", chi_strerror((int)r));
			uint64_t fl = chi_future_flags(blk[j]);
			if ((fl & CHI_FUTURE_COMPLETE) && !(fl & CHI_FUTURE_ERROR))
				run_after_fail++;
		}
	if (w[4].end_ns[0] > last)
		last = w[4].end_ns[0];
	printf("soak: SIGSTOP 3 s with 33 waiters: of 32 queued tasks %d completed, %d failed (%s); "
	       "the running one: %s; all within %.2f s of the stop (SIGCONT at %.2f s); %d/20 served "
	       "after SIGCONT; %d run after their waiter was told they failed\n",
	       done, failed, errs, spin_rc < 0 ? chi_strerror((int)spin_rc) : "completed",
	       (double)(last - t0) / 1e9, (double)(t1 - t0) / 1e9, served, run_after_fail);
	assert_int_equal(wrong, 0);
	assert_int_equal(done + failed, N);
	assert_true(last - t0 < KILL_BOUND_NS);
	assert_int_equal(served, 20);
	if (run_after_fail)
		fail_msg("issue 20 item 7: %d of the %d tasks whose waiters got an error (%s) during "
			 "the SIGSTOP were run after SIGCONT",
			 run_after_fail, failed, errs);
	chi_client_close(c);
}

static void phase_c(const char *name)
{
	soak_proc k[2];
	char line[512];
	for (int i = 0; i < 2; i++) {
		char seed[32];
		snprintf(seed, sizeof(seed), "%d", 1000000 * (i + 1));
		char *argv[] = {self_path, (char *)"--killwait", (char *)name, seed, NULL};
		k[i].pid = st_spawn(argv, &k[i].out, NULL);
		assert_true(k[i].pid > 0);
		int n = st_read_line(k[i].out, line, sizeof(line), 15000);
		if (n <= 0 || strncmp(line, "ready", 5))
			fail_msg("a kill-phase client did not get ready (%d)", n);
	}
	uint64_t t0 = st_now_ns();
	assert_int_equal(kill(soak_rt_pid, SIGKILL), 0); /* left a zombie for now */
	uint64_t threads = 0, returned = 0, eod = 0, other = 0, comp = 0, wrong = 0, gpu = 0, last = 0;
	for (int i = 0; i < 2; i++) {
		int n = st_read_line(k[i].out, line, sizeof(line), 20000);
		int st;
		st_kill_reap(k[i].pid);
		close(k[i].out);
		if (n <= 0)
			fail_msg("a kill-phase client did not report (%d)", n);
		threads += st_kv(line, "threads", 0);
		returned += st_kv(line, "returned", 0);
		eod += st_kv(line, "eownerdead", 0);
		other += st_kv(line, "other", 0);
		comp += st_kv(line, "completions", 0);
		wrong += st_kv(line, "wrong", 0);
		gpu += st_kv(line, "gpu", 0);
		uint64_t l = st_kv(line, "last_ns", 0);
		if (l > last)
			last = l;
		(void)st;
	}
	int st;
	assert_int_equal(waitpid(soak_rt_pid, &st, 0), soak_rt_pid);
	soak_rt_pid = 0;
	printf("soak: SIGKILL: %llu blocked submitters, waiters and GPU waiters (%llu GPU) in 2 "
	       "processes: %llu returned, the last %.2f s after the kill: %llu -EOWNERDEAD, %llu other "
	       "errors, %llu completed (%llu wrong)\n",
	       (unsigned long long)threads, (unsigned long long)gpu, (unsigned long long)returned,
	       last > t0 ? (double)(last - t0) / 1e9 : 0.0, (unsigned long long)eod,
	       (unsigned long long)other, (unsigned long long)comp, (unsigned long long)wrong);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	assert_true(threads >= 18);
	assert_int_equal(returned, threads);
	assert_true(last - t0 < KILL_BOUND_NS);
	assert_int_equal(wrong, 0);
	assert_true(eod >= 1);
}

static void test_soak(void **state)
{
	(void)state;
	snprintf(soak_name, sizeof(soak_name), "sk%d", (int)getpid());
	soak_rt_pid = st_runtime_spawn(self_path, soak_name, 256u << 20);
	assert_true(soak_rt_pid > 0);
	chi_client *m; /* watches counters; submits nothing (holds no chunk) */
	assert_int_equal(st_connect_within(soak_name, &m, 10000), 0);
	uint64_t in_use0 = __atomic_load_n(&m->dir->alloc.in_use, __ATOMIC_RELAXED);
	lane_sums s0 = sums(m);

	/* A: load */
	uint64_t t0 = st_now_ns();
	uint64_t a_ns = (soak_seconds > 12 ? soak_seconds - 8 : 4) * 1000000000ull;
	uint64_t a_end = t0 + a_ns, rng = 0x50a4ull ^ (uint64_t)getpid();
	soak_proc p[3];
	memset(p, 0, sizeof(p));
	uint64_t tot[NKEYS] = {0}, lives = 0, bad = 0;
	for (;;) {
		uint64_t now = st_now_ns();
		int live = 0;
		for (int i = 0; i < 3; i++) {
			if (p[i].pid) {
				/* running until its report (or the end of its
				 * pipe) comes */
				struct pollfd pf = {p[i].out, POLLIN, 0};
				if (poll(&pf, 1, 0) <= 0) {
					live++;
					continue;
				}
			}
			if (p[i].pid)
				proc_end(&p[i], tot, &lives, &bad);
			if (now + 1500000000ull < a_end) {
				uint64_t life = st_range(&rng, 2000, 6000);
				if (now + life * 1000000u > a_end)
					life = (a_end - now) / 1000000u;
				char ls[32], ss[32];
				snprintf(ls, sizeof(ls), "%llu", (unsigned long long)life);
				snprintf(ss, sizeof(ss), "%llu", (unsigned long long)st_rand(&rng));
				char *argv[] = {self_path, (char *)"--client", soak_name, ls, ss, NULL};
				p[i].pid = st_spawn(argv, &p[i].out, NULL);
				assert_true(p[i].pid > 0);
				live++;
			}
		}
		if (!live && now >= a_end)
			break;
		st_nap_us(20000);
	}
	/* every task published was popped and completed once, none in error */
	lane_sums s1 = sums(m);
	for (int i = 0; i < 1000 && (s1.completed - s0.completed < tot[0] ||
				     s1.popped - s0.popped < tot[0]); i++) {
		st_nap_us(10000);
		s1 = sums(m);
	}
	uint64_t in_use = 0;
	for (int i = 0; i < 1000; i++) {
		in_use = __atomic_load_n(&m->dir->alloc.in_use, __ATOMIC_RELAXED);
		if (in_use == in_use0)
			break;
		st_nap_us(10000);
	}
	double secs = (double)(st_now_ns() - t0) / 1e9;
	printf("soak: load %.1f s, %llu client lives (%llu ended badly): %llu tasks published, %llu "
	       "results checked (%llu wrong, %llu errors), %llu abandoned, %llu limit-sized echoes, "
	       "%llu timed-out waits, %llu -EAGAIN (queue_full %llu), %llu -EMSGSIZE (%llu not, %llu "
	       "took memory); lanes: popped %llu, completed %llu, errors %llu; in_use %llu (start "
	       "%llu)\n",
	       secs, (unsigned long long)lives, (unsigned long long)bad, (unsigned long long)tot[0],
	       (unsigned long long)tot[1], (unsigned long long)tot[2], (unsigned long long)tot[3],
	       (unsigned long long)tot[8], (unsigned long long)tot[9], (unsigned long long)tot[4],
	       (unsigned long long)tot[5], (unsigned long long)(s1.queue_full - s0.queue_full),
	       (unsigned long long)tot[6], (unsigned long long)tot[7], (unsigned long long)tot[10],
	       (unsigned long long)(s1.popped - s0.popped),
	       (unsigned long long)(s1.completed - s0.completed),
	       (unsigned long long)(s1.errors - s0.errors), (unsigned long long)in_use,
	       (unsigned long long)in_use0);
	assert_int_equal(bad, 0);
	assert_true(lives >= 3);
	assert_int_equal(tot[2], 0);  /* wrong */
	assert_int_equal(tot[3], 0);  /* errors */
	assert_int_equal(tot[7], 0);  /* over the limit but accepted */
	assert_int_equal(tot[10], 0); /* a refused submit took memory */
	assert_true(tot[6] >= lives); /* every life tried */
	assert_int_equal(tot[1] + tot[8], tot[0]); /* each published task: a result or abandoned */
	assert_int_equal(s1.popped - s0.popped, tot[0]);
	assert_int_equal(s1.completed - s0.completed, tot[0]);
	assert_int_equal(s1.errors - s0.errors, 0);
	assert_true(s1.queue_full - s0.queue_full > 0); /* pressure: rings were full */
	assert_true(tot[4] > 0 && tot[8] > 0 && tot[9] > 0);
	assert_int_equal(in_use, in_use0);

	/* B: stopped and continued */
	phase_b(soak_name);
	for (int i = 0; i < 1000 && __atomic_load_n(&m->dir->alloc.in_use, __ATOMIC_RELAXED) != in_use0;
	     i++)
		st_nap_us(10000);
	assert_int_equal(__atomic_load_n(&m->dir->alloc.in_use, __ATOMIC_RELAXED), in_use0);
	chi_client_close(m);

	/* C: killed under blocked submitters and waiters */
	phase_c(soak_name);
}

static int soak_teardown(void **state)
{
	(void)state;
	if (soak_rt_pid > 0) {
		kill(soak_rt_pid, SIGCONT);
		st_kill_reap(soak_rt_pid);
	}
	soak_rt_pid = 0;
	if (soak_name[0])
		st_cleanup(soak_name);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "--client"))
		return soak_client(argv[2], strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10));
	if (argc == 4 && !strcmp(argv[1], "--killwait"))
		return killwait_client(argv[2], strtoull(argv[3], NULL, 10));
	static const st_main_args args = {
		.prog = "soak_runtime",
		.usage = "[--minutes N | --seconds N] (default: $CHI_SOAK_SECONDS, else 60 s)",
		.env = "CHI_SOAK_SECONDS",
		.whole_seconds = &soak_seconds,
		.minutes = 1,
		.runtime = 1,
		.self = self_path,
		.self_cap = sizeof(self_path),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_soak, soak_teardown),
	};
	return st_main(&args, argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
