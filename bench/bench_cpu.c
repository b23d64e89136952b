/* bench/bench_cpu.c: `chi-bench cpu`, the in-process CPU entries.
 *
 *   cpu_pingpong_threads   anchor: two threads spinning on one shared 64-bit
 *                          word; one sample = one round trip.
 *   cpu_roundtrip_inproc   embedded runtime (1 worker, 1 lane), one client
 *                          thread, one test.noop in flight: submit with
 *                          chi_make_copy_future, chi_future_wait; one sample
 *                          = one task. Through the worker thread and the
 *                          ring, never inline.
 *   cpu_throughput_inproc  same runtime; the client keeps WINDOW noops in
 *                          flight (wait the oldest, resubmit it). ops_per_s
 *                          = tasks / elapsed; median_ns and p99_ns are per
 *                          task, amortized over each batch of WINDOW
 *                          completions. Anchor ops_per_s = 1e9 / ping-pong
 *                          median (one round trip per op).
 *   cpu_throughput_batch   as cpu_throughput_inproc, submitting with
 *                          chi_make_copy_futures in batches of BATCH (32):
 *                          wait the oldest batch's BATCH futures, resubmit
 *                          them in one call; WINDOW in flight. Anchor
 *                          cpu_throughput_inproc (ratio > 1: the batch
 *                          submit is faster).
 *
 * Exactly two busy threads (client + worker, ping + pong): the development
 * machine has 2 cores. Nothing is pinned. The runtime's workers and waiting
 * clients spin (runtime.first_busy_wait_us is set to a minute), so these
 * are the spinning regime; sleeping regimes are separate entries. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "chi/chi.h"
#include "chi/modules/test.h"
#include "chi/proto/atomic.h"

#define WINDOW 256
#define RT_DEPTH 1024

typedef struct iters {
	size_t warmup, samples;
	double seconds; /* throughput: measured time */
} iters;

static iters latency_iters(const chi_bench_opts *o)
{
	iters it = {20000, 200000, 0};
	if (o->quick) {
		it.warmup = 2000;
		it.samples = 20000;
	}
	return it;
}

/* ---- cpu_pingpong_threads ---- */

typedef struct pingpong {
	CHI_ALIGNAS(64) uint64_t word;
	char pad[56];
	uint64_t total;
} pingpong;

