/* tests/soak_roles.h: the client processes of tests/soak_runtime.c: the
 * phase A soak client (--client NAME LIFE_MS SEED: two submitting threads
 * with 160 stamped tasks in flight each, checks, timed and abandoned
 * waits, one report line when its life ends) and the phase C client
 * (--killwait NAME SEED: both rings held full by spins, blocked
 * submitters, waiters on CPU lanes and on the GPU lane; after "ready" the
 * test kills the runtime, and it reports when every thread returned). */
#ifndef CHI_TESTS_SOAK_ROLES_H
#define CHI_TESTS_SOAK_ROLES_H

#include "test_util.h"
#include "stress_util.h"

#include <pthread.h>

#include "chi/gpu/api.h"
#include "ipc/client.h"
#include "ipc/layout.h"
#include "shm/shm.h"


#define WAIT_NS (20ull * 1000000000ull)
#define KILL_BOUND_NS (5ull * 1000000000ull)

/* ---- phase A: a soak client (--client NAME LIFE_MS SEED) ---- */

/* A client's chunk (src/ipc/chunk.c, chi_chunk): the list of them and each
 * one's allocator, to see that a refused submit took nothing. */
typedef struct soak_chunk {
	uint64_t next, size;
	chi_alloc_hdr alloc;
} soak_chunk;

static uint64_t own_in_use(chi_client *c)
{
	uint64_t n = 0;
	for (uint64_t k = __atomic_load_n(&c->slot->chunks, __ATOMIC_ACQUIRE); k;
	     k = ((soak_chunk *)((char *)c->base + k))->next)
		n += __atomic_load_n(&((soak_chunk *)((char *)c->base + k))->alloc.in_use,
				     __ATOMIC_RELAXED);
	return n;
}

enum { K_DP, K_ECHO, K_BIG, K_SPIN };
#define SOAK_W 160
#define SOAK_ECHO_MAX 8192

typedef struct soak_slot {
	int kind, used, timed_out; /* used: a future in flight */
	uint64_t stamp;
	chi_future f;
	union {
		chi_test_double_plus_task dp;
		chi_test_echo_task e;
		chi_test_arg_task spin;
	} t;
	uint8_t in[SOAK_ECHO_MAX], out[SOAK_ECHO_MAX];
} soak_slot;

typedef struct soak_thr {
	chi_client *c;
	uint64_t seed, end_ns, stamp0;
	uint64_t max;          /* memory.max_task_size */
	uint8_t *big_in, *big_out;
	int big_busy;          /* the one limit-sized echo in flight */
	soak_slot *w;          /* window, SOAK_W slots, a ring */
	uint32_t head, n;
	chi_future ab[64];     /* abandoned: never waited (the slot is reused:
				* a wait is what writes into the task struct) */
	uint32_t nab;
	/* counts */
	uint64_t published, results, wrong, errors, timeouts, eagain, emsgsize, emsg_bad, abandoned,
		big;
} soak_thr;

static void soak_check(soak_thr *a, soak_slot *s, int64_t r)
{
	a->results++;
	int ok;
	if (s->kind == K_DP)
		ok = r == (int64_t)(s->stamp * 2 + (s->stamp & 0xff)) &&
		     s->t.dp.result == s->stamp * 2 + (s->stamp & 0xff);
	else if (s->kind == K_SPIN)
		ok = r == 0;
	else if (s->kind == K_ECHO)
		ok = r == s->t.e.len && s->t.e.reply_len == s->t.e.len &&
		     st_stamp_ok(s->out, s->t.e.len, s->stamp);
	else
		ok = r == (int64_t)(a->max - 4) && s->t.e.reply_len == a->max - 4 &&
		     st_stamp_ok(a->big_out, (uint32_t)(a->max - 4), s->stamp);
	if (!ok) {
		if (r < 0)
			a->errors++;
		else
			a->wrong++;
		if (a->errors + a->wrong <= 3)
			fprintf(stderr, "soak client %d: kind %d stamp %llu: got %lld\n", (int)getpid(),
				s->kind, (unsigned long long)s->stamp, (long long)r);
	}
	if (s->kind == K_BIG)
		a->big_busy = 0;
	s->used = 0;
}

