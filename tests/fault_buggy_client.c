/* tests/fault_buggy_client.c: a buggy client (label fault; issue 20,
 * Deliver 2). A process of the same user writes garbage, random and
 * crafted, into what it can reach in the main segment (and its simulated
 * GPU's segment) while an honest client in another process submits stamped
 * tasks. Each target runs against a runtime of its own (a child process:
 * 2 workers, 2 CPU lanes of depth 64, one simulated GPU lane), so a crash
 * is pinned to its target:
 *
 *   slots     ring slots of every CPU and GPU ring: random words, and
 *             crafted PUBLISHED / CLAIMED control words for the slots at and
 *             just past head, pointing at the writer's own garbage blocks,
 *             at offsets inside and outside the segment, at other segments
 *   claims    the rings' claim counters: random, a little back, a little or
 *             a lap ahead
 *   heads     the rings' consumer heads (ring.h C4): a step back or ahead,
 *             random, the claim counter
 *   futures   the writer's own future blocks (every header word: flags with
 *             POINTER / COMPLETE / STARTED / ABANDONED, result, out_size,
 *             data, data_cap, task_ptr, client, lane; random copy space),
 *             published on every ring, and rewritten while the worker may
 *             be reading them, and published again
 *   copy      a valid task header in copy space with wrong sizes and
 *             payloads (echo lengths past the wire, short double_plus)
 *   data      tasks in the writer's data blocks with wrong data_cap, data
 *             pointing outside the segment, into the runtime's structures
 *             below the arena, at random arena offsets, or at the block
 *             itself; the bytes rewritten while the task runs
 *   chunks    its own chunk lists (more clients connected in the writer):
 *             heads and links out of the segment, misaligned, self and
 *             two-cycles, sizes that are no class; each client then closed
 *             or left to die with the writer
 *   table     its own client-table entries and free ones: states (DEAD,
 *             CLOSED, LIVE, claims), pids (0, 1, -1, dead), epochs, chunk
 *             heads
 *   lanes     the rest of the lane records: `claimed`, slots offsets,
 *             depth, shift, worker, id, the counters and histogram
 *   gpu       its GPU slice: inboxes (random words and words with the seal
 *             mark), its future and data blocks, and entries published on
 *             the GPU ring (sealed and not, packed counts) pointing at them
 *             and elsewhere
 * and, only when asked (--targets, --all, --dir), what only the runtime
 * writes:
 *   dir       the directory (nlanes, nworkers, depth, max_task_size,
 *             workers_off, lanes_off, clients_off, max_clients, ngpus,
 *             counters, pools), the allocator's header, the segment header
 *             and the GPU directory
 *   workers   worker records (sleep words, task_seq, handed / handled)
 *   others    other clients' table entries and chunk lists, and slots and
 *             data pointers aimed at the honest client's blocks
 * Offsets the writer puts in blocks, slots and links point, by default,
 * into its own memory, outside the segment or across its end; with
 * --structs (and for dir, others, --all) also into the runtime's
 * structures below the arena (segment header, directory, workers, lanes,
 * slots, client table), where a worker that takes one for a future block
 * writes a completion.
 * The honest client (2 CPU threads, lanes 0 and 1, and a GPU thread) keeps
 * 8 tasks in flight each, try-submits (-EAGAIN for 200 ms counts as
 * refused) and waits 1 s at most (a task the garbage swallowed counts as
 * timed out): every result it accepts must be right (wrong: 0) or a clean
 * negative errno. At the end the runtime process must be alive and answer
 * admin.stats on some ring (a probe process, connected before the
 * garbage, asks on each lane and priority). For the three ring-word
 * targets (slots, claims, heads) a runtime that lives but answers on no
 * ring is reported WEDGED and not failed (--strict fails it): on today's
 * code one such word wedges a ring for good (a slot not EMPTY at the claim
 * counter makes chi_ring_try_claim spin for ever; a claim counter moved
 * leaves unmarked holes or tickets handed out twice; the worker reads its
 * head back from the segment). The writer may die of its own
 * garbage (its SIGSEGV is counted, it is started again). Figures per
 * target are printed. Default: the default targets, 10 s of garbage in
 * all (--seconds N, or CHI_BUGGY_SECONDS; sanitizer builds run shorter),
 * seed fixed (--seed S); CHI_BC_CASE=k makes the writer use only shape k
 * of its target (to pin a finding down).
 *
 * Cross-process: skipped under ThreadSanitizer (as tests/test_xproc.c). */
