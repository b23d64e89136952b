/* bench/bench_cluster_rt.c: the chi entries of `chi-bench cluster`, run by
 * node 0 (the bench process) once both embedded runtimes are up and node 1
 * is UP in admin.peers. Everything goes through node 0's own client
 * (chi_runtime_client) from one thread, as a user's code would: the runtime
 * forwards tasks for pools whose home is node 1 (docs/cluster.md).
 *
 *   remote_roundtrip       test.noop to t1 (home node 1), one in flight:
 *                          chi_make_copy_future + chi_future_wait; one
 *                          sample = one round trip. Beside it, chi's local
 *                          round trip: the same noop to the local test pool
 *                          (the shm target's "2x chi's local round trip").
 *   remote_throughput_256  BC_WINDOW noops to t1 in flight, the oldest
 *                          waited for and submitted again; ops_per_s over
 *                          it->tp_seconds after a tenth of it as warm-up.
 *   remote_bdev_write_512k chi_bdev_write of BC_BIG bytes into d1 (a RAM
 *                          bdev of node 1), one in flight, at offsets of a
 *                          run allocated once; ops_per_s; every block
 *                          stamped with its index.
 *   remote_bdev_read_512k  chi_bdev_read of those blocks back; each stamp
 *                          and fill byte checked.
 * Every wait is bounded (chi_future_wait_timeout, BC_TIMEOUT_NS); the
 * runtimes' own cluster.task_timeout_ms bounds the remote side too. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_cluster.h"
#include "chi/chi.h"
#include "chi/cluster.h"
#include "chi/modules/admin.h"
#include "chi/modules/bdev.h"
#include "chi/modules/test.h"
#include "xproc_util.h"

#define BC_BLOCKS 128u /* distinct 512 KiB blocks: a 64 MiB run of d1 */
#define BC_FILL 0x6bu

void bc_rt_config(chi_config *cfg, uint32_t node, const char *name, const char *dir,
		  const uint32_t port[2], int64_t busy_us)
{
	chi_config_defaults(cfg);
	snprintf(cfg->name, sizeof(cfg->name), "%s", name);
	cfg->num_workers = BC_WORKERS;
	cfg->gpu_enabled = CHI_OFF;
	if (busy_us >= 0)
		cfg->first_busy_wait_us = (uint64_t)busy_us;
	chi_cluster_conf *cl = &cfg->cluster;
	cl->node = (int32_t)node;
	snprintf(cl->key_file, sizeof(cl->key_file), "%s/key", dir);
	cl->retry_ms = 100; /* node 1 may start a little after node 0 */
	cl->task_timeout_ms = 20000;
	cl->npeers = 2;
	for (uint32_t k = 0; k < 2; k++) {
		cl->peers[k].node = k;
		snprintf(cl->peers[k].host, sizeof(cl->peers[k].host), "127.0.0.1");
		cl->peers[k].port = port[k];
	}
	chi_pool_conf *p = &cfg->pools[cfg->npools++];
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "t1");
	snprintf(p->module, sizeof(p->module), "test");
	p->id = BC_POOL_T1;
	p->node = 1;
	p = &cfg->pools[cfg->npools++];
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "d1");
	snprintf(p->module, sizeof(p->module), "bdev");
	p->id = BC_POOL_D1;
	p->size = BC_D1_SIZE; /* path "": RAM */
	p->node = 1;
}

int bc_rt_wait_up(chi_client *c, uint64_t timeout_ns)
{
	chi_admin_peers_task *t = malloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	uint64_t end = chi_bench_now_ns() + timeout_ns;
	uint32_t state = CHI_PEER_DOWN;
	int64_t rc = 0;
	while (state != CHI_PEER_UP && chi_bench_now_ns() < end) {
		chi_admin_peers_init(t, CHI_NODE_ANY);
		rc = chi_call(c, &t->hdr, &chi_admin_peers_codec);
		for (uint32_t i = 0; rc >= 0 && i < t->count && i < CHI_ADMIN_PEERS_MAX; i++)
			if (t->peers[i].node == 1)
				state = t->peers[i].state;
		if (state != CHI_PEER_UP)
			xp_sleep_ns(5000000ull);
	}
	free(t);
	if (state == CHI_PEER_UP)
		return 0;
	static const char *const st[] = {"DOWN", "CONNECTING", "UP", "REFUSED", "SELF"};
	fprintf(stderr, "chi-bench cluster: node 1 not UP in admin.peers after %.0f s (state %s%s%s)\n",
		(double)timeout_ns / 1e9, state < 5 ? st[state] : "?", rc < 0 ? "; admin.peers: " : "",
		rc < 0 ? chi_strerror((int)rc) : "");
	return -EHOSTDOWN;
}

/* ---- no-ops ---- */

static int noop_submit(chi_client *c, chi_pool_id pool, chi_test_noop_task *t, chi_future *f)
{
	chi_test_noop_init(t, pool);
	int rc = chi_make_copy_future(c, &t->hdr, &chi_test_noop_codec, f);
	if (rc < 0)
		fprintf(stderr, "chi-bench cluster: chi_make_copy_future(pool %u): %s\n", pool,
			chi_strerror(rc));
	return rc < 0 ? rc : 0;
}

