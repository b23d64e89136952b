/* bench/bench_xproc.c: the cross-process entries of `chi-bench cpu`.
 *
 *   cpu_pingpong_xproc            anchor: this process and one helper
 *                                 process spin on one 64-bit word in a small
 *                                 shared mapping of their own; one sample =
 *                                 one round trip, timed here.
 *   cpu_roundtrip_xproc           embedded runtime here (1 worker, 1 lane,
 *                                 workers and waiters spin); ONE client
 *                                 process connects by name and runs test.noop
 *                                 with one in flight (chi_make_copy_future +
 *                                 chi_future_wait); one sample = one task,
 *                                 timed in the client.
 *   cpu_roundtrip_xproc_sleeping  same, but runtime.first_busy_wait_us = 50
 *                                 and the client sleeps 2 ms between tasks,
 *                                 so the worker sleeps on its futex when each
 *                                 task arrives. The client waits with
 *                                 chi_future_wait: it spins for the same
 *                                 50 us before it would sleep.
 *   cpu_throughput_xproc          same runtime as cpu_roundtrip_xproc; 2
 *                                 client processes each keep 128
 *                                 test.double_plus in flight (every result
 *                                 checked against value * 2 + id); ops_per_s
 *                                 = completions of both / measured time;
 *                                 median_ns and p99_ns are one client's time
 *                                 per task, amortized over each batch of 128
 *                                 completions. Anchor ops_per_s = 1e9 /
 *                                 ping-pong median.
 *
 * Helper processes are this executable, started with posix_spawn (never
 * fork): `chi-bench __child <role> ...`. Each gets a shared-memory segment
 * (shm_open + mmap, 0600, /chibench.<uid>.bx<pid>_<n>[.c<i>], removed as
 * soon as the child has mapped it) that carries the ping-pong word, the
 * start/stop handshake and the child's samples back. A child exits 0 only if
 * every result was right; otherwise it says why on stderr and the entry
 * fails. Children never write stdout (--json stays clean). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "chi/chi.h"
#include "chi/modules/test.h"
#include "chi/proto/atomic.h"

extern char **environ;

#include "xproc_util.h"

int chi_bench_cluster_child(int argc, char **argv); /* bench_cluster_session.c */

/* ---- cpu_pingpong_xproc ---- */

typedef struct iters {
	uint64_t warmup, samples;
} iters;

static iters latency_iters(const chi_bench_opts *o)
{
	iters it = {20000, 200000};
	if (o->quick) {
		it.warmup = 2000;
		it.samples = 20000;
	}
	return it;
}

/* Spin until *w == want; every SPINS_PER_CLOCK spins check the deadline
 * (and `alive`, if given). -ETIMEDOUT or alive's error. */
static int spin_until(uint64_t *w, uint64_t want, uint64_t deadline, const char *entry,
		      pid_t *pid)
{
	unsigned spins = 0;
	while (__atomic_load_n(w, __ATOMIC_ACQUIRE) != want) {
		chi_cpu_relax();
		if (++spins % SPINS_PER_CLOCK)
			continue;
		if (pid) {
			int rc = xp_child_alive(entry, pid);
			if (rc)
				return rc;
		} else if (getppid() == 1) {
			return -EPIPE; /* parent gone */
		}
		if (chi_bench_now_ns() > deadline)
			return -ETIMEDOUT;
	}
	return 0;
}