#include "test_util.h"
#include "stress_util.h"

#include <pthread.h>

#include "buggy_writer.h"

static char self_path[4096];
static double bc_seconds = 10;
static int bc_strict;
static uint64_t bc_seed = 0xb06c11e7ull;

/* ======================= the honest client (--honest) ======================= */

typedef struct hc {
	chi_client *c;
	const chi_gpu_ctx *gx;
	uint64_t ok, wrong, errors, timeouts, refused;
	int gpu, done, picked;
	uint64_t stamp;
	uint64_t errnos;    /* bit e for errno e < 64 seen (bit 0: one >= 64) */
	uint64_t big_errno; /* the last errno >= 64 seen */
} hc;

static volatile int honest_stop;

static void h_count(hc *h, int64_t r, int right)
{
	if (r >= 0 && right) {
		__atomic_fetch_add(&h->ok, 1, __ATOMIC_RELAXED);
	} else if (r == -ETIMEDOUT) {
		__atomic_fetch_add(&h->timeouts, 1, __ATOMIC_RELAXED);
	} else if (r < 0) {
		__atomic_fetch_add(&h->errors, 1, __ATOMIC_RELAXED);
		__atomic_fetch_or(&h->errnos, 1ull << (-r < 64 ? -r : 0), __ATOMIC_RELAXED);
		if (-r >= 64)
			__atomic_store_n(&h->big_errno, (uint64_t)-r, __ATOMIC_RELAXED);
	} else {
		if (__atomic_fetch_add(&h->wrong, 1, __ATOMIC_RELAXED) < 3)
			fprintf(stderr, "buggy_client: honest %s task got a WRONG result (%lld)\n",
				h->gpu ? "GPU" : "CPU", (long long)r);
	}
}

enum { HW = 8, HLEN = 10000 };

static void *honest_cpu(void *arg)
{
	hc *h = arg;
	chi_client_pick_lane(h->c); /* this thread's lane, in creation order */
	__atomic_store_n(&h->picked, 1, __ATOMIC_RELEASE);
	chi_test_double_plus_task *d = calloc(HW, sizeof(*d));
	chi_test_echo_task *e = calloc(HW, sizeof(*e));
	chi_future *f = calloc(HW, sizeof(*f));
	uint8_t(*in)[HLEN] = malloc(HW * HLEN), (*out)[HLEN] = malloc(HW * HLEN);
	int *kind = calloc(HW, sizeof(int));
	uint64_t *stamp = calloc(HW, sizeof(uint64_t));
	uint64_t rng = h->stamp;
	while (!honest_stop && d && e && f && in && out && kind && stamp) {
		int n = 0;
		for (int i = 0; i < HW; i++) {
			uint64_t s = h->stamp++;
			chi_task *t;
			const chi_codec *cd;
			kind[n] = (int)st_range(&rng, 0, 2) == 0;
			stamp[n] = s;
			if (kind[n]) {
				uint32_t len = (uint32_t)st_range(&rng, 1, HLEN);
				st_stamp_fill(in[n], len, s);
				chi_test_echo_init(&e[n], CHI_POOL_TEST, in[n], len, out[n], HLEN);
				t = &e[n].hdr;
				cd = &chi_test_echo_codec;
			} else {
				chi_test_double_plus_init(&d[n], CHI_POOL_TEST, s, (uint32_t)(s & 0xff));
				t = &d[n].hdr;
				cd = &chi_test_double_plus_codec;
			}
			if (st_range(&rng, 0, 3) == 0)
				t->flags |= CHI_TASK_BULK;
			int rc = -EAGAIN;
			for (int k = 0; k < 200 && rc == -EAGAIN && !honest_stop; k++) {
				rc = chi_try_make_copy_future(h->c, t, cd, &f[n]);
				if (rc == -EAGAIN)
					st_nap_us(1000);
			}
			if (rc == -EAGAIN)
				__atomic_fetch_add(&h->refused, 1, __ATOMIC_RELAXED);
			else if (rc)
				h_count(h, rc, 0);
			else
				n++;
		}
		for (int i = 0; i < n; i++) {
			int64_t r = chi_future_wait_timeout(&f[i], honest_stop ? 10000000ull : 1000000000ull);
			int right;
			if (kind[i])
				right = r == e[i].len && e[i].reply_len == e[i].len &&
					st_stamp_ok(out[i], e[i].len, stamp[i]);
			else
				right = r == (int64_t)(d[i].value * 2 + (d[i].value & 0xff)) &&
					d[i].result == d[i].value * 2 + (d[i].value & 0xff);
			h_count(h, r, right);
		}
		if (n == 0)
			st_nap_us(1000);
	}
	__atomic_store_n(&h->done, 1, __ATOMIC_RELEASE);
	return NULL; /* the buffers stay: futures may be left pending */
}

