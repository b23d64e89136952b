/* tests/storm_roles.h: the client processes of tests/storm_clients.c:
 * the victims (--victim MODE NAME SEED: connect, claim, inflight, close,
 * gpu; each checks its own stamped results and is SIGKILLed by the test at
 * a random moment) and the verifier (--verifier NAME SECONDS: two CPU
 * threads and a GPU thread submitting stamped tasks for the whole storm,
 * every submit and wait with a deadline, one report line at the end). */
#ifndef CHI_TESTS_STORM_ROLES_H
#define CHI_TESTS_STORM_ROLES_H

#include "test_util.h"
#include "stress_util.h"

#include <pthread.h>

#include "chi/gpu/api.h"
#include "ipc/client.h"
#include "ipc/layout.h"


#define WAIT_NS (15ull * 1000000000ull) /* any single wait: far above any honest delay */

/* ---- victims ---- */

static void victim_up(void)
{
	if (write(1, "u\n", 2) != 2)
		_exit(9);
}

static chi_client *victim_c; /* the victim's current client (diagnostics) */
static int victim_nomem;

/* Connect, retrying while the table is full of dead entries for a moment;
 * a runtime gone for 5 s ends the victim. */
static chi_client *victim_connect(const char *name)
{
	chi_client *c;
	int rc = st_connect_within(name, &c, 5000);
	if (rc) {
		fprintf(stderr, "storm victim %d: connect: %s\n", (int)getpid(), chi_strerror(rc));
		_exit(4);
	}
	return victim_c = c;
}

static void *pick_lane_main(void *arg)
{
	chi_client_pick_lane(arg);
	return NULL;
}

/* Half the victims take lane 1: a thread takes lane 0's turn first (lanes
 * go round per thread, in the order threads first submit). */
static void victim_lane(chi_client *c, uint64_t *rng)
{
	pthread_t t;
	if (st_rand(rng) & 1 && !pthread_create(&t, NULL, pick_lane_main, c))
		pthread_join(t, NULL);
}


/* A wrong result or an error is reported on stderr and ends the victim;
 * -ENOMEM (the arena short while dead victims' chunks wait to be
 * reclaimed) is survived: the caller retries. */
static int victim_check(const char *what, int64_t got, int64_t want)
{
	if (got == -ENOMEM && want >= 0) {
		if (!victim_nomem++ && victim_c) {
			chi_alloc_hdr *a = &victim_c->dir->alloc;
			fprintf(stderr, "storm victim %d: %s: -ENOMEM, arena in_use %llu MiB, bump at "
				"%llu of %llu MiB\n", (int)getpid(), what,
				(unsigned long long)(a->in_use >> 20), (unsigned long long)(a->bump >> 20),
				(unsigned long long)(a->end >> 20));
		}
		st_nap_us(1000);
		return 1;
	}
	if (got != want) {
		fprintf(stderr, "storm victim %d: %s: got %lld, want %lld\n", (int)getpid(), what,
			(long long)got, (long long)want);
		_exit(got < 0 ? 3 : 1);
	}
	return 0;
}

static void victim_claim(const char *name, uint64_t *rng)
{
	chi_client *c = victim_connect(name);
	victim_lane(c, rng);
	static chi_test_double_plus_task t[64];
	static chi_task *ts[64];
	static const chi_codec *cs[64];
	static chi_future f[64];
	for (uint64_t round = 0;; round++) {
		uint32_t n = (uint32_t)st_range(rng, 1, 64);
		for (uint32_t i = 0; i < n; i++) {
			chi_test_double_plus_init(&t[i], CHI_POOL_TEST, (round << 8) | i, i);
			if (round & 1) /* every other batch on the bulk ring */
				t[i].hdr.flags |= CHI_TASK_BULK;
			ts[i] = &t[i].hdr;
			cs[i] = &chi_test_double_plus_codec;
		}
		int k = chi_make_copy_futures(c, ts, cs, f, n);
		if (k > 0)
			n = (uint32_t)k; /* ts[k] failed: submitted again below, to learn why */
		else if (victim_check("claim: batch", k, n))
			continue;
		for (uint32_t i = 0; i < n; i++) {
			int64_t r = chi_future_wait_timeout(&f[i], WAIT_NS);
			victim_check("claim: result", r, (int64_t)(((round << 8) | i) * 2 + i));
		}
	}
}

