/* tests/buggy_roles.h: the client processes of tests/fault_buggy_client.c
 * that are not the garbage writer (tests/buggy_writer.h): the honest client
 * (--honest NAME: 2 CPU threads on lanes 0 and 1 and a GPU thread, each
 * with 8 stamped tasks in flight, every result checked; it stops when its
 * stdin closes and prints one report line) and the probe (--probe NAME:
 * connected before the garbage; on "go" it asks admin.stats on each lane
 * and priority at once and prints how many answered within 2 s). */
#ifndef CHI_TESTS_BUGGY_ROLES_H
#define CHI_TESTS_BUGGY_ROLES_H

#include "test_util.h"
#include "stress_util.h"

#include <pthread.h>

#include "chi/gpu/api.h"
#include "ipc/client.h"

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

/* How one submit ended, after its retries: 1 when the task went in; a
 * refusal (-EAGAIN for 200 ms) or an error is counted. */
static int h_submitted(hc *h, int rc)
{
	if (rc == -EAGAIN)
		__atomic_fetch_add(&h->refused, 1, __ATOMIC_RELAXED);
	else if (rc)
		h_count(h, rc, 0);
	return !rc;
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
			n += h_submitted(h, rc);
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
			n += h_submitted(h, rc);
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

#endif