static int run_pingpong_xproc(const chi_bench_opts *o, chi_bench_result *r)
{
	const char *entry = "cpu_pingpong_xproc";
	iters it = latency_iters(o);
	uint64_t total = it.warmup + it.samples;
	uint64_t *s = malloc(it.samples * sizeof(*s));
	if (!s)
		return -ENOMEM;
	char base[64], nbuf[32];
	xp_unique_base(base, sizeof(base));
	xp_seg seg;
	int rc = xp_create(&seg, base, -1, 0);
	if (rc) {
		free(s);
		return rc;
	}
	xp_u64s(nbuf, sizeof(nbuf), total);
	char *argv[] = {(char *)chi_bench_self(), (char *)CHI_BENCH_CHILD_ARG, (char *)"pingpong",
			seg.name, nbuf, NULL};
	pid_t pid = 0;
	rc = xp_spawn_child(entry, argv, &pid);
	if (!rc)
		rc = xp_wait_attached(entry, seg.p, 1, &pid);
	xp_unlink(&seg); /* mapped on both sides (or failed): the name can go */
	xp_shm *x = seg.p;
	uint64_t deadline = chi_bench_now_ns() + CHILD_TIMEOUT_NS;
	for (uint64_t i = 0; i < total && !rc; i++) {
		uint64_t t0 = chi_bench_now_ns();
		__atomic_store_n(&x->word, 2 * i + 1, __ATOMIC_RELEASE);
		rc = spin_until(&x->word, 2 * i + 2, deadline, entry, &pid);
		uint64_t t1 = chi_bench_now_ns();
		if (i >= it.warmup)
			s[i - it.warmup] = t1 - t0;
	}
	if (rc == -ETIMEDOUT)
		fprintf(stderr, "chi-bench: %s: no answer from the pong process\n", entry);
	if (rc)
		xp_kill_child(&pid);
	else
		rc = xp_reap_child(entry, &pid, 10ull * 1000000000ull);
	if (!rc) {
		chi_bench_result_from_samples(r, s, it.samples);
		r->ops_per_s = 1e9 / r->median_ns;
	}
	xp_close(&seg);
	free(s);
	return rc;
}

static int child_pingpong(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "chi-bench child pingpong: usage: pingpong <shm> <total>\n");
		return 2;
	}
	size_t size;
	xp_shm *x = xp_attach(argv[2], &size);
	if (!x)
		return 3;
	uint64_t total = strtoull(argv[3], NULL, 10);
	__atomic_store_n(&x->attached, 1, __ATOMIC_RELEASE);
	uint64_t deadline = chi_bench_now_ns() + CHILD_TIMEOUT_NS;
	for (uint64_t i = 0; i < total; i++) {
		int rc = spin_until(&x->word, 2 * i + 1, deadline, NULL, NULL);
		if (rc) {
			fprintf(stderr, "chi-bench child pingpong: no ping %llu: %s\n",
				(unsigned long long)i, strerror(-rc));
			return 4;
		}
		__atomic_store_n(&x->word, 2 * i + 2, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&x->done, 1, __ATOMIC_RELEASE);
	munmap(x, size);
	return 0;
}

/* ---- embedded runtime ---- */

static int start_runtime(const char *entry, const char *name, uint64_t busy_us,
			 chi_runtime **rt)
{
	chi_config cfg;
	chi_config_defaults(&cfg);
	snprintf(cfg.name, sizeof(cfg.name), "%s", name);
	cfg.num_workers = 1;
	cfg.lanes = 1;
	cfg.queue_depth = RT_DEPTH;
	cfg.first_busy_wait_us = busy_us;
	cfg.gpu_enabled = CHI_OFF;
	cfg.npools = 2; /* admin and test */
	int rc = chi_runtime_start(&cfg, rt);
	if (rc)
		fprintf(stderr, "chi-bench: %s: chi_runtime_start(%s): %s\n", entry, cfg.name,
			chi_strerror(rc));
	return rc;
}

static int child_connect(const char *role, const char *name, chi_client **c)
{
	uint64_t end = chi_bench_now_ns() + 10ull * 1000000000ull;
	int rc;
	while ((rc = chi_client_connect(name, c)) == -EAGAIN && chi_bench_now_ns() < end)
		xp_sleep_ns(1000000ull);
	if (rc)
		fprintf(stderr, "chi-bench child %s: chi_client_connect(%s): %s\n", role, name,
			chi_strerror(rc));
	return rc;
}

/* ---- cpu_roundtrip_xproc and cpu_roundtrip_xproc_sleeping ---- */