static void victim_inflight(const char *name, uint64_t *rng)
{
	chi_client *c = victim_connect(name);
	victim_lane(c, rng);
	enum { N = 100 };
	static chi_test_double_plus_task d[N];
	static chi_test_arg_task s[N];
	static chi_future f[N];
	static uint8_t big[512 * 1024], back[512 * 1024];
	static chi_test_echo_task et;
	static int kind[N];
	for (uint64_t round = 0;; round++) {
		for (int i = 0; i < N; i++) {
			int rc;
			kind[i] = (int)st_range(rng, 0, 9);
			if (i == N / 2) { /* one arena-sized echo in the middle */
				st_stamp_fill(big, sizeof(big), round);
				kind[i] = 100;
				chi_test_echo_init(&et, CHI_POOL_TEST, big, sizeof(big), back, sizeof(back));
				rc = chi_make_copy_future(c, &et.hdr, &chi_test_echo_codec, &f[i]);
			} else if (kind[i] == 0) { /* 50 us of work: tasks queue up behind it */
				chi_test_arg_init(&s[i], CHI_POOL_TEST, CHI_TEST_SPIN, 50000);
				rc = chi_make_copy_future(c, &s[i].hdr, &chi_test_arg_codec, &f[i]);
			} else {
				chi_test_double_plus_init(&d[i], CHI_POOL_TEST, (round << 16) | (uint64_t)i, 3);
				if (kind[i] & 1)
					d[i].hdr.flags |= CHI_TASK_BULK;
				rc = chi_make_copy_future(c, &d[i].hdr, &chi_test_double_plus_codec, &f[i]);
			}
			if (victim_check("inflight: submit", rc, 0))
				i--; /* -ENOMEM: again */
		}
		for (int i = 0; i < N; i++) {
			int64_t r = chi_future_wait_timeout(&f[i], WAIT_NS);
			if (kind[i] == 100) {
				victim_check("inflight: echo", r, (int64_t)sizeof(big));
				victim_check("inflight: echo bytes", st_stamp_ok(back, sizeof(back), round), 1);
			} else if (kind[i] == 0) {
				victim_check("inflight: spin", r, 0);
			} else {
				victim_check("inflight: double_plus", r,
					     (int64_t)(((round << 16) | (uint64_t)i) * 2 + 3));
			}
		}
	}
}

static void victim_close(const char *name, uint64_t *rng)
{
	static chi_test_double_plus_task t[8];
	static chi_future f[8];
	for (uint64_t round = 0;; round++) {
		chi_client *c = victim_connect(name);
		uint32_t n = (uint32_t)st_range(rng, 1, 8);
		for (uint32_t i = 0; i < n; i++) {
			chi_test_double_plus_init(&t[i], CHI_POOL_TEST, round * 8 + i, 1);
			if (victim_check("close: submit",
					 chi_make_copy_future(c, &t[i].hdr, &chi_test_double_plus_codec, &f[i]), 0))
				i--; /* -ENOMEM: again */
		}
		/* now and then close with the last tasks still in flight */
		uint32_t waited = st_range(rng, 0, 3) ? n : n / 2;
		for (uint32_t i = 0; i < waited; i++)
			victim_check("close: result", chi_future_wait_timeout(&f[i], WAIT_NS),
				     (int64_t)((round * 8 + i) * 2 + 1));
		chi_client_close(c);
	}
}

static void victim_gpu(const char *name, uint64_t *rng)
{
	chi_gpu_simulate(1);
	chi_client *c = victim_connect(name);
	enum { N = 32 };
	static chi_test_double_plus_task d[N];
	static chi_test_echo_task e[N];
	static uint8_t in[N][3000], out[N][3000];
	static chi_gpu_future f[N];
	static int is_echo[N];
	for (uint64_t round = 0;; round++) {
		chi_gpu_client *gc;
		if (test_gpu_open_within(c, 0, &gc, 3000)) /* -EBUSY: slices held by the dead */
			continue;
		const chi_gpu_ctx *x = chi_gpu_client_ctx(gc);
		uint32_t rounds = (uint32_t)st_range(rng, 1, 6);
		for (uint32_t r = 0; r < rounds; r++) {
			uint32_t n = (uint32_t)st_range(rng, 1, N);
			for (uint32_t i = 0; i < n; i++) {
				uint64_t stamp = (round << 24) | (r << 8) | i;
				int rc;
				is_echo[i] = st_range(rng, 0, 3) == 0;
				if (is_echo[i]) {
					uint32_t len = (uint32_t)st_range(rng, 1, sizeof(in[i]));
					st_stamp_fill(in[i], len, stamp);
					chi_test_echo_init(&e[i], CHI_POOL_TEST, in[i], len, out[i], sizeof(out[i]));
					rc = chi_gpu_make_copy_future(x, 0, &e[i].hdr, chi_test_echo_ser_in, &f[i]);
				} else {
					chi_test_double_plus_init(&d[i], CHI_POOL_TEST, stamp, 7);
					rc = chi_gpu_make_copy_future(x, 0, &d[i].hdr, chi_test_double_plus_ser_in,
								      &f[i]);
				}
				if (rc == -EAGAIN) { /* the slice's blocks of a class all in flight */
					n = i;
					break;
				}
				victim_check("gpu: submit", rc, 0);
			}
			for (uint32_t i = 0; i < n; i++) {
				uint64_t stamp = (round << 24) | (r << 8) | i;
				if (is_echo[i]) {
					int64_t res = chi_gpu_future_wait(x, &f[i], &e[i].hdr, chi_test_echo_de_out,
									  WAIT_NS);
					victim_check("gpu: echo", res, e[i].len);
					victim_check("gpu: echo bytes", st_stamp_ok(out[i], e[i].len, stamp), 1);
				} else {
					int64_t res = chi_gpu_future_wait(x, &f[i], &d[i].hdr,
									  chi_test_double_plus_de_out, WAIT_NS);
					victim_check("gpu: double_plus", res, (int64_t)(stamp * 2 + 7));
				}
			}
		}
		chi_gpu_client_close(gc); /* and killed in here now and then */
	}
}