static int noop_wait(chi_future *f, chi_pool_id pool)
{
	int64_t w = chi_future_wait_timeout(f, BC_TIMEOUT_NS);
	if (w != 0)
		fprintf(stderr, "chi-bench cluster: test.noop on pool %u returned %lld (%s)\n", pool,
			(long long)w, w < 0 ? chi_strerror((int)w) : "expected 0");
	return w == 0 ? 0 : w < 0 ? (int)w : -EPROTO;
}

/* One noop to pool, one in flight. */
static int noop_call(chi_client *c, chi_pool_id pool)
{
	chi_test_noop_task t;
	chi_future f;
	int rc = noop_submit(c, pool, &t, &f);
	return rc ? rc : noop_wait(&f, pool);
}

typedef struct noop_arg {
	chi_client *c;
	chi_pool_id pool;
} noop_arg;

static int noop_call_of(void *p)
{
	noop_arg *a = p;
	return noop_call(a->c, a->pool);
}

static int roundtrips(chi_client *c, chi_pool_id pool, const bc_iters *it, chi_bench_result *r)
{
	uint64_t *s = malloc(it->lat_samples * sizeof(*s));
	if (!s)
		return -ENOMEM;
	uint64_t n = 0;
	noop_arg a = {c, pool};
	int rc = bc_sample_calls(it, noop_call_of, &a, s, &n);
	if (!rc) {
		chi_bench_result_from_samples(r, s, n);
		r->ops_per_s = 1e9 / r->median_ns;
		r->lanes = BC_WORKERS;
		r->depth = 1;
	}
	free(s);
	return rc;
}

static int throughput(chi_client *c, const bc_iters *it, chi_bench_result *r)
{
	chi_test_noop_task *t = calloc(BC_WINDOW, sizeof(*t));
	chi_future *f = calloc(BC_WINDOW, sizeof(*f));
	if (!t || !f) {
		free(t);
		free(f);
		return -ENOMEM;
	}
	int rc = 0;
	uint32_t inflight = 0;
	for (; inflight < BC_WINDOW && !rc; inflight++)
		rc = noop_submit(c, BC_POOL_T1, &t[inflight], &f[inflight]);
	uint64_t warm = chi_bench_now_ns() + (uint64_t)(it->tp_seconds * 1e8);
	uint64_t t0 = 0, t1 = 0, done = 0, d0 = 0, d1 = 0;
	for (uint32_t k = 0; !rc; k = (k + 1) % BC_WINDOW) {
		rc = noop_wait(&f[k], BC_POOL_T1);
		inflight--;
		done++;
		if (!rc && done % 64 == 0) {
			uint64_t now = chi_bench_now_ns();
			if (!t0 && now >= warm) {
				t0 = now;
				d0 = done;
			} else if (t0 && now >= t0 + (uint64_t)(it->tp_seconds * 1e9)) {
				t1 = now;
				d1 = done;
				break;
			}
		}
		if (!rc) {
			rc = noop_submit(c, BC_POOL_T1, &t[k], &f[k]);
			inflight += !rc;
		}
	}
	/* drain: the futures after the last one waited for, in ring order */
	uint32_t k = (uint32_t)(done % BC_WINDOW);
	for (; inflight && !rc; k = (k + 1) % BC_WINDOW, inflight--)
		rc = noop_wait(&f[k], BC_POOL_T1);
	if (!rc && d1 <= d0)
		rc = -EPROTO;
	if (!rc) {
		r->ops_per_s = (double)(d1 - d0) * 1e9 / (double)(t1 - t0);
		r->median_ns = 1e9 / r->ops_per_s;
		r->lanes = BC_WORKERS;
		r->depth = BC_WINDOW;
	}
	free(t);
	free(f);
	return rc;
}

/* ---- bdev ---- */

static void stamp(uint8_t *buf, uint64_t blk)
{
	memcpy(buf, &blk, sizeof(blk));
}

/* One pass of 512 KiB writes (or reads) at it->big_* counts; written
 * blocks are [0, *nblk). */