typedef struct rt_params {
	const char *entry;
	uint64_t busy_us;  /* runtime.first_busy_wait_us */
	uint64_t warmup, samples;
	uint64_t gap_us;   /* client sleep between tasks; 0 = none */
} rt_params;

static int run_roundtrip(const rt_params *p, chi_bench_result *r)
{
	char base[64], wbuf[32], sbuf[32], gbuf[32];
	xp_unique_base(base, sizeof(base));
	xp_seg seg;
	int rc = xp_create(&seg, base, -1, p->samples);
	if (rc)
		return rc;
	chi_runtime *rt = NULL;
	rc = start_runtime(p->entry, base, p->busy_us, &rt);
	if (rc) {
		xp_close(&seg);
		return rc;
	}
	xp_u64s(wbuf, sizeof(wbuf), p->warmup);
	xp_u64s(sbuf, sizeof(sbuf), p->samples);
	xp_u64s(gbuf, sizeof(gbuf), p->gap_us);
	char *argv[] = {(char *)chi_bench_self(), (char *)CHI_BENCH_CHILD_ARG, (char *)"roundtrip",
			base, seg.name, wbuf, sbuf, gbuf, NULL};
	pid_t pid = 0;
	rc = xp_spawn_child(p->entry, argv, &pid);
	if (!rc)
		rc = xp_wait_attached(p->entry, seg.p, 1, &pid);
	xp_unlink(&seg);
	if (!rc)
		rc = xp_reap_child(p->entry, &pid, CHILD_TIMEOUT_NS);
	else
		xp_kill_child(&pid);
	chi_runtime_stop(rt);
	if (!rc) {
		xp_shm *x = seg.p;
		uint64_t n = __atomic_load_n(&x->nsamples, __ATOMIC_ACQUIRE);
		if (!__atomic_load_n(&x->done, __ATOMIC_ACQUIRE) || n != p->samples) {
			fprintf(stderr, "chi-bench: %s: client reported %llu of %llu samples\n",
				p->entry, (unsigned long long)n, (unsigned long long)p->samples);
			rc = -EPROTO;
		} else {
			chi_bench_result_from_samples(r, x->samples, n);
			r->ops_per_s = 1e9 / r->median_ns;
			r->lanes = 1;
			r->depth = RT_DEPTH;
		}
	}
	xp_close(&seg);
	return rc;
}

static int run_roundtrip_xproc(const chi_bench_opts *o, chi_bench_result *r)
{
	iters it = latency_iters(o);
	rt_params p = {"cpu_roundtrip_xproc", 60ull * 1000 * 1000, it.warmup, it.samples, 0};
	return run_roundtrip(&p, r);
}

static int run_roundtrip_xproc_sleeping(const chi_bench_opts *o, chi_bench_result *r)
{
	rt_params p = {"cpu_roundtrip_xproc_sleeping", 50, o->quick ? 5 : 20,
		       o->quick ? 50 : 300, 2000};
	return run_roundtrip(&p, r);
}

/* One noop round trip, one in flight. */
static int noop_roundtrip(chi_client *c)
{
	chi_test_noop_task t;
	chi_future f;
	chi_test_noop_init(&t, CHI_POOL_TEST);
	int rc = chi_make_copy_future(c, &t.hdr, &chi_test_noop_codec, &f);
	if (rc < 0) {
		fprintf(stderr, "chi-bench child roundtrip: chi_make_copy_future: %s\n",
			chi_strerror(rc));
		return rc;
	}
	int64_t w = chi_future_wait(&f);
	if (w != 0) {
		fprintf(stderr, "chi-bench child roundtrip: test.noop returned %lld (%s)\n",
			(long long)w, w < 0 ? chi_strerror((int)w) : "expected 0");
		return w < 0 ? (int)w : -EPROTO;
	}
	return 0;
}

