/* src/runtime/run_task.c: running the tasks of one lane entry (one future
 * block, or the 32 consecutive blocks of a GPU warp batch) and completing
 * their futures. This is the per-task cost that limits GPU submission
 * throughput (a GPU lane under load holds thousands of published tasks, so
 * the worker is the bottleneck: chi-bench gpu with CHI_BENCH_DIAG=1 shows the
 * backlog, chi-bench drain the cost per task). Hence:
 *   - the (pool, method) lookup is cached for the entry: a warp's tasks
 *     usually share it. Safe because the whole entry runs inside one
 *     task_seq bracket (pool.c, PD2): a pool looked up live here cannot be
 *     destroyed before the bracket closes;
 *   - counters are summed over the entry and stored once;
 *   - GPU-lane futures complete with one 16-byte store and no futex
 *     handshake (nobody sleeps on them: a GPU cannot wait on a futex).
 * Every field of a block is untrusted: a client may write anything there. */
#include <errno.h>

#include "runtime/runtime.h"
#include "runtime/stats.h"
#include "task/future_ops.h"
#include "task/wire.h"

/* The method of the tasks being run: looked up when (pool, method) changes.
 * pool CHI_MAX_POOLS: not known (a malformed block). */
typedef struct pm_cache {
	uint32_t pool, method; /* ids of the last lookup */
	chi_pool *p;           /* NULL: not looked up, or the lookup failed */
	const chi_method *m;
	int err;               /* the lookup's error when p is NULL after a lookup */
	uint32_t tp, tm;       /* ids of the task being run, for the counters;
				* tp CHI_MAX_POOLS until its header is read */
} pm_cache;

static void pm_lookup_slow(chi_runtime *rt, pm_cache *c, uint32_t pool, uint32_t method)
{
	c->pool = pool;
	c->method = method;
	c->p = NULL;
	c->m = NULL;
	chi_pool *p = pool < CHI_MAX_POOLS ? &rt->pools[pool] : NULL;
	if (!p || !__atomic_load_n(&p->live, __ATOMIC_ACQUIRE)) { /* PL2 */
		c->err = -ENOENT;
		return;
	}
	if (method >= p->mod->nmethods) {
		c->err = -ENOSYS;
		return;
	}
	c->p = p;
	c->m = &p->mod->methods[method];
	c->err = 0;
}

static inline void pm_lookup(chi_runtime *rt, pm_cache *c, uint32_t pool, uint32_t method)
{
	c->tp = pool;
	c->tm = method;
	if (!c->p || c->pool != pool || c->method != method)
		pm_lookup_slow(rt, c, pool, method);
}

static int64_t run_pointer(chi_worker *w, chi_task *t, pm_cache *c)
{
	pm_lookup(w->rt, c, t->pool, t->method);
	if (!c->p)
		return c->err;
	chi_ctx ctx = {w->rt, w, c->p, NULL, 0}; /* outputs land in the task itself */
	return c->m->run(&ctx, t);
}

static inline int64_t run_copy(chi_worker *w, chi_lane_ref *lr, chi_future_shm *f, pm_cache *c,
			       uint64_t *scratch)
{
	chi_runtime *rt = w->rt;
	uint32_t cap;
	if (f->data) {
		uint64_t off = chi_offptr_off(f->data);
		if (chi_offptr_seg(f->data) != lr->seg_id || off >= lr->size ||
		    f->data_cap > lr->size - off)
			return -EBADMSG;
	}
	uint8_t *wire = chi_future_wire(lr->base, f, &cap);
	uint32_t out_size = f->out_size;
	chi_task h;
	int rc = chi_wire_check(wire, cap, out_size, rt->cfg.max_task_size, &h);
	if (rc)
		return rc;
	pm_lookup(rt, c, h.pool, h.method);
	if (!c->p)
		return c->err;
	const chi_codec *codec = c->m->codec;
	rc = chi_wire_decode(codec, &h, wire, scratch);
	if (rc)
		return rc;
	chi_ctx ctx = {rt, w, c->p, wire + chi_task_out_off(h.in_size), out_size};
	int64_t r = c->m->run(&ctx, (chi_task *)scratch);
	if (r >= 0) {
		rc = chi_wire_encode_out(codec, &h, wire, out_size, (chi_task *)scratch);
		if (rc)
			r = rc;
	}
	return r;
}