static int bdev_pass(chi_client *c, uint64_t base, int write, const bc_iters *it, uint8_t *buf,
		     uint32_t *nblk, chi_bench_result *r)
{
	uint64_t *s = malloc(it->big_max * sizeof(*s));
	if (!s)
		return -ENOMEM;
	uint64_t n = 0, t_start = 0, t_end = 0;
	int rc = 0;
	for (uint64_t i = 0; i < it->big_warmup + it->big_max && !rc; i++) {
		uint64_t blk = write ? i % BC_BLOCKS : i % *nblk;
		uint64_t t0 = chi_bench_now_ns();
		if (i == it->big_warmup)
			t_start = t0;
		else if (i > it->big_warmup && t0 - t_start > (uint64_t)(it->big_seconds * 1e9))
			break;
		int64_t got;
		if (write) {
			stamp(buf, blk);
			got = chi_bdev_write(c, BC_POOL_D1, base + blk * BC_BIG, buf, BC_BIG);
		} else {
			memset(buf, 0, sizeof(uint64_t));
			buf[BC_BIG - 1] = 0;
			got = chi_bdev_read(c, BC_POOL_D1, base + blk * BC_BIG, buf, BC_BIG);
		}
		t_end = chi_bench_now_ns();
		if (got != BC_BIG) {
			fprintf(stderr, "chi-bench cluster: bdev %s of 512 KiB at block %llu: %lld (%s)\n",
				write ? "write" : "read", (unsigned long long)blk, (long long)got,
				got < 0 ? chi_strerror((int)got) : "short");
			rc = got < 0 ? (int)got : -EIO;
			break;
		}
		uint64_t st;
		memcpy(&st, buf, sizeof(st));
		if (!write && (st != blk || buf[BC_BIG - 1] != BC_FILL)) {
			fprintf(stderr, "chi-bench cluster: bdev read of block %llu: stamp %llu, last "
					"byte 0x%02x (want %llu, 0x%02x)\n", (unsigned long long)blk,
				(unsigned long long)st, buf[BC_BIG - 1], (unsigned long long)blk,
				BC_FILL);
			rc = -EIO;
		}
		if (write && blk + 1 > *nblk)
			*nblk = (uint32_t)(blk + 1);
		if (i >= it->big_warmup)
			s[n++] = t_end - t0;
	}
	if (!rc && n == 0)
		rc = -EPROTO;
	if (!rc) {
		chi_bench_result_from_samples(r, s, n);
		r->ops_per_s = (double)n * 1e9 / (double)(t_end - t_start);
		r->lanes = BC_WORKERS;
		r->depth = 1;
	}
	free(s);
	return rc;
}

static int bdev_entries(bc_session *s, chi_client *c, const bc_iters *it)
{
	chi_bdev_alloc_task a;
	chi_bdev_allocate_init(&a, BC_POOL_D1, (uint64_t)BC_BLOCKS * BC_BIG);
	int64_t w = chi_call(c, &a.hdr, &chi_bdev_allocate_codec);
	if (w < 0) {
		fprintf(stderr, "chi-bench cluster: bdev allocate of 64 MiB on d1: %s\n",
			chi_strerror((int)w));
		return (int)w;
	}
	uint8_t *buf = malloc(BC_BIG);
	if (!buf)
		return -ENOMEM;
	memset(buf, BC_FILL, BC_BIG);
	uint32_t nblk = 0;
	int rc = 0;
	/* the read entry needs written blocks: the write pass runs either way */
	if (s->want[BC_REMOTE_BDEV_WRITE] || s->want[BC_REMOTE_BDEV_READ]) {
		chi_bench_result_init(&s->res[BC_REMOTE_BDEV_WRITE], "remote_bdev_write_512k");
		rc = bdev_pass(c, a.offset, 1, it, buf, &nblk, &s->res[BC_REMOTE_BDEV_WRITE]);
		if (s->want[BC_REMOTE_BDEV_WRITE])
			s->rc[BC_REMOTE_BDEV_WRITE] = rc;
	}
	if (s->want[BC_REMOTE_BDEV_READ]) {
		chi_bench_result_init(&s->res[BC_REMOTE_BDEV_READ], "remote_bdev_read_512k");
		s->rc[BC_REMOTE_BDEV_READ] =
			rc ? rc : bdev_pass(c, a.offset, 0, it, buf, &nblk, &s->res[BC_REMOTE_BDEV_READ]);
	}
	free(buf);
	return 0;
}

void bc_rt_entries(bc_session *s, chi_client *c)
{
	bc_iters it = bc_iters_of(s->o);
	if (s->want[BC_REMOTE_ROUNDTRIP]) {
		chi_bench_result local, *r = &s->res[BC_REMOTE_ROUNDTRIP];
		chi_bench_result_init(&local, "local");
		chi_bench_result_init(r, "remote_roundtrip");
		int rc = roundtrips(c, CHI_POOL_TEST, &it, &local);
		if (!rc) {
			s->local_rt_ns = local.median_ns;
			s->local_rt_p99_ns = local.p99_ns;
		}
		s->rc[BC_REMOTE_ROUNDTRIP] = roundtrips(c, BC_POOL_T1, &it, r);
	}
	if (s->want[BC_REMOTE_THROUGHPUT]) {
		chi_bench_result_init(&s->res[BC_REMOTE_THROUGHPUT], "remote_throughput_256");
		s->rc[BC_REMOTE_THROUGHPUT] = throughput(c, &it, &s->res[BC_REMOTE_THROUGHPUT]);
	}
	if (s->want[BC_REMOTE_BDEV_WRITE] || s->want[BC_REMOTE_BDEV_READ]) {
		int rc = bdev_entries(s, c, &it);
		if (rc) {
			if (s->want[BC_REMOTE_BDEV_WRITE])
				s->rc[BC_REMOTE_BDEV_WRITE] = rc;
			if (s->want[BC_REMOTE_BDEV_READ])
				s->rc[BC_REMOTE_BDEV_READ] = rc;
		}
	}
}