/* Retire the window's oldest: a plain wait, or now and then abandoned
 * (never waited). */
static void soak_retire(soak_thr *a, uint64_t *rng)
{
	soak_slot *s = &a->w[a->head];
	uint64_t dice = st_range(rng, 0, 99);
	if (dice < 3 && a->nab < 64 && s->kind != K_BIG) {
		a->ab[a->nab++] = s->f; /* abandoned */
		a->abandoned++;
		s->used = 0;
	} else {
		soak_check(a, s, chi_future_wait_timeout(&s->f, WAIT_NS));
	}
	a->head = (a->head + 1) % SOAK_W;
	a->n--;
}

/* 1 byte over the limit, in or out: -EMSGSIZE and nothing taken (checked
 * for the allocation by the caller when it runs alone). */
static void soak_over(soak_thr *a, uint64_t *rng)
{
	chi_test_echo_task e;
	chi_future f;
	uint32_t in = (uint32_t)a->max - 3, out = (uint32_t)a->max - 4;
	if (st_rand(rng) & 1) {
		in = 16;
		out = (uint32_t)a->max - 3;
	}
	chi_test_echo_init(&e, CHI_POOL_TEST, a->big_in, in, a->big_out, out);
	int rc = st_rand(rng) & 1 ? chi_try_make_copy_future(a->c, &e.hdr, &chi_test_echo_codec, &f)
				  : chi_make_copy_future(a->c, &e.hdr, &chi_test_echo_codec, &f);
	if (rc == -EMSGSIZE)
		a->emsgsize++;
	else
		a->emsg_bad++;
}

static void *soak_thread(void *arg)
{
	soak_thr *a = arg;
	uint64_t rng = a->seed, stamp = a->stamp0;
	while (st_now_ns() < a->end_ns) {
		if (a->n == SOAK_W || (a->n && st_range(&rng, 0, 3) == 0))
			soak_retire(a, &rng);
		if (a->n == SOAK_W)
			continue;
		uint32_t at = (a->head + a->n) % SOAK_W;
		if (++stamp % 512 == 0)
			soak_over(a, &rng);
		soak_slot *s = &a->w[at];
		s->stamp = stamp;
		s->timed_out = 0;
		uint64_t dice = st_range(&rng, 0, 999);
		const chi_codec *codec;
		if (dice < 3 && !a->big_busy) {
			s->kind = K_BIG;
			uint32_t n = (uint32_t)a->max - 4; /* in_size = out_size = the limit */
			st_stamp_fill(a->big_in, n, stamp);
			chi_test_echo_init(&s->t.e, CHI_POOL_TEST, a->big_in, n, a->big_out, n);
			codec = &chi_test_echo_codec;
			a->big_busy = 1;
			a->big++;
		} else if (dice < 13) {
			/* 40 us of work, or 1 ms: the worker falls behind and
			 * the rings fill meanwhile */
			s->kind = K_SPIN;
			chi_test_arg_init(&s->t.spin, CHI_POOL_TEST, CHI_TEST_SPIN,
					  dice < 5 ? 1000000 : 40000);
			codec = &chi_test_arg_codec;
		} else if (dice < 300) {
			s->kind = K_ECHO;
			uint32_t n = (uint32_t)st_range(&rng, 1, SOAK_ECHO_MAX);
			st_stamp_fill(s->in, n, stamp);
			chi_test_echo_init(&s->t.e, CHI_POOL_TEST, s->in, n, s->out, SOAK_ECHO_MAX);
			codec = &chi_test_echo_codec;
		} else {
			s->kind = K_DP;
			chi_test_double_plus_init(&s->t.dp, CHI_POOL_TEST, stamp, (uint32_t)(stamp & 0xff));
			codec = &chi_test_double_plus_codec;
		}
		if (dice % 4 == 1)
			s->t.dp.hdr.flags |= CHI_TASK_BULK; /* hdr is first in both */
		int rc;
		if (dice % 3 == 0) {
			rc = chi_try_make_copy_future(a->c, &s->t.dp.hdr, codec, &s->f);
			if (rc == -EAGAIN) {
				a->eagain++;
				rc = chi_make_copy_future(a->c, &s->t.dp.hdr, codec, &s->f);
			}
		} else {
			rc = chi_make_copy_future(a->c, &s->t.dp.hdr, codec, &s->f);
		}
		if (rc) {
			a->errors++;
			fprintf(stderr, "soak client %d: submit: %s\n", (int)getpid(), chi_strerror(rc));
			if (s->kind == K_BIG)
				a->big_busy = 0;
			break;
		}
		s->used = 1;
		a->published++;
		if (dice % 10 == 7) {
			/* a short timed wait on the newest: -ETIMEDOUT leaves it
			 * pending in the window, waited again when it is oldest */
			int64_t r = chi_future_wait_timeout(&s->f, st_range(&rng, 0, 50) * 1000);
			if (r != -ETIMEDOUT) {
				soak_check(a, s, r);
				continue;
			}
			a->timeouts++;
			s->timed_out = 1;
		}
		a->n++;
	}
	while (a->n) { /* the rest, plainly */
		soak_slot *s = &a->w[a->head];
		if (s->used == 1)
			soak_check(a, s, chi_future_wait_timeout(&s->f, WAIT_NS));
		a->head = (a->head + 1) % SOAK_W;
		a->n--;
	}
	return NULL;
}