static void *honest_gpu(void *arg)
{
	hc *h = arg;
	const chi_gpu_ctx *x = h->gx;
	chi_test_double_plus_task *d = calloc(HW, sizeof(*d));
	chi_test_echo_task *e = calloc(HW, sizeof(*e));
	chi_gpu_future *f = calloc(HW, sizeof(*f));
	uint8_t(*in)[3000] = malloc(HW * 3000), (*out)[3000] = malloc(HW * 3000);
	int *kind = calloc(HW, sizeof(int));
	uint64_t *stamp = calloc(HW, sizeof(uint64_t));
	uint64_t rng = h->stamp;
	while (!honest_stop && d && e && f && in && out && kind && stamp) {
		int n = 0;
		for (int i = 0; i < HW; i++) {
			uint64_t s = h->stamp++;
			int rc = -EAGAIN;
			kind[n] = (int)st_range(&rng, 0, 2) == 0;
			stamp[n] = s;
			for (int k = 0; k < 200 && rc == -EAGAIN && !honest_stop; k++) {
				if (kind[n]) {
					uint32_t len = (uint32_t)st_range(&rng, 1, 3000);
					st_stamp_fill(in[n], len, s);
					chi_test_echo_init(&e[n], CHI_POOL_TEST, in[n], len, out[n], 3000);
					rc = chi_gpu_make_copy_future(x, 0, &e[n].hdr, chi_test_echo_ser_in, &f[n]);
				} else {
					chi_test_double_plus_init(&d[n], CHI_POOL_TEST, s, 5);
					rc = chi_gpu_make_copy_future(x, 0, &d[n].hdr, chi_test_double_plus_ser_in,
								      &f[n]);
				}
				if (rc == -EAGAIN)
					st_nap_us(1000);
			}
			if (rc == -EAGAIN)
				__atomic_fetch_add(&h->refused, 1, __ATOMIC_RELAXED);
			else if (rc)
				h_count(h, rc, 0);
			else
				n++;
		}
		for (int i = 0; i < n; i++) {
			int64_t r;
			int right;
			if (kind[i]) {
				r = chi_gpu_future_wait(x, &f[i], &e[i].hdr, chi_test_echo_de_out,
							honest_stop ? 10000000ull : 1000000000ull);
				right = r == e[i].len && st_stamp_ok(out[i], e[i].len, stamp[i]);
			} else {
				r = chi_gpu_future_wait(x, &f[i], &d[i].hdr, chi_test_double_plus_de_out,
							honest_stop ? 10000000ull : 1000000000ull);
				right = r == (int64_t)(stamp[i] * 2 + 5) && d[i].result == stamp[i] * 2 + 5;
			}
			h_count(h, r, right);
		}
		if (n == 0)
			st_nap_us(1000);
	}
	__atomic_store_n(&h->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int honest_main(const char *name)
{
	st_child_init();
	chi_gpu_simulate(1);
	chi_client *c;
	if (st_connect_within(name, &c, 5000))
		_exit(2);
	chi_gpu_client *gc = NULL;
	int grc = test_gpu_open_within(c, 0, &gc, 3000);
	static hc h[3];
	pthread_t th[3];
	int nt = grc ? 2 : 3;
	for (int i = 0; i < nt; i++) {
		h[i].c = c;
		h[i].gpu = i == 2;
		h[i].gx = gc ? chi_gpu_client_ctx(gc) : NULL;
		h[i].stamp = (uint64_t)(i + 1) << 40;
		if (pthread_create(&th[i], NULL, i == 2 ? honest_gpu : honest_cpu, &h[i]))
			return 2;
		while (i < 2 && !__atomic_load_n(&h[i].picked, __ATOMIC_ACQUIRE))
			st_nap_us(100);
	}
	printf("up\n");
	fflush(stdout);
	char buf[64];
	while (read(0, buf, sizeof(buf)) > 0) /* until the test closes our stdin */
		;
	honest_stop = 1;
	uint64_t limit = st_now_ns() + 1500000000ull;
	int stuck;
	do {
		stuck = 0;
		for (int i = 0; i < nt; i++)
			stuck += !__atomic_load_n(&h[i].done, __ATOMIC_ACQUIRE);
		if (stuck)
			st_nap_us(1000);
	} while (stuck && st_now_ns() < limit);
	uint64_t s[6] = {0};
	uint64_t errnos = 0;
	for (int i = 0; i < nt; i++) {
		s[0] += __atomic_load_n(&h[i].ok, __ATOMIC_RELAXED);
		s[1] += __atomic_load_n(&h[i].wrong, __ATOMIC_RELAXED);
		s[2] += __atomic_load_n(&h[i].errors, __ATOMIC_RELAXED);
		s[3] += __atomic_load_n(&h[i].timeouts, __ATOMIC_RELAXED);
		s[4] += __atomic_load_n(&h[i].refused, __ATOMIC_RELAXED);
		errnos |= __atomic_load_n(&h[i].errnos, __ATOMIC_RELAXED);
	}
	uint64_t gpu_ok = nt == 3 ? h[2].ok : 0;
	char el[128] = "";
	size_t n = 0;
	for (int e = 1; e < 64; e++)
		if (errnos & (1ull << e) && n < 100)
			n += (size_t)snprintf(el + n, sizeof(el) - n, "%s%d", n ? "," : "", e);
	for (int i = 0; i < nt; i++)
		if (h[i].big_errno && n < 100)
			n += (size_t)snprintf(el + n, sizeof(el) - n, "%s%llu", n ? "," : "",
					      (unsigned long long)h[i].big_errno);
	if (!n)
		snprintf(el, sizeof(el), "-");
	printf("ok %llu wrong %llu errors %llu timeouts %llu refused %llu stuck %d gpu_ok %llu "
	       "gpu %d errnos %s\n",
	       (unsigned long long)s[0], (unsigned long long)s[1], (unsigned long long)s[2],
	       (unsigned long long)s[3], (unsigned long long)s[4], stuck, (unsigned long long)gpu_ok,
	       nt == 3, el);
	fflush(stdout);
	_exit(0); /* futures may be pending: no close */
}

/* ======================= the probe (--probe) ======================= */

typedef struct probe_thr {
	chi_client *c;
	int prio, picked, answered, err;
} probe_thr;

static void *probe_one(void *arg)
{
	probe_thr *p = arg;
	chi_client_pick_lane(p->c);
	__atomic_store_n(&p->picked, 1, __ATOMIC_RELEASE);
	chi_admin_stats_task *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	chi_admin_stats_init(st);
	if (p->prio)
		st->hdr.flags |= CHI_TASK_BULK;
	chi_future f;
	int rc = -EAGAIN;
	for (int k = 0; k < 500 && rc == -EAGAIN; k++) {
		rc = chi_try_make_copy_future(p->c, &st->hdr, &chi_admin_stats_codec, &f);
		if (rc == -EAGAIN)
			st_nap_us(2000);
	}
	int64_t r = rc ? rc : chi_future_wait_timeout(&f, 3000000000ull);
	if (r >= 0 && st->nworkers > 0)
		__atomic_store_n(&p->answered, 1, __ATOMIC_RELEASE);
	else
		__atomic_store_n(&p->err, (int)-r, __ATOMIC_RELEASE);
	return NULL; /* st may be pending: kept */
}

/* Connected before the garbage; on "go" asks admin.stats on each lane and
 * priority at once; prints how many answered within 2 s. */
static int probe_main(const char *name)
{
	st_child_init();
	chi_client *c;
	if (st_connect_within(name, &c, 5000))
		return 2;
	/* the blocks its questions need come from a chunk it takes now, not
	 * from an arena the garbage may have drained by then (leaked chunks) */
	for (int i = 0; i < 4; i++)
		if (st_admin_stats(c, 5000, NULL))
			_exit(2);
	printf("up\n");
	fflush(stdout);
	char line[16];
	if (st_read_line(0, line, sizeof(line), 600000) <= 0)
		_exit(3);
	uint32_t n = c->nlanes * 2;
	static probe_thr p[16];
	pthread_t th[16];
	if (n > 16)
		n = 16;
	for (uint32_t i = 0; i < n; i++) {
		p[i].c = c;
		p[i].prio = (int)(i / c->nlanes);
		if (pthread_create(&th[i], NULL, probe_one, &p[i]))
			return 2;
		while (!__atomic_load_n(&p[i].picked, __ATOMIC_ACQUIRE))
			st_nap_us(100);
	}
	uint64_t end = st_now_ns() + 2000000000ull;
	int answered = 0;
	do {
		answered = 0;
		for (uint32_t i = 0; i < n; i++)
			answered += __atomic_load_n(&p[i].answered, __ATOMIC_ACQUIRE);
		if (answered < (int)n)
			st_nap_us(2000);
	} while (answered < (int)n && st_now_ns() < end);
	int err = 0;
	for (uint32_t i = 0; i < n; i++)
		if (p[i].err)
			err = p[i].err;
	printf("answered %d rings %u errno %d\n", answered, n, err);
	fflush(stdout);
	_exit(0);
}

/* ======================= the test ======================= */

typedef struct bc_result {
	int target;
	int crashed, sig, code; /* the runtime died: by signal sig, or exited with code */
	int answered, rings;
	uint64_t g_lives, g_deaths, g_writes, g_published;
	int g_sig;
	char honest[256];
	int honest_rc;
} bc_result;

static int seq_name;

static void run_target(int target, double seconds, uint64_t seed, bc_result *res)
{
	memset(res, 0, sizeof(*res));
	res->target = target;
	char name[32];
	snprintf(name, sizeof(name), "bc%d_%d", (int)getpid(), seq_name++);
	char *rargv[] = {self_path, (char *)"--runtime", name, (char *)"workers=2", (char *)"lanes=2",
			 (char *)"depth=64", (char *)"gpus=1", (char *)"gpu_clients=4",
			 (char *)"seg=134217728", NULL};
	pid_t rt = st_spawn(rargv, NULL, NULL);
	assert_true(rt > 0);
	chi_client *m;
	assert_int_equal(st_connect_within(name, &m, 10000), 0);
	char line[512];
	/* the probe and the honest client connect before the garbage */
	int pin = -1, pout = -1, hin = -1, hout = -1;
	char *pargv[] = {self_path, (char *)"--probe", name, NULL};
	pid_t probe = st_spawn(pargv, &pout, &pin);
	assert_true(probe > 0);
	assert_true(st_read_line(pout, line, sizeof(line), 10000) > 0);
	char *hargv[] = {self_path, (char *)"--honest", name, NULL};
	pid_t honest = st_spawn(hargv, &hout, &hin);
	assert_true(honest > 0);
	assert_true(st_read_line(hout, line, sizeof(line), 10000) > 0);
	st_nap_us(100000);

	/* the writer, again whenever its garbage kills it first */
	uint64_t end = st_now_ns() + (uint64_t)(seconds * 1e9), rng = seed;
	while (st_now_ns() + 20000000ull < end) {
		char tn[8], ms[24], sd[24];
		snprintf(tn, sizeof(tn), "%d", target);
		snprintf(ms, sizeof(ms), "%llu", (unsigned long long)((end - st_now_ns()) / 1000000u));
		snprintf(sd, sizeof(sd), "%llu", (unsigned long long)st_rand(&rng));
		char *gargv[] = {self_path, (char *)"--garbage", name, tn, ms, sd, NULL};
		int gout = -1;
		pid_t gp = st_spawn(gargv, &gout, NULL);
		assert_true(gp > 0);
		int n = st_read_line(gout, line, sizeof(line), (int)(seconds * 1000) + 10000);
		int st;
		if (!st_wait_within(gp, &st, 5000)) {
			st_kill_reap(gp);
			st = 0;
		}
		close(gout);
		res->g_lives++;
		if (n > 0) {
			res->g_writes += st_kv(line, "writes", 0);
			res->g_published += st_kv(line, "published", 0);
		} else if (WIFSIGNALED(st)) {
			res->g_deaths++;
			res->g_sig = WTERMSIG(st);
		}
		if (waitpid(rt, &st, WNOHANG) == rt) { /* the runtime died */
			res->crashed = 1;
			res->sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
			res->code = WIFEXITED(st) ? WEXITSTATUS(st) : 0;
			rt = 0;
			break;
		}
	}
	/* the honest client stops and reports while the probe asks the
	 * runtime (both at once: each may wait out a wedged ring) */
	st_nap_us(100000);
	int go = rt && write(pin, "go\n", 3) == 3;
	close(hin);
	res->honest_rc = st_read_line(hout, res->honest, sizeof(res->honest), 8000);
	st_kill_reap(honest);
	close(hout);
	if (go && st_read_line(pout, line, sizeof(line), 8000) > 0) {
		res->answered = (int)st_kv(line, "answered", 0);
		res->rings = (int)st_kv(line, "rings", 0);
	}
	int st;
	if (rt && waitpid(rt, &st, WNOHANG) == rt) {
		res->crashed = 1;
		res->sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
		res->code = WIFEXITED(st) ? WEXITSTATUS(st) : 0;
		rt = 0;
	}
	st_kill_reap(probe);
	close(pin);
	close(pout);
	if (rt)
		st_kill_reap(rt);
	chi_client_close(m);
	st_cleanup(name);
}

static int bc_targets[T_N], bc_ntargets;

static void test_buggy_client(void **state)
{
	(void)state;
	bc_result res[T_N];
	double per = bc_seconds / bc_ntargets;
	if (per < 0.3)
		per = 0.3;
	int failed = 0;
	char crashed[128] = "", wedged[128] = "";
	uint64_t ok = 0, refused = 0, errs = 0, lost = 0, writes = 0, wrongs = 0;
	for (int i = 0; i < bc_ntargets; i++) {
		bc_result *r = &res[i];
		run_target(bc_targets[i], per, bc_seed + (uint64_t)i, r);
		uint64_t wrong = st_kv(r->honest, "wrong", 0);
		int ring_word = r->target <= T_HEADS;
		ok += st_kv(r->honest, "ok", 0);
		wrongs += wrong;
		errs += st_kv(r->honest, "errors", 0);
		lost += st_kv(r->honest, "timeouts", 0);
		refused += st_kv(r->honest, "refused", 0);
		writes += r->g_writes;
		printf("buggy_client: %-8s %.1f s, writer: %llu lives (%llu died of their own garbage, "
		       "last signal %d), %llu words written, %llu entries published | honest: %s | runtime: "
		       "%s, admin.stats answered on %d of %d rings\n",
		       tname[r->target], per, (unsigned long long)r->g_lives,
		       (unsigned long long)r->g_deaths, r->g_sig, (unsigned long long)r->g_writes,
		       (unsigned long long)r->g_published,
		       r->honest_rc > 0 ? r->honest : "(no report)",
		       r->crashed ? "DIED" : "alive", r->answered, r->rings);
		if (r->crashed) {
			printf("buggy_client: %-8s the runtime died: signal %d (%s), exit code %d\n",
			       tname[r->target], r->sig, r->sig ? strsignal(r->sig) : "-", r->code);
			snprintf(crashed + strlen(crashed), sizeof(crashed) - strlen(crashed), " %s",
				 tname[r->target]);
		}
		const char *why = wrong ? "an honest task accepted a wrong result"
				  : r->crashed ? "the runtime died"
				  : r->honest_rc <= 0 ? "the honest client did not report"
				  : r->answered <= 0 ? "admin.stats answered on no ring"
						     : NULL;
		if (why && r->answered <= 0 && !r->crashed && !wrong && r->honest_rc > 0 && ring_word &&
		    !bc_strict) {
			/* a ring word only the ring's protocol guards: the
			 * runtime lives, its rings are wedged (reported) */
			printf("buggy_client: %-8s WEDGED (not asserted without --strict): the runtime "
			       "lives but answers on no ring\n", tname[r->target]);
			snprintf(wedged + strlen(wedged), sizeof(wedged) - strlen(wedged), " %s",
				 tname[r->target]);
		} else if (why) {
			failed++;
			printf("buggy_client: %-8s FAILED: %s\n", tname[r->target], why);
		}
	}
	printf("buggy_client: %d targets, %.0f s of garbage, %llu words written; honest: %llu right, "
	       "%llu wrong accepted, %llu clean errors, %llu lost (timed out), %llu refused (-EAGAIN); "
	       "runtime died on:%s; wedged on:%s\n",
	       bc_ntargets, per * bc_ntargets, (unsigned long long)writes, (unsigned long long)ok,
	       (unsigned long long)wrongs,
	       (unsigned long long)errs, (unsigned long long)lost, (unsigned long long)refused,
	       crashed[0] ? crashed : " none", wedged[0] ? wedged : " none");
	assert_int_equal(failed, 0);
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "--runtime"))
		return st_runtime_main(argc, argv);
	if (argc == 6 && !strcmp(argv[1], "--garbage"))
		return garbage_main(argv[2], atoi(argv[3]), strtoull(argv[4], NULL, 10),
				    strtoull(argv[5], NULL, 10));
	if (argc == 3 && !strcmp(argv[1], "--honest"))
		return honest_main(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "--probe"))
		return probe_main(argv[2]);
	int dir = 0, all = 0;
	const char *list = NULL;
	const char *env = getenv("CHI_BUGGY_SECONDS"); /* sanitizer builds: shorter */
	if (env && atof(env) > 0)
		bc_seconds = atof(env);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			bc_seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			bc_seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--targets") && i + 1 < argc)
			list = argv[++i];
		else if (!strcmp(argv[i], "--dir"))
			dir = 1;
		else if (!strcmp(argv[i], "--all"))
			all = 1;
		else if (!strcmp(argv[i], "--strict"))
			bc_strict = 1;
		else if (!strcmp(argv[i], "--structs"))
			setenv("CHI_BC_STRUCTS", "1", 1); /* the writers inherit it */
		else {
			fprintf(stderr, "usage: fault_buggy_client [--seconds N] [--seed S] [--dir] [--all] "
					"[--strict] [--structs] [--targets a,b,...]\ntargets:");
			for (int t = 0; t < T_N; t++)
				fprintf(stderr, " %s%s", tname[t], t < T_NDEFAULT ? "" : "*");
			fprintf(stderr, " (* not by default)\n");
			return 2;
		}
	}
	if (list) {
		char buf[256];
		snprintf(buf, sizeof(buf), "%s", list);
		for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
			int t = 0;
			while (t < T_N && strcmp(tname[t], tok))
				t++;
			if (t == T_N) {
				fprintf(stderr, "fault_buggy_client: no target %s\n", tok);
				return 2;
			}
			bc_targets[bc_ntargets++] = t;
		}
	} else {
		for (int t = 0; t < (all ? T_N : T_NDEFAULT); t++)
			bc_targets[bc_ntargets++] = t;
		if (all)
			setenv("CHI_BC_STRUCTS", "1", 1);
		if (dir && !all)
			bc_targets[bc_ntargets++] = T_DIR;
	}
#if defined(CHI_TSAN)
	fprintf(stderr, "fault_buggy_client: skipped under ThreadSanitizer (cross-process)\n");
	return 77;
#endif
	if (test_self_exe(self_path, sizeof(self_path)))
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buggy_client),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