static int child_roundtrip(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "chi-bench child roundtrip: usage: roundtrip <runtime> <shm> "
				"<warmup> <samples> <gap_us>\n");
		return 2;
	}
	size_t size;
	xp_shm *x = xp_attach(argv[3], &size);
	if (!x)
		return 3;
	__atomic_store_n(&x->attached, 1, __ATOMIC_RELEASE);
	uint64_t warmup = strtoull(argv[4], NULL, 10);
	uint64_t samples = strtoull(argv[5], NULL, 10);
	uint64_t gap_ns = strtoull(argv[6], NULL, 10) * 1000ull;
	if (samples > x->cap) {
		fprintf(stderr, "chi-bench child roundtrip: %llu samples, room for %llu\n",
			(unsigned long long)samples, (unsigned long long)x->cap);
		return 2;
	}
	chi_client *c;
	if (child_connect("roundtrip", argv[2], &c))
		return 3;
	int rc = 0;
	for (uint64_t i = 0; i < warmup && !rc; i++) {
		if (gap_ns)
			xp_sleep_ns(gap_ns);
		rc = noop_roundtrip(c);
	}
	for (uint64_t i = 0; i < samples && !rc; i++) {
		if (gap_ns)
			xp_sleep_ns(gap_ns);
		uint64_t t0 = chi_bench_now_ns();
		rc = noop_roundtrip(c);
		x->samples[i] = chi_bench_now_ns() - t0;
	}
	chi_client_close(c);
	if (rc)
		return 4;
	__atomic_store_n(&x->nsamples, samples, __ATOMIC_RELEASE);
	__atomic_store_n(&x->done, 1, __ATOMIC_RELEASE);
	munmap(x, size);
	return 0;
}

/* ---- cpu_throughput_xproc ---- */

static int run_throughput_xproc(const chi_bench_opts *o, chi_bench_result *r)
{
	const char *entry = "cpu_throughput_xproc";
	double seconds = o->quick ? 0.3 : 1.5;
	double warm = seconds / 10;
	uint64_t cap = (uint64_t)(seconds * 1e9 / 20.0 / TP_WINDOW) + 64; /* >= 20 ns/task */
	char base[64];
	xp_unique_base(base, sizeof(base));
	xp_seg seg[TP_CLIENTS];
	pid_t pid[TP_CLIENTS] = {0};
	memset(seg, 0, sizeof(seg));
	int rc = 0;
	for (int i = 0; i < TP_CLIENTS && !rc; i++)
		rc = xp_create(&seg[i], base, i, cap);
	chi_runtime *rt = NULL;
	if (!rc)
		rc = start_runtime(entry, base, 60ull * 1000 * 1000, &rt);
	for (int i = 0; i < TP_CLIENTS && !rc; i++) {
		char idbuf[16], wbuf[16];
		snprintf(idbuf, sizeof(idbuf), "%d", i + 1);
		snprintf(wbuf, sizeof(wbuf), "%d", TP_WINDOW);
		char *argv[] = {(char *)chi_bench_self(), (char *)CHI_BENCH_CHILD_ARG,
				(char *)"throughput", base, seg[i].name, idbuf, wbuf, NULL};
		rc = xp_spawn_child(entry, argv, &pid[i]);
	}
	/* every client connected and its window submitted */
	for (int i = 0; i < TP_CLIENTS && !rc; i++)
		rc = xp_wait_attached(entry, seg[i].p, 2, &pid[i]);
	for (int i = 0; i < TP_CLIENTS; i++)
		xp_unlink(&seg[i]);

	uint64_t c0 = 0, c1 = 0, t0 = 0, t1 = 0;
	if (!rc) {
		xp_sleep_ns((uint64_t)(warm * 1e9));
		t0 = chi_bench_now_ns();
		for (int i = 0; i < TP_CLIENTS; i++) {
			c0 += __atomic_load_n(&seg[i].p->count, __ATOMIC_ACQUIRE);
			__atomic_store_n(&seg[i].p->phase, 1, __ATOMIC_RELEASE);
		}
		xp_sleep_ns((uint64_t)(seconds * 1e9));
		t1 = chi_bench_now_ns();
		for (int i = 0; i < TP_CLIENTS; i++) {
			c1 += __atomic_load_n(&seg[i].p->count, __ATOMIC_ACQUIRE);
			__atomic_store_n(&seg[i].p->phase, 2, __ATOMIC_RELEASE);
		}
	}
	for (int i = 0; i < TP_CLIENTS; i++) {
		if (seg[i].p)
			__atomic_store_n(&seg[i].p->phase, 2, __ATOMIC_RELEASE);
		if (rc)
			xp_kill_child(&pid[i]);
		else
			rc = xp_reap_child(entry, &pid[i], 30ull * 1000000000ull);
	}
	if (rt)
		chi_runtime_stop(rt);

	uint64_t *s = NULL;
	size_t ns = 0;
	if (!rc) {
		s = malloc(TP_CLIENTS * cap * sizeof(*s));
		if (!s)
			rc = -ENOMEM;
	}
	for (int i = 0; i < TP_CLIENTS && !rc; i++) {
		xp_shm *x = seg[i].p;
		uint64_t n = __atomic_load_n(&x->nsamples, __ATOMIC_ACQUIRE);
		if (!__atomic_load_n(&x->done, __ATOMIC_ACQUIRE) || n > cap) {
			fprintf(stderr, "chi-bench: %s: client %d did not report its results\n",
				entry, i + 1);
			rc = -EPROTO;
			break;
		}
		memcpy(s + ns, x->samples, n * sizeof(*s));
		ns += n;
	}
	if (!rc && (c1 <= c0 || ns == 0)) {
		fprintf(stderr, "chi-bench: %s: no task completed while measuring\n", entry);
		rc = -EPROTO;
	}
	if (!rc) {
		chi_bench_result_from_samples(r, s, ns);
		r->ops_per_s = (double)(c1 - c0) * 1e9 / (double)(t1 - t0);
		r->lanes = 1;
		r->depth = RT_DEPTH;
	}
	free(s);
	for (int i = 0; i < TP_CLIENTS; i++)
		xp_close(&seg[i]);
	return rc;
}