static int soak_client(const char *name, uint64_t life_ms, uint64_t seed)
{
	st_child_init();
	chi_client *c;
	if (st_connect_within(name, &c, 5000))
		return 2;
	uint64_t rng = seed;
	static soak_thr a[2];
	uint64_t max = c->dir->max_task_size, end = st_now_ns() + life_ms * 1000000u;
	for (int i = 0; i < 2; i++) {
		a[i].c = c;
		a[i].seed = st_rand(&rng);
		a[i].end_ns = end;
		a[i].stamp0 = ((uint64_t)getpid() << 32) | ((uint64_t)i << 31);
		a[i].max = max;
		a[i].big_in = malloc(max);
		a[i].big_out = malloc(max);
		a[i].w = calloc(SOAK_W, sizeof(soak_slot));
		if (!a[i].big_in || !a[i].big_out || !a[i].w)
			return 2;
	}
	/* alone: a refused submit takes nothing from this client's chunks */
	uint64_t emsg_taken = 0, u0 = own_in_use(c);
	soak_over(&a[0], &rng);
	emsg_taken += own_in_use(c) != u0;
	pthread_t th[2];
	for (int i = 0; i < 2; i++) /* lanes 0 and 1: threads take lanes in turn */
		if (pthread_create(&th[i], NULL, soak_thread, &a[i]))
			return 2;
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	u0 = own_in_use(c);
	soak_over(&a[1], &rng);
	emsg_taken += own_in_use(c) != u0;
	/* the abandoned: exit with them pending, or let them complete and
	 * close (never waited either way) */
	int pending = 0;
	for (int i = 0; i < 2; i++)
		for (uint32_t k = 0; k < a[i].nab; k++)
			pending += !chi_future_test(&a[i].ab[k]);
	int close_it = (st_rand(&rng) & 1) && !pending;
	uint64_t sum[12] = {0};
	for (int i = 0; i < 2; i++) {
		uint64_t v[12] = {a[i].published, a[i].results, a[i].wrong, a[i].errors, a[i].timeouts,
				  a[i].eagain, a[i].emsgsize, a[i].emsg_bad, a[i].abandoned, a[i].big, 0, 0};
		for (int k = 0; k < 12; k++)
			sum[k] += v[k];
	}
	printf("published %llu results %llu wrong %llu errors %llu timeouts %llu eagain %llu "
	       "emsgsize %llu emsg_bad %llu abandoned %llu big %llu emsg_taken %llu closed %d "
	       "abandoned_pending %d\n",
	       (unsigned long long)sum[0], (unsigned long long)sum[1], (unsigned long long)sum[2],
	       (unsigned long long)sum[3], (unsigned long long)sum[4], (unsigned long long)sum[5],
	       (unsigned long long)sum[6], (unsigned long long)sum[7], (unsigned long long)sum[8],
	       (unsigned long long)sum[9], (unsigned long long)emsg_taken, close_it, pending);
	fflush(stdout);
	if (close_it)
		chi_client_close(c);
	_exit(0); /* without close: the reaper frees what it held */
}