static int victim_main(const char *mode, const char *name, uint64_t seed)
{
	uint64_t rng = seed;
	st_child_init();
	victim_up();
	if (!strcmp(mode, "connect")) {
		for (;;) {
			chi_client *c;
			if (!chi_client_connect(name, &c))
				chi_client_close(c);
		}
	}
	if (!strcmp(mode, "claim"))
		victim_claim(name, &rng);
	else if (!strcmp(mode, "inflight"))
		victim_inflight(name, &rng);
	else if (!strcmp(mode, "close"))
		victim_close(name, &rng);
	else if (!strcmp(mode, "gpu"))
		victim_gpu(name, &rng);
	return 2;
}

/* ---- the verifier ---- */

typedef struct vcount {
	uint64_t verified, wrong, errors, timeouts;
	int open_rc;
} vcount;

static int verifier_stop; /* the verifier's threads end their rounds */
static int verifier_lost; /* one saw a loss or an error: the others end
			     too, their waits short (the test fails anyway) */

static uint64_t vwait_ns(void)
{
	return __atomic_load_n(&verifier_lost, __ATOMIC_RELAXED) ? 20000000ull : WAIT_NS;
}

static void vstop(void)
{
	__atomic_store_n(&verifier_stop, 1, __ATOMIC_RELAXED);
}

static void vfail(void)
{
	__atomic_store_n(&verifier_lost, 1, __ATOMIC_RELAXED);
	vstop();
}

static int vstopped(void)
{
	return __atomic_load_n(&verifier_stop, __ATOMIC_RELAXED);
}

static void vcheck(vcount *v, int64_t got, int64_t want, int bytes_ok, const char *what)
{
	if (got == want && bytes_ok) {
		v->verified++;
		return;
	}
	if (got == -ETIMEDOUT)
		v->timeouts++;
	else if (got < 0)
		v->errors++;
	else
		v->wrong++;
	vfail();
	if (v->wrong + v->errors + v->timeouts <= 5)
		fprintf(stderr, "storm verifier: %s: got %lld want %lld bytes_ok %d\n", what,
			(long long)got, (long long)want, bytes_ok);
}

/* What a lost task's lane looks like: each ring's head, claim counter, the
 * slot at head and the client that marked it, and the lane's hole counts. */
static void verifier_dump(chi_client *c)
{
	chi_client_shm *tab = (chi_client_shm *)((char *)c->base + c->dir->clients_off);
	for (uint32_t l = 0; l < c->nlanes; l++)
		for (uint32_t p = 0; p < CHI_NPRIO; p++) {
			chi_ring_view *r = &c->views[l][p];
			uint64_t h = __atomic_load_n(r->head, __ATOMIC_ACQUIRE);
			uint64_t t = __atomic_load_n(r->tail, __ATOMIC_ACQUIRE);
			uint64_t ctl = __atomic_load_n(&r->slots[h & r->mask].ctl, __ATOMIC_ACQUIRE);
			uint32_t who = chi_slot_client(ctl);
			fprintf(stderr,
				"storm verifier: lane %u prio %u: head %llu tail %llu; slot at head: lap %u "
				"(head's %llu) state %u client %u (entry state %#x pid %d); holes skipped %llu, "
				"stalls %llu\n",
				l, p, (unsigned long long)h, (unsigned long long)t, chi_slot_lap(ctl),
				(unsigned long long)(h >> r->shift), chi_slot_state(ctl), who,
				who && who <= c->dir->max_clients ? tab[who - 1].state : 0,
				who && who <= c->dir->max_clients ? tab[who - 1].pid : 0,
				(unsigned long long)c->lanes[l].holes_skipped,
				(unsigned long long)c->lanes[l].hole_stalls);
			if (t > h && chi_slot_state(ctl) == CHI_SLOT_EMPTY &&
			    chi_slot_lap(ctl) == (uint32_t)(h >> r->shift)) {
				uint64_t run = 0;
				while (run < t - h && run <= r->mask &&
				       chi_slot_state(__atomic_load_n(&r->slots[(h + run) & r->mask].ctl,
								      __ATOMIC_ACQUIRE)) == CHI_SLOT_EMPTY)
					run++;
				fprintf(stderr,
					"storm verifier: lane %u prio %u: the %llu tickets from head on were "
					"claimed and never marked (a claimant killed between its claim, P1, and "
					"its marks, P2: a batch claims up to 64 at once); the hole check looks "
					"32 slots past head for a published one (src/runtime/holes.c)\n",
					l, p, (unsigned long long)run);
			}
		}
}