static inline void ctr_add(uint64_t *ctr, uint64_t v)
{
	/* single writer (this worker): no read-modify-write needed */
	__atomic_store_n(ctr, __atomic_load_n(ctr, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

/* per (pool, method) counts of a run of equal ids, stored when it ends */
typedef struct pm_run {
	uint32_t pool, method, count, errors;
} pm_run;

static void pm_flush(chi_worker_shm *ws, pm_run *r)
{
	if (r->count && r->pool < CHI_MAX_POOLS) {
		uint32_t m = r->method < CHI_STATS_METHODS ? r->method : CHI_STATS_METHODS - 1;
		ctr_add(&ws->pm_count[r->pool][m], r->count);
		if (r->errors)
			ctr_add(&ws->pm_errors[r->pool][m], r->errors);
	}
	r->count = r->errors = 0;
}

#define PF_INNER 8u /* blocks ahead inside a warp-batch entry */

void chi_worker_run_entry(chi_worker *w, chi_lane_ref *lane, uint8_t *b, uint32_t n)
{
	chi_lane_shm *l = lane->shm;
	chi_worker_shm *ws = w->shm;
	uint64_t done = l->completed;
	uint32_t errors = 0;
	pm_cache c = {CHI_MAX_POOLS, 0, NULL, NULL, 0, CHI_MAX_POOLS, 0};
	pm_run run = {CHI_MAX_POOLS, 0, 0, 0};
	/* one frame for the entry: 8 KiB on the stack per task cost stack
	 * probes on every call */
	uint64_t scratch[CHI_TASK_SCRATCH / 8];
	chi_worker_seq_open(w);
	for (uint32_t k = 1; k < n && k < PF_INNER; k++) { /* a warp batch: its first blocks */
		__builtin_prefetch(b + k * CHI_FUTURE_BLOCK, 1);
		__builtin_prefetch(b + k * CHI_FUTURE_BLOCK + 64, 0);
	}
	for (uint32_t k = 0; k < n; k++) {
		if (k + PF_INNER < n) {
			__builtin_prefetch(b + (k + PF_INNER) * CHI_FUTURE_BLOCK, 1);
			__builtin_prefetch(b + (k + PF_INNER) * CHI_FUTURE_BLOCK + 64, 0);
		}
		chi_future_shm *f = (chi_future_shm *)(void *)(b + (uint64_t)k * CHI_FUTURE_BLOCK);
		uint64_t flags = __atomic_load_n(&f->flags, __ATOMIC_RELAXED); /* visible via C1 */
		/* sample 1 task in CHI_LAT_SAMPLE (by the lane's completion
		 * count): from the submitter's stamp when it set one, else
		 * from here */
		uint64_t t0 = 0;
		if (((done + k) & (CHI_LAT_SAMPLE - 1)) == 0) {
			t0 = __atomic_load_n(&f->t_submit, __ATOMIC_RELAXED);
			if (!t0)
				t0 = chi_now_ns();
		}
		c.tp = CHI_MAX_POOLS;
		c.tm = 0;
		int64_t r;
		if (flags & CHI_FUTURE_POINTER) /* only the runtime's own CPU lanes carry these */
			r = lane->gpu ? -EBADMSG
				      : run_pointer(w, (chi_task *)(uintptr_t)f->task_ptr, &c);
		else
			r = run_copy(w, lane, f, &c, scratch);
		if (c.tp != run.pool || c.tm != run.method) {
			pm_flush(ws, &run);
			run.pool = c.tp;
			run.method = c.tm;
		}
		run.count++;
		if (r < 0) {
			errors++;
			run.errors++;
		}
		if (lane->gpu)
			chi_future_complete_nowake(f, flags, r);
		else
			chi_future_complete(f, flags, r); /* F1 */
		if (t0) {
			uint64_t t1 = chi_now_ns();
			chi_lat_record(l->lat_hist, &l->lat_sum, t1 > t0 ? t1 - t0 : 0);
		}
	}
	chi_worker_seq_close(w);
	pm_flush(ws, &run);
	if (errors)
		ctr_add(&l->errors, errors);
	__atomic_store_n(&l->completed, done + n, __ATOMIC_RELAXED); /* single writer */
	ctr_add(&ws->tasks, n);
}

void chi_worker_process_new_task(chi_worker *w, chi_lane_ref *lane, chi_future_shm *f)
{
	chi_worker_run_entry(w, lane, (uint8_t *)f, 1);
}