/* ---- phase C: a client with blocked submitters and waiters (--killwait) ---- */

typedef struct kw_thr {
	chi_client *c;
	const chi_gpu_ctx *gx; /* the GPU waiter's */
	chi_future *wait_on;   /* a waiter's future, or NULL: a blocking submitter */
	uint64_t stamp;
	int64_t rc;
	uint64_t end_ns;
	int done, right, picked;
} kw_thr;

static void *kw_submitter(void *arg)
{
	kw_thr *k = arg;
	chi_test_double_plus_task t;
	chi_future f;
	/* the lane is picked at the first submit: a try on the full ring */
	chi_test_double_plus_init(&t, CHI_POOL_TEST, k->stamp, 1);
	int rc = chi_try_make_copy_future(k->c, &t.hdr, &chi_test_double_plus_codec, &f);
	__atomic_store_n(&k->picked, 1, __ATOMIC_RELEASE);
	if (rc == -EAGAIN) /* full: a blocking submit now waits for room */
		rc = chi_make_copy_future(k->c, &t.hdr, &chi_test_double_plus_codec, &f);
	int64_t r = rc ? rc : chi_future_wait(&f);
	k->right = r == (int64_t)(k->stamp * 2 + 1);
	k->rc = r;
	k->end_ns = st_now_ns();
	__atomic_store_n(&k->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *kw_waiter(void *arg)
{
	kw_thr *k = arg;
	__atomic_store_n(&k->picked, 1, __ATOMIC_RELEASE);
	int64_t r = chi_future_wait(k->wait_on);
	k->right = r == 0; /* spins return 0 */
	k->rc = r;
	k->end_ns = st_now_ns();
	__atomic_store_n(&k->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *kw_gpu_waiter(void *arg)
{
	kw_thr *k = arg;
	chi_test_double_plus_task t;
	chi_gpu_future f;
	memset(&f, 0, sizeof(f));
	chi_test_double_plus_init(&t, CHI_POOL_TEST, k->stamp, 0);
	int rc = chi_gpu_make_copy_future(k->gx, 0, &t.hdr, chi_test_double_plus_ser_in, &f);
	__atomic_store_n(&k->picked, 1, __ATOMIC_RELEASE);
	int64_t r = rc ? rc : chi_gpu_future_wait(k->gx, &f, &t.hdr, chi_test_double_plus_de_out, 0);
	k->right = r == (int64_t)(k->stamp * 2);
	k->rc = r;
	k->end_ns = st_now_ns();
	__atomic_store_n(&k->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Fill the calling thread's lane (prio 0) with 1 s spins, the first one
 * running: the ring stays full until the runtime dies. */
static int kw_fill(chi_client *c, chi_test_arg_task *t, chi_future *f, int cap, uint32_t lane)
{
	int n = 0;
	uint64_t popped0 = __atomic_load_n(&c->lanes[lane].popped, __ATOMIC_ACQUIRE);
	for (; n < cap; n++) {
		chi_test_arg_init(&t[n], CHI_POOL_TEST, CHI_TEST_SPIN, 1000000000ull);
		int rc = chi_try_make_copy_future(c, &t[n].hdr, &chi_test_arg_codec, &f[n]);
		if (rc == -EAGAIN) {
			if (n >= 2 && __atomic_load_n(&c->lanes[lane].popped, __ATOMIC_ACQUIRE) > popped0)
				break; /* full with its worker inside a spin */
			st_nap_us(1000);
			n--;
			continue;
		}
		if (rc)
			return rc;
	}
	return n;
}

typedef struct kw_hold {
	chi_client *c;
	chi_test_arg_task t[256];
	chi_future f[256];
	int n;
	int done;
} kw_hold;

static void *kw_holder(void *arg)
{
	kw_hold *h = arg;
	h->n = kw_fill(h->c, h->t, h->f, 256, chi_client_pick_lane(h->c));
	__atomic_store_n(&h->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int killwait_client(const char *name, uint64_t seed)
{
	st_child_init();
	chi_gpu_simulate(1);
	chi_client *c;
	if (st_connect_within(name, &c, 5000))
		return 2;
	chi_gpu_client *gc = NULL;
	int grc = test_gpu_open_within(c, 0, &gc, 3000);
	/* this thread takes lane 0, a holder thread lane 1: both held, full */
	static kw_hold h[2];
	pthread_t hth;
	h[0].c = h[1].c = c;
	h[0].n = kw_fill(c, h[0].t, h[0].f, 256, chi_client_pick_lane(c));
	if (pthread_create(&hth, NULL, kw_holder, &h[1]))
		return 2;
	pthread_join(hth, NULL);
	if (h[0].n < 0 || h[1].n < 0)
		return 3;
	enum { NS = 4, NW = 4 };
	static kw_thr k[NS + NW + 1];
	pthread_t th[NS + NW + 1];
	int nt = 0;
	for (int i = 0; i < NS; i++, nt++) { /* blocking submitters, started one by one */
		k[nt].c = c;
		k[nt].stamp = seed + (uint64_t)i;
		if (pthread_create(&th[nt], NULL, kw_submitter, &k[nt]))
			return 2;
		while (!__atomic_load_n(&k[nt].picked, __ATOMIC_ACQUIRE))
			st_nap_us(100);
	}
	for (int i = 0; i < NW; i++, nt++) { /* waiters on queued spins of both lanes */
		kw_hold *hh = &h[i & 1];
		if (!hh->n)
			return 3;
		k[nt].c = c;
		k[nt].wait_on = &hh->f[hh->n - 1 - i / 2];
		if (pthread_create(&th[nt], NULL, kw_waiter, &k[nt]))
			return 2;
	}
	if (!grc) {
		k[nt].c = c;
		k[nt].gx = chi_gpu_client_ctx(gc);
		k[nt].stamp = seed;
		if (pthread_create(&th[nt], NULL, kw_gpu_waiter, &k[nt]))
			return 2;
		nt++;
	}
	st_nap_us(50000); /* the submitters are inside their blocking submit */
	printf("ready threads %d blocked %d\n", nt, NS);
	fflush(stdout);
	/* now the runtime is killed: every thread must return */
	uint64_t limit = st_now_ns() + 15ull * 1000000000ull;
	int returned = 0;
	while (st_now_ns() < limit) {
		returned = 0;
		for (int i = 0; i < nt; i++)
			returned += __atomic_load_n(&k[i].done, __ATOMIC_ACQUIRE);
		if (returned == nt)
			break;
		st_nap_us(1000);
	}
	uint64_t last = 0, eownerdead = 0, other = 0, completions = 0, wrong = 0;
	for (int i = 0; i < nt; i++) {
		if (!__atomic_load_n(&k[i].done, __ATOMIC_ACQUIRE))
			continue;
		if (k[i].end_ns > last)
			last = k[i].end_ns;
		if (k[i].rc == -EOWNERDEAD)
			eownerdead++;
		else if (k[i].rc < 0)
			other++;
		else if (k[i].right)
			completions++;
		else
			wrong++;
	}
	printf("threads %d returned %d last_ns %llu eownerdead %llu other %llu completions %llu "
	       "wrong %llu gpu %d\n",
	       nt, returned, (unsigned long long)last, (unsigned long long)eownerdead,
	       (unsigned long long)other, (unsigned long long)completions, (unsigned long long)wrong,
	       grc ? 0 : 1);
	fflush(stdout);
	_exit(0);
}

#endif