typedef struct vgpu {
	chi_client *c;
	vcount v;
} vgpu;

static void *verifier_gpu(void *arg)
{
	vgpu *g = arg;
	chi_gpu_client *gc;
	g->v.open_rc = test_gpu_open_within(g->c, 0, &gc, 5000);
	if (g->v.open_rc)
		return NULL;
	const chi_gpu_ctx *x = chi_gpu_client_ctx(gc);
	enum { N = 16 };
	static chi_test_double_plus_task d[N];
	static chi_test_echo_task e[N];
	static uint8_t in[N][5000], out[N][5000];
	static chi_gpu_future f[N];
	uint64_t stamp = 1ull << 50;
	while (!vstopped()) {
		for (int i = 0; i < N; i++) {
			int rc;
			if (i % 4 == 3) {
				uint32_t len = 1 + (uint32_t)((stamp * 7919) % sizeof(in[i]));
				st_stamp_fill(in[i], len, stamp + (uint64_t)i);
				chi_test_echo_init(&e[i], CHI_POOL_TEST, in[i], len, out[i], sizeof(out[i]));
				rc = chi_gpu_make_copy_future(x, 0, &e[i].hdr, chi_test_echo_ser_in, &f[i]);
			} else {
				chi_test_double_plus_init(&d[i], CHI_POOL_TEST, stamp + (uint64_t)i, 11);
				rc = chi_gpu_make_copy_future(x, 0, &d[i].hdr, chi_test_double_plus_ser_in, &f[i]);
			}
			if (rc) {
				vcheck(&g->v, rc, 0, 1, "gpu submit");
				vstop();
				return NULL;
			}
		}
		for (int i = 0; i < N; i++) {
			if (i % 4 == 3) {
				int64_t r = chi_gpu_future_wait(x, &f[i], &e[i].hdr, chi_test_echo_de_out,
								vwait_ns());
				vcheck(&g->v, r, e[i].len, r < 0 || st_stamp_ok(out[i], e[i].len, stamp + (uint64_t)i),
				       "gpu echo");
			} else {
				int64_t r = chi_gpu_future_wait(x, &f[i], &d[i].hdr, chi_test_double_plus_de_out,
								vwait_ns());
				vcheck(&g->v, r, (int64_t)((stamp + (uint64_t)i) * 2 + 11), 1, "gpu double_plus");
			}
			if (g->v.timeouts) {
				vfail();
				return NULL; /* a future left pending: stop here */
			}
		}
		stamp += N;
	}
	chi_gpu_client_close(gc);
	return NULL;
}

/* A submit that waits for ring room for WAIT_NS at most (a blocking
 * submit has no deadline): -ETIMEDOUT then, with the lanes dumped. */
static int verifier_submit(chi_client *c, chi_task *t, const chi_codec *codec, chi_future *f)
{
	uint64_t end = st_now_ns() + vwait_ns();
	for (;;) {
		int rc = chi_try_make_copy_future(c, t, codec, f);
		if (rc != -EAGAIN)
			return rc;
		if (st_now_ns() > end) {
			verifier_dump(c);
			return -ETIMEDOUT;
		}
		st_nap_us(50);
	}
}

typedef struct vcpu {
	chi_client *c;
	uint64_t end_ns;
	uint64_t seq; /* stamps: this thread's range */
	vcount v;
} vcpu;

/* One CPU thread of the verifier (lanes go round per thread: two threads,
 * lanes 0 and 1): 64 stamped double_plus in flight (every other round on
 * the bulk ring), then one stamped echo. */