static int tp_submit(chi_client *c, chi_test_double_plus_task *t, chi_future *f, uint64_t value,
		     uint32_t id)
{
	chi_test_double_plus_init(t, CHI_POOL_TEST, value, id);
	int rc = chi_make_copy_future(c, &t->hdr, &chi_test_double_plus_codec, f);
	if (rc < 0)
		fprintf(stderr, "chi-bench child throughput %u: chi_make_copy_future: %s\n", id,
			chi_strerror(rc));
	return rc < 0 ? rc : 0;
}

static int tp_wait(chi_future *f, const chi_test_double_plus_task *t, uint32_t id)
{
	uint64_t want = t->value * 2 + id;
	int64_t w = chi_future_wait(f);
	if (w < 0) {
		fprintf(stderr, "chi-bench child throughput %u: chi_future_wait: %s\n", id,
			chi_strerror((int)w));
		return (int)w;
	}
	if ((uint64_t)w != want || t->result != want) {
		fprintf(stderr, "chi-bench child throughput %u: double_plus(%llu, %u) returned "
				"%lld, result %llu, want %llu\n", id, (unsigned long long)t->value,
			id, (long long)w, (unsigned long long)t->result,
			(unsigned long long)want);
		return -EPROTO;
	}
	return 0;
}

static int child_throughput(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "chi-bench child throughput: usage: throughput <runtime> <shm> "
				"<id> <window>\n");
		return 2;
	}
	size_t size;
	xp_shm *x = xp_attach(argv[3], &size);
	if (!x)
		return 3;
	__atomic_store_n(&x->attached, 1, __ATOMIC_RELEASE);
	uint32_t id = (uint32_t)strtoul(argv[4], NULL, 10);
	size_t window = strtoul(argv[5], NULL, 10);
	if (id == 0 || window == 0 || window > 65536) {
		fprintf(stderr, "chi-bench child throughput: bad id or window\n");
		return 2;
	}
	chi_test_double_plus_task *t = calloc(window, sizeof(*t));
	chi_future *f = calloc(window, sizeof(*f));
	if (!t || !f) {
		fprintf(stderr, "chi-bench child throughput %u: out of memory\n", id);
		return 3;
	}
	chi_client *c;
	if (child_connect("throughput", argv[2], &c))
		return 3;
	uint64_t seq = (uint64_t)id << 40; /* values differ between clients */
	int rc = 0;
	for (size_t j = 0; j < window && !rc; j++)
		rc = tp_submit(c, &t[j], &f[j], seq++, id);
	if (!rc)
		__atomic_store_n(&x->attached, 2, __ATOMIC_RELEASE);

	uint64_t done = 0, ns = 0, prev = 0;
	size_t k = 0;
	uint64_t end = chi_bench_now_ns() + CHILD_TIMEOUT_NS;
	while (!rc) {
		uint64_t phase = __atomic_load_n(&x->phase, __ATOMIC_ACQUIRE);
		if (phase >= 2)
			break;
		for (size_t j = 0; j < window && !rc; j++, k = (k + 1) % window) {
			rc = tp_wait(&f[k], &t[k], id);
			if (!rc)
				rc = tp_submit(c, &t[k], &f[k], seq++, id);
			done++;
			__atomic_store_n(&x->count, done, __ATOMIC_RELEASE);
		}
		uint64_t now = chi_bench_now_ns(); /* once per window, not per task */
		if (phase == 1 && prev && ns < x->cap)
			x->samples[ns++] = (now - prev + window / 2) / window;
		prev = phase == 1 ? now : 0;
		if (now > end) {
			fprintf(stderr, "chi-bench child throughput %u: no stop after %.0f s\n", id,
				(double)CHILD_TIMEOUT_NS / 1e9);
			rc = -ETIMEDOUT;
		}
	}
	/* drain what is in flight: every result still checked */
	for (size_t j = 0; j < window && !rc; j++, k = (k + 1) % window)
		rc = tp_wait(&f[k], &t[k], id);
	chi_client_close(c);
	free(t);
	free(f);
	if (rc)
		return 4;
	__atomic_store_n(&x->nsamples, ns, __ATOMIC_RELEASE);
	__atomic_store_n(&x->done, 1, __ATOMIC_RELEASE);
	munmap(x, size);
	return 0;
}