static void *pong_main(void *arg)
{
	pingpong *pp = arg;
	for (uint64_t i = 0; i < pp->total; i++) {
		uint64_t want = 2 * i + 1;
		while (__atomic_load_n(&pp->word, __ATOMIC_ACQUIRE) != want)
			chi_cpu_relax();
		__atomic_store_n(&pp->word, want + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static int run_pingpong_threads(const chi_bench_opts *o, chi_bench_result *r)
{
	iters it = latency_iters(o);
	uint64_t *s = malloc(it.samples * sizeof(*s));
	pingpong *pp = aligned_alloc(64, sizeof(*pp));
	if (!s || !pp) {
		free(s);
		free(pp);
		return -ENOMEM;
	}
	memset(pp, 0, sizeof(*pp));
	pp->total = it.warmup + it.samples;
	pthread_t th;
	int rc = pthread_create(&th, NULL, pong_main, pp);
	if (rc) {
		free(s);
		free(pp);
		return -rc;
	}
	for (uint64_t i = 0; i < pp->total; i++) {
		uint64_t t0 = chi_bench_now_ns();
		__atomic_store_n(&pp->word, 2 * i + 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(&pp->word, __ATOMIC_ACQUIRE) != 2 * i + 2)
			chi_cpu_relax();
		uint64_t t1 = chi_bench_now_ns();
		if (i >= it.warmup)
			s[i - it.warmup] = t1 - t0;
	}
	pthread_join(th, NULL);
	chi_bench_result_from_samples(r, s, it.samples);
	r->ops_per_s = 1e9 / r->median_ns;
	free(s);
	free(pp);
	return 0;
}

/* ---- embedded runtime ---- */

static int start_runtime(chi_runtime **rt)
{
	chi_config cfg;
	chi_config_defaults(&cfg);
	snprintf(cfg.name, sizeof(cfg.name), "bench%ld", (long)getpid());
	cfg.num_workers = 1;
	cfg.lanes = 1;
	cfg.queue_depth = RT_DEPTH;
	cfg.first_busy_wait_us = 60ull * 1000 * 1000; /* keep spinning */
	cfg.gpu_enabled = CHI_OFF;
	/* only the pools the entries use: admin and test */
	uint32_t np = 0;
	for (uint32_t i = 0; i < cfg.npools; i++)
		if (!strcmp(cfg.pools[i].module, "admin") || !strcmp(cfg.pools[i].module, "test"))
			cfg.pools[np++] = cfg.pools[i];
	cfg.npools = np;
	int rc = chi_runtime_start(&cfg, rt);
	if (rc)
		fprintf(stderr, "chi-bench: chi_runtime_start(%s): %s\n", cfg.name,
			chi_strerror(rc));
	return rc;
}

static int noop_call(chi_client *c, chi_test_noop_task *t, chi_future *f)
{
	chi_test_noop_init(t, CHI_POOL_TEST);
	int rc = chi_make_copy_future(c, &t->hdr, &chi_test_noop_codec, f);
	if (rc < 0) {
		fprintf(stderr, "chi-bench: chi_make_copy_future: %s\n", chi_strerror(rc));
		return rc;
	}
	int64_t w = chi_future_wait(f);
	if (w < 0) {
		fprintf(stderr, "chi-bench: chi_future_wait: %s\n", chi_strerror((int)w));
		return (int)w;
	}
	return 0;
}

/* ---- cpu_roundtrip_inproc ---- */

static int run_roundtrip_inproc(const chi_bench_opts *o, chi_bench_result *r)
{
	iters it = latency_iters(o);
	uint64_t *s = malloc(it.samples * sizeof(*s));
	if (!s)
		return -ENOMEM;
	chi_runtime *rt;
	int rc = start_runtime(&rt);
	if (rc) {
		free(s);
		return rc;
	}
	chi_client *c = chi_runtime_client(rt);
	chi_test_noop_task t;
	chi_future f;
	for (size_t i = 0; i < it.warmup && !rc; i++)
		rc = noop_call(c, &t, &f);
	for (size_t i = 0; i < it.samples && !rc; i++) {
		uint64_t t0 = chi_bench_now_ns();
		rc = noop_call(c, &t, &f);
		s[i] = chi_bench_now_ns() - t0;
	}
	chi_runtime_stop(rt);
	if (!rc) {
		chi_bench_result_from_samples(r, s, it.samples);
		r->ops_per_s = 1e9 / r->median_ns;
		r->lanes = 1;
		r->depth = RT_DEPTH;
	}
	free(s);
	return rc;
}


/* ---- cpu_throughput_inproc ---- */

static int submit_noop(chi_client *c, chi_test_noop_task *t, chi_future *f)
{
	chi_test_noop_init(t, CHI_POOL_TEST);
	int rc = chi_make_copy_future(c, &t->hdr, &chi_test_noop_codec, f);
	if (rc < 0)
		fprintf(stderr, "chi-bench: chi_make_copy_future: %s\n", chi_strerror(rc));
	return rc < 0 ? rc : 0;
}

static int wait_noop(chi_future *f)
{
	int64_t w = chi_future_wait(f);
	if (w < 0) {
		fprintf(stderr, "chi-bench: chi_future_wait: %s\n", chi_strerror((int)w));
		return (int)w;
	}
	return 0;
}

/* The end of a throughput run over a window of WINDOW futures: drain them
 * (from k0 on, all in flight unless a submit failed), stop the runtime, fill
 * r from the per-window samples and the task rate, free what the run
 * allocated. The run's error, or the first wait's. */
static int throughput_end(chi_runtime *rt, chi_future *f, size_t k0, int rc, uint64_t *s,
			  size_t ns, uint64_t tasks, uint64_t elapsed, chi_bench_result *r, void *t)
{
	if (!rc) {
		for (size_t j = 0, k = k0; j < WINDOW; j++, k = (k + 1) % WINDOW) {
			int w = wait_noop(&f[k]);
			if (w && !rc)
				rc = w;
		}
	}
	chi_runtime_stop(rt);
	if (!rc) {
		chi_bench_result_from_samples(r, s, ns);
		r->ops_per_s = elapsed ? (double)tasks * 1e9 / (double)elapsed : 0;
		r->lanes = 1;
		r->depth = RT_DEPTH;
	}
	free(s);
	free(t);
	free(f);
	return rc;
}

static int run_throughput_inproc(const chi_bench_opts *o, chi_bench_result *r)
{
	double seconds = o->quick ? 0.3 : 2.0;
	size_t max_batches = (size_t)(seconds * 1e9 / 1000.0 / WINDOW) + 16; /* >= 1 us/task */
	uint64_t *s = malloc(max_batches * sizeof(*s));
	chi_test_noop_task *t = malloc(WINDOW * sizeof(*t));
	chi_future *f = malloc(WINDOW * sizeof(*f));
	if (!s || !t || !f) {
		free(s);
		free(t);
		free(f);
		return -ENOMEM;
	}
	chi_runtime *rt;
	int rc = start_runtime(&rt);
	if (rc) {
		free(s);
		free(t);
		free(f);
		return rc;
	}
	chi_client *c = chi_runtime_client(rt);
	for (size_t j = 0; j < WINDOW && !rc; j++)
		rc = submit_noop(c, &t[j], &f[j]);

	/* warm-up: a tenth of the time, same loop */
	uint64_t warm_end = chi_bench_now_ns() + (uint64_t)(seconds * 1e8);
	size_t k = 0;
	while (!rc && chi_bench_now_ns() < warm_end) {
		for (size_t j = 0; j < WINDOW && !rc; j++, k = (k + 1) % WINDOW) {
			rc = wait_noop(&f[k]);
			if (!rc)
				rc = submit_noop(c, &t[k], &f[k]);
		}
	}

	uint64_t tasks = 0, nb = 0;
	uint64_t start = chi_bench_now_ns(), end = start + (uint64_t)(seconds * 1e9);
	uint64_t prev = start, now = start;
	while (!rc && now < end && nb < max_batches) {
		for (size_t j = 0; j < WINDOW && !rc; j++, k = (k + 1) % WINDOW) {
			rc = wait_noop(&f[k]);
			if (!rc)
				rc = submit_noop(c, &t[k], &f[k]);
		}
		if (rc)
			break;
		now = chi_bench_now_ns(); /* once per WINDOW tasks, not per spin */
		s[nb++] = (now - prev + WINDOW / 2) / WINDOW;
		tasks += WINDOW;
		prev = now;
	}
	uint64_t elapsed = now - start;

	return throughput_end(rt, f, k, rc, s, nb, tasks, elapsed, r, t);
}

/* ---- cpu_throughput_batch ---- */

#define BATCH 32

static int submit_batch(chi_client *c, chi_test_noop_task *t, chi_task **ts,
			const chi_codec **cs, chi_future *f)
{
	for (size_t j = 0; j < BATCH; j++) {
		chi_test_noop_init(&t[j], CHI_POOL_TEST);
		ts[j] = &t[j].hdr;
		cs[j] = &chi_test_noop_codec;
	}
	int rc = chi_make_copy_futures(c, ts, cs, f, BATCH);
	if (rc != BATCH) {
		fprintf(stderr, "chi-bench: chi_make_copy_futures: %d of %d (%s)\n", rc < 0 ? 0 : rc,
			BATCH, rc < 0 ? chi_strerror(rc) : "partial");
		return rc < 0 ? rc : -EIO;
	}
	return 0;
}

static int run_throughput_batch(const chi_bench_opts *o, chi_bench_result *r)
{
	double seconds = o->quick ? 0.3 : 2.0;
	size_t max_rounds = (size_t)(seconds * 1e9 / 1000.0 / WINDOW) + 16; /* >= 1 us/task */
	uint64_t *s = malloc(max_rounds * sizeof(*s));
	chi_test_noop_task *t = malloc(WINDOW * sizeof(*t));
	chi_future *f = malloc(WINDOW * sizeof(*f));
	chi_task *ts[BATCH];
	const chi_codec *cs[BATCH];
	if (!s || !t || !f) {
		free(s);
		free(t);
		free(f);
		return -ENOMEM;
	}
	chi_runtime *rt;
	int rc = start_runtime(&rt);
	if (rc) {
		free(s);
		free(t);
		free(f);
		return rc;
	}
	chi_client *c = chi_runtime_client(rt);
	for (size_t b = 0; b < WINDOW / BATCH && !rc; b++)
		rc = submit_batch(c, &t[b * BATCH], ts, cs, &f[b * BATCH]);

	/* one round: wait the oldest batch, resubmit it */
	size_t k = 0; /* the oldest batch */
	uint64_t warm_end = chi_bench_now_ns() + (uint64_t)(seconds * 1e8);
	while (!rc && chi_bench_now_ns() < warm_end) {
		for (size_t b = 0; b < WINDOW / BATCH && !rc; b++, k = (k + 1) % (WINDOW / BATCH)) {
			for (size_t j = 0; j < BATCH && !rc; j++)
				rc = wait_noop(&f[k * BATCH + j]);
			if (!rc)
				rc = submit_batch(c, &t[k * BATCH], ts, cs, &f[k * BATCH]);
		}
	}

	uint64_t tasks = 0, nr = 0;
	uint64_t start = chi_bench_now_ns(), end = start + (uint64_t)(seconds * 1e9);
	uint64_t prev = start, now = start;
	while (!rc && now < end && nr < max_rounds) {
		for (size_t b = 0; b < WINDOW / BATCH && !rc; b++, k = (k + 1) % (WINDOW / BATCH)) {
			for (size_t j = 0; j < BATCH && !rc; j++)
				rc = wait_noop(&f[k * BATCH + j]);
			if (!rc)
				rc = submit_batch(c, &t[k * BATCH], ts, cs, &f[k * BATCH]);
		}
		if (rc)
			break;
		now = chi_bench_now_ns(); /* once per WINDOW tasks */
		s[nr++] = (now - prev + WINDOW / 2) / WINDOW;
		tasks += WINDOW;
		prev = now;
	}
	uint64_t elapsed = now - start;

	return throughput_end(rt, f, 0, rc, s, nr, tasks, elapsed, r, t);
}

/* ---- the table ---- */

static const chi_bench_entry e_pingpong_threads = {
	"cpu_pingpong_threads", CHI_BENCH_ANCHOR, NULL, run_pingpong_threads,
	"two threads spinning on a shared 64-bit word (round trip)"};
static const chi_bench_entry e_roundtrip_inproc = {
	"cpu_roundtrip_inproc", CHI_BENCH_LATENCY, "cpu_pingpong_threads", run_roundtrip_inproc,
	"embedded runtime, 1 worker, 1 lane, one test.noop in flight (round trip)"};
static const chi_bench_entry e_throughput_inproc = {
	"cpu_throughput_inproc", CHI_BENCH_THROUGHPUT, "cpu_pingpong_threads",
	run_throughput_inproc, "embedded runtime, 1 worker, 1 lane, 256 test.noop in flight"};
static const chi_bench_entry e_throughput_batch = {
	"cpu_throughput_batch", CHI_BENCH_THROUGHPUT, "cpu_throughput_inproc",
	run_throughput_batch,
	"embedded runtime, 1 worker, 1 lane, 256 test.noop in flight, batches of 32"};

static const chi_bench_entry *const cpu_entries[] = {
	&e_pingpong_threads,
	&e_roundtrip_inproc,
	&e_throughput_inproc,
	&e_throughput_batch,
};

/* bench_xproc.c provides the strong definition. */
__attribute__((weak)) size_t chi_bench_xproc_entries(const chi_bench_entry **out)
{
	*out = NULL;
	return 0;
}

static size_t all_entries(const chi_bench_entry **all, size_t cap)
{
	size_t n = 0;
	const chi_bench_entry *x = NULL;
	size_t nx = chi_bench_xproc_entries(&x);
	for (size_t i = 0; i < nx && n < cap; i++)
		all[n++] = &x[i];
	for (size_t i = 0; i < sizeof(cpu_entries) / sizeof(cpu_entries[0]) && n < cap; i++)
		all[n++] = cpu_entries[i];
	return n;
}

static void cpu_usage(FILE *out, const chi_bench_entry *const *e, size_t n)
{
	fprintf(out,
		"usage: chi-bench cpu [--json] [--quick] [--entries a,b] [--verbose]\n"
		"  --json         print only JSON on stdout\n"
		"  --quick        fewer iterations (smoke runs, a few seconds)\n"
		"  --entries a,b  run only these entries (and their anchors)\n"
		"entries:\n");
	for (size_t i = 0; i < n; i++)
		fprintf(out, "  %-30s %s%s%s\n", e[i]->name, e[i]->what ? e[i]->what : "",
			e[i]->anchor ? "; anchor " : "", e[i]->anchor ? e[i]->anchor : "");
}

int chi_bench_cpu(int argc, char **argv)
{
	chi_bench_opts o = {0, 0, 0};
	const char *filter = NULL;
	const chi_bench_entry *e[CHI_BENCH_MAX_ENTRIES];
	size_t n = all_entries(e, CHI_BENCH_MAX_ENTRIES);

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (chi_bench_common_arg(argc, argv, &i, &o, &filter)) {
			continue;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			cpu_usage(stdout, e, n);
			return 0;
		} else {
			fprintf(stderr, "chi-bench cpu: unknown argument '%s'\n", a);
			cpu_usage(stderr, e, n);
			return 2;
		}
	}
	char device[512];
	chi_bench_cpu_device(device, sizeof(device));
	return chi_bench_run(e, n, filter, &o, device);
}