static void *verifier_cpu(void *arg)
{
	vcpu *a = arg;
	chi_client *c = a->c;
	vcount *v = &a->v;
	enum { W = 64 };
	chi_test_double_plus_task *d = calloc(W, sizeof(*d));
	chi_future *f = calloc(W, sizeof(*f));
	uint8_t *in = malloc(100000), *out = malloc(100000);
	if (!d || !f || !in || !out) {
		v->errors++;
		return NULL;
	}
	uint64_t seq = a->seq;
	while (st_now_ns() < a->end_ns && !vstopped()) {
		for (int i = 0; i < W; i++) {
			chi_test_double_plus_init(&d[i], CHI_POOL_TEST, seq + (uint64_t)i, (uint32_t)(seq % 1000));
			if (seq / W & 1)
				d[i].hdr.flags |= CHI_TASK_BULK;
			int rc = verifier_submit(c, &d[i].hdr, &chi_test_double_plus_codec, &f[i]);
			if (rc) {
				vcheck(v, rc, 0, 1, "submit");
				vstop();
				return NULL; /* futures left pending: d and f stay */
			}
		}
		for (int i = 0; i < W; i++) {
			/* after one lost task, the others get a second each */
			int64_t r = chi_future_wait_timeout(&f[i], vwait_ns());
			if (r == -ETIMEDOUT && !v->timeouts)
				verifier_dump(c);
			vcheck(v, r, (int64_t)((seq + (uint64_t)i) * 2 + seq % 1000), 1, "double_plus");
		}
		if (v->timeouts) {
			vstop();
			return NULL;
		}
		/* an echo, 1 B to 100 KB: copy space, then arena blocks */
		uint32_t len = 1 + (uint32_t)((seq * 2654435761u) % 100000);
		if (seq % (W * 4) == 0)
			len = (uint32_t)(seq / W % 150) + 1;
		st_stamp_fill(in, len, seq);
		chi_test_echo_task e;
		chi_test_echo_init(&e, CHI_POOL_TEST, in, len, out, 100000);
		chi_future fe;
		int64_t r = verifier_submit(c, &e.hdr, &chi_test_echo_codec, &fe);
		if (!r)
			r = chi_future_wait_timeout(&fe, vwait_ns());
		if (r == -ETIMEDOUT && !v->timeouts)
			verifier_dump(c);
		vcheck(v, r, len, r < 0 || (e.reply_len == len && st_stamp_ok(out, len, seq)), "echo");
		if (v->timeouts) {
			vstop();
			return NULL; /* e, in, out stay: the echo may be pending */
		}
		seq += W;
	}
	free(d);
	free(f);
	free(in);
	free(out);
	return NULL;
}

static int verifier_main(const char *name, unsigned seconds)
{
	st_child_init();
	chi_gpu_simulate(1);
	chi_client *c;
	if (st_connect_within(name, &c, 5000))
		return 2;
	vgpu g = {c, {0, 0, 0, 0, 0}};
	pthread_t th, tc[2];
	if (pthread_create(&th, NULL, verifier_gpu, &g))
		return 2;
	uint64_t end = st_now_ns() + (uint64_t)seconds * 1000000000ull;
	vcpu a[2] = {{c, end, 0, {0, 0, 0, 0, 0}}, {c, end, 1ull << 40, {0, 0, 0, 0, 0}}};
	for (int i = 0; i < 2; i++)
		if (pthread_create(&tc[i], NULL, verifier_cpu, &a[i]))
			return 2;
	victim_up();
	for (int i = 0; i < 2; i++)
		pthread_join(tc[i], NULL);
	vstop();
	pthread_join(th, NULL);
	vcount v = a[0].v;
	v.verified += a[1].v.verified;
	v.wrong += a[1].v.wrong;
	v.errors += a[1].v.errors;
	v.timeouts += a[1].v.timeouts;
	printf("verified %llu wrong %llu errors %llu timeouts %llu gpu_open %d gpu_verified %llu "
	       "gpu_wrong %llu gpu_errors %llu gpu_timeouts %llu\n",
	       (unsigned long long)v.verified, (unsigned long long)v.wrong,
	       (unsigned long long)v.errors, (unsigned long long)v.timeouts, -g.v.open_rc,
	       (unsigned long long)g.v.verified, (unsigned long long)g.v.wrong,
	       (unsigned long long)g.v.errors, (unsigned long long)g.v.timeouts);
	fflush(stdout);
	if (!v.timeouts && !g.v.timeouts && !v.errors && !g.v.errors)
		chi_client_close(c);
	_exit(0); /* futures may be left pending: no leak check */
}

#endif