/* ---- entry points ---- */

int chi_bench_child(int argc, char **argv)
{
	/* argv[0] == CHI_BENCH_CHILD_ARG, argv[1] == role */
	if (argc >= 2 && !strcmp(argv[1], "pingpong"))
		return child_pingpong(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "roundtrip"))
		return child_roundtrip(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "throughput"))
		return child_throughput(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "cluster"))
		return chi_bench_cluster_child(argc, argv);
	fprintf(stderr, "chi-bench: unknown helper role '%s' (pingpong, roundtrip, throughput, "
			"cluster)\n",
		argc >= 2 ? argv[1] : "");
	return 2;
}

static const chi_bench_entry xproc_entries[] = {
	{"cpu_pingpong_xproc", CHI_BENCH_ANCHOR, NULL, run_pingpong_xproc,
	 "two processes spinning on a shared 64-bit word (round trip)"},
	{"cpu_roundtrip_xproc", CHI_BENCH_LATENCY, "cpu_pingpong_xproc", run_roundtrip_xproc,
	 "embedded runtime (1 worker, 1 lane), 1 client process, one test.noop in flight"},
	{"cpu_roundtrip_xproc_sleeping", CHI_BENCH_LATENCY, "cpu_pingpong_xproc",
	 run_roundtrip_xproc_sleeping,
	 "as cpu_roundtrip_xproc, worker asleep (futex) when each task arrives"},
	{"cpu_throughput_xproc", CHI_BENCH_THROUGHPUT, "cpu_pingpong_xproc", run_throughput_xproc,
	 "1 worker, 1 lane, 2 client processes x 128 test.double_plus in flight"},
};

size_t chi_bench_xproc_entries(const chi_bench_entry **out)
{
	*out = xproc_entries;
	return sizeof(xproc_entries) / sizeof(xproc_entries[0]);
}
