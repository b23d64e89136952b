/* src/runtime/run_task.c: running the tasks of one lane entry (one future
 * block, or the packed batch of a GPU warp, include/chi/proto/batch.h) and
 * completing their futures. This is the per-task cost that limits GPU submission
 * throughput (a GPU lane under load holds thousands of published tasks, so
 * the worker is the bottleneck: chi-bench gpu with CHI_BENCH_DIAG=1 shows the
 * backlog, chi-bench drain the cost per task). Hence:
 *   - the (pool, method) lookup is cached while ids repeat, for one call
 *     of chi_worker_process_new_tasks (chi_run_state). Safe because that
 *     call runs inside one task_seq bracket (pool.c, PD2): a pool looked up
 *     live here cannot be destroyed before the bracket closes;
 *   - counters are summed over an entry and stored once, before its last
 *     completion (a waiter that then reads them sees its task counted; in a
 *     warp batch the earlier tasks' counts land with the last one); on GPU
 *     lanes the worker's and per-method counters are stored at the end of
 *     the call (up to 64 entries later);
 *   - the header is read from the block once, and the helpers are inlined
 *     (valgrind --tool=callgrind on chi-bench drain --quick: 285 instructions
 *     per single-task entry and 169 per warp-batch task before; 233 and 161
 *     now, the single-task figure including the per-entry counter stores
 *     that keep counters exact when a waiter reads them);
 *   - GPU-lane futures complete with one 16-byte store and no futex
 *     handshake (nobody sleeps on them: a GPU cannot wait on a futex).
 * Every field of a block is untrusted: a client may write anything there.
 *
 * Pointer futures (chi_make_pointer_future, src/runtime/futures.c) carry the
 * address of a task in the runtime's own memory, so a worker runs one by
 * dereferencing task_ptr. Any process that maps the segment can write a
 * block with CHI_FUTURE_POINTER in its flags, so the flag alone proves
 * nothing; a tag does:
 *   PT0  at start the runtime draws a 128-bit key (getrandom, create_main in
 *        runtime.c) into chi_runtime.ptr_key: this process's private heap,
 *        never shared memory;
 *   PT1  the maker writes tag = SipHash-1-3(key, task_ptr, block offset in
 *        the main segment) into the block's first copy-space word (unused by
 *        pointer futures), with the other F0 stores, before it publishes (P4
 *        makes them visible to the worker);
 *   PT2  a worker takes a POINTER block as one only on a CPU lane of the main
 *        segment and only when that word equals the tag it recomputes from
 *        the block's task_ptr and the block's own offset; anything else
 *        completes with -EBADMSG, task_ptr never followed;
 *   PT3  the worker zeroes the tag word before it runs the task, so a block
 *        published again (a stale offset a buggy client kept) is refused.
 * Without the key a forged or corrupted block matches with probability
 * 2^-64, and a tag copied to another block does not match there (the offset
 * is hashed). Same-user processes are not assumed malicious
 * (docs/reliability.md): one that reads a live block and rewrites task_ptr
 * at the same offset before the worker pops it is not defended against. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "chi/proto/batch.h"
#include "runtime/runtime.h"
#include "runtime/stats.h"
#include "task/future_ops.h"
#include "task/wire.h"

static void pm_lookup_slow(chi_runtime *rt, chi_pm_cache *c, uint32_t pool, uint32_t method)
{
	c->pool = pool;
	c->method = method;
	c->p = NULL;
	c->m = NULL;
	c->node = -1;
	int32_t node = CHI_POOL_NODE(pool); /* a node named in the id (route.c) */
	pool = CHI_POOL_BASE(pool);
	chi_pool *p = pool < CHI_MAX_POOLS ? &rt->pools[pool] : NULL;
	if (node >= 0 && node != rt->node) {
		c->node = node; /* the remote checks pool and method; the codec of a
				 * pool of that id here serves pointer futures */
		if (p && __atomic_load_n(&p->live, __ATOMIC_ACQUIRE) && method < p->mod->nmethods)
			c->m = &p->mod->methods[method];
		c->err = 0;
		return;
	}
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
	c->node = p->home;
	c->err = 0;
}

static inline void pm_lookup(chi_runtime *rt, chi_pm_cache *c, uint32_t pool, uint32_t method)
{
	c->tp = CHI_POOL_BASE(pool);
	c->tm = method;
	if ((!c->p && c->node < 0) || c->pool != pool || c->method != method)
		pm_lookup_slow(rt, c, pool, method);
}

/* SipHash-1-3 (Aumasson and Bernstein) of the two words (a, b): 16 bytes of
 * input, key k. */
#define SIP_ROTL(x, r) (((x) << (r)) | ((x) >> (64 - (r))))
#define SIP_ROUND(v0, v1, v2, v3)                                                   \
	do {                                                                         \
		v0 += v1; v1 = SIP_ROTL(v1, 13); v1 ^= v0; v0 = SIP_ROTL(v0, 32);    \
		v2 += v3; v3 = SIP_ROTL(v3, 16); v3 ^= v2;                           \
		v0 += v3; v3 = SIP_ROTL(v3, 21); v3 ^= v0;                           \
		v2 += v1; v1 = SIP_ROTL(v1, 17); v1 ^= v2; v2 = SIP_ROTL(v2, 32);    \
	} while (0)

static uint64_t siphash13_2w(const uint64_t k[2], uint64_t a, uint64_t b)
{
	uint64_t v0 = k[0] ^ 0x736f6d6570736575ull, v1 = k[1] ^ 0x646f72616e646f6dull;
	uint64_t v2 = k[0] ^ 0x6c7967656e657261ull, v3 = k[1] ^ 0x7465646279746573ull;
	const uint64_t m[3] = {a, b, 16ull << 56}; /* the last block: the length */
	for (int i = 0; i < 3; i++) {
		v3 ^= m[i];
		SIP_ROUND(v0, v1, v2, v3);
		v0 ^= m[i];
	}
	v2 ^= 0xff;
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t chi_pointer_tag(const chi_runtime *rt, uint64_t task_ptr, uint64_t block_off)
{
	return siphash13_2w(rt->ptr_key, task_ptr, block_off); /* PT1 */
}

/* PT2-PT3: the task of a POINTER block, or NULL if the block is not one of
 * this runtime's pointer futures. */
static chi_task *pointer_task(chi_worker *w, const chi_lane_ref *lr, chi_future_shm *f)
{
	if (lr->gpu || lr->seg_id != CHI_SEG_ID_MAIN)
		return NULL;
	uint64_t *tagp = (uint64_t *)(void *)f->copy_space;
	uint64_t ptr = __atomic_load_n(&f->task_ptr, __ATOMIC_RELAXED);
	uint64_t tag = __atomic_load_n(tagp, __ATOMIC_RELAXED);
	if (!ptr || tag != chi_pointer_tag(w->rt, ptr, (uint64_t)((char *)f - lr->base)))
		return NULL;
	__atomic_store_n(tagp, 0, __ATOMIC_RELAXED); /* PT3: single use */
	return (chi_task *)(uintptr_t)ptr;
}

static int64_t run_pointer(chi_worker *w, chi_task *t, chi_pm_cache *c)
{
	pm_lookup(w->rt, c, t->pool, t->method);
	if (__builtin_expect(c->node >= 0, 0))
		return chi_route_pointer(w, c, t);
	if (!c->p)
		return c->err;
	chi_ctx ctx = {w->rt, w, c->p, NULL, 0}; /* outputs land in the task itself */
	uint32_t pool = c->tp;
	w->on_stack[pool]++;
	int64_t r = c->m->run(&ctx, t);
	w->on_stack[pool]--;
	return r;
}

/* Decode the task at `in` (cap bytes of room), run it, encode its outputs
 * into the output area of the wire at `out` (the same wire, or for a sealed
 * task the block's copy space while its inputs are in this thread's memory),
 * or at `area` when it is set (a sealed task's small outputs, seal.h U4). */
static inline __attribute__((always_inline)) int64_t
run_wire(chi_worker *w, chi_pm_cache *c, uint64_t *scratch, uint64_t max_task, const uint8_t *in,
	 uint32_t cap, uint32_t out_size, uint8_t *out, uint8_t *area)
{
	chi_runtime *rt = w->rt;
	chi_task h;
	int rc = chi_wire_check(in, cap, out_size, max_task, &h);
	if (rc)
		return rc;
	pm_lookup(rt, c, h.pool, h.method);
	c->served = h.flags & CHI_TASK_REMOTE; /* D1: its errors are pushed too */
	if (!area)
		area = out + chi_task_out_off(h.in_size);
	if (__builtin_expect(c->node >= 0, 0)) { /* its pool lives on another node */
		c->fwd_in = in;
		c->fwd_len = (uint32_t)sizeof(chi_task) + h.in_size;
		c->fwd_out = area;
		c->fwd_out_size = out_size;
		return CHI_RUN_FORWARD;
	}
	if (!c->p)
		return c->err;
	const chi_codec *codec = c->m->codec;
	rc = chi_wire_decode(codec, &h, in, scratch);
	if (rc)
		return rc;
	chi_ctx ctx = {rt, w, c->p, area, out_size};
	uint32_t pool = c->tp; /* a nested task may move the cache */
	w->on_stack[pool]++;
	int64_t r = c->m->run(&ctx, (chi_task *)scratch);
	w->on_stack[pool]--;
	c->served = h.flags & CHI_TASK_REMOTE; /* after the run: a nested task moves c */
	if (r >= 0) {
		rc = chi_wire_encode_out(codec, area, out_size, (chi_task *)scratch);
		if (rc)
			r = rc;
	}
	return r;
}

static inline __attribute__((always_inline)) int64_t
run_copy(chi_worker *w, chi_lane_ref *lr, chi_future_shm *f, chi_pm_cache *c, uint64_t *scratch,
	 uint64_t max_task)
{
	uint32_t cap;
	if (f->data) {
		uint64_t off = chi_offptr_off(f->data);
		if (chi_offptr_seg(f->data) != lr->seg_id || off < lr->lo || off >= lr->size ||
		    f->data_cap > lr->size - off)
			return -EBADMSG;
	}
	uint8_t *wire = chi_future_wire(lr->base, f, &cap);
	return run_wire(w, c, scratch, max_task, wire, cap, f->out_size, wire, NULL);
}

/* A sealed task: the header says its sizes (the block's words are not
 * written: the inbox carried everything); inputs past the inbox's room are
 * a lie (-EBADMSG), and the outputs must fit the copy space (the check's
 * cap); up to CHI_SEAL_OUT_LINE bytes of them go into the block's first
 * line, after the completion pair (seal.h U4). */
static inline __attribute__((always_inline)) int64_t
run_sealed(chi_worker *w, chi_future_shm *f, chi_pm_cache *c, uint64_t *scratch,
	   uint64_t max_task, const chi_sealed *sx)
{
	const chi_task *h = (const chi_task *)(const void *)sx->pay;
	if (h->in_size > CHI_SEAL_MAX_IN)
		return -EBADMSG;
	uint8_t *area = h->out_size <= CHI_SEAL_OUT_LINE ? (uint8_t *)f + CHI_SEAL_OUT_OFF : NULL;
	return run_wire(w, c, scratch, max_task, (const uint8_t *)sx->pay, CHI_COPY_SPACE,
			h->out_size, f->copy_space, area);
}

static void pm_flush(chi_worker_shm *ws, chi_pm_run *r)
{
	if (r->count && r->pool < CHI_MAX_POOLS) {
		uint32_t m = r->method < CHI_STATS_METHODS ? r->method : CHI_STATS_METHODS - 1;
		chi_ctr_add(&ws->pm_count[r->pool][m], r->count);
		if (r->errors)
			chi_ctr_add(&ws->pm_errors[r->pool][m], r->errors);
	}
	r->count = r->errors = 0;
}

void chi_run_state_init(chi_run_state *st)
{
	st->c.pool = CHI_MAX_POOLS;
	st->c.p = NULL;
	st->c.node = -1;
	st->run.pool = CHI_MAX_POOLS;
	st->run.method = 0;
	st->run.count = st->run.errors = 0;
	st->tasks = 0;
	st->last = NULL;
	st->last_len = 0;
}

void chi_run_state_flush(chi_worker *w, chi_run_state *st)
{
	pm_flush(w->shm, &st->run);
	if (st->tasks)
		chi_ctr_add(&w->shm->tasks, st->tasks);
	st->tasks = 0;
}

/* Count a task in the run of tasks with equal (pool, method) ids (c->tp,
 * c->tm: the ids run_wire read), flushing the run when they change. */
static inline __attribute__((always_inline)) void pm_count(chi_worker *w, chi_run_state *st,
							  uint32_t bad)
{
	chi_pm_cache *c = &st->c;
	chi_pm_run *run = &st->run;
	if (c->tp != run->pool || c->tm != run->method) {
		pm_flush(w->shm, run);
		run->pool = c->tp;
		run->method = c->tm;
	}
	run->count++;
	run->errors += bad;
}

/* The lane's count of completions so far. */
static inline uint64_t lane_done(const chi_lane_ref *lr)
{
	return lr->helped ? __atomic_load_n(&lr->shm->completed, __ATOMIC_RELAXED)
			  : lr->shm->completed; /* single writer: this worker */
}

/* The lane's counters, stored before an entry's last completion: n more
 * completions, `errors` more errors. Single writer, unless the lane is
 * helped (handoff.h): then atomic adds. The count is read again here, not
 * taken from before the method ran: a method that waits runs other tasks
 * of this lane meanwhile (nested, on this thread), and a count read before
 * them would store the lane's completions backwards. */
static inline void lane_counts(const chi_lane_ref *lr, uint32_t n, uint32_t errors)
{
	chi_lane_shm *l = lr->shm;
	if (lr->helped) {
		__atomic_fetch_add(&l->completed, n, __ATOMIC_RELAXED);
		if (errors)
			__atomic_fetch_add(&l->errors, errors, __ATOMIC_RELAXED);
		return;
	}
	if (errors)
		chi_ctr_add(&l->errors, errors);
	__atomic_store_n(&l->completed, l->completed + n, __ATOMIC_RELAXED);
}

/* Sample 1 task in CHI_LAT_SAMPLE (by the lane's completion count `seq`):
 * from the submitter's stamp when it set one (stamp, may be 0), else from
 * here. 0: not sampled. */
static inline uint64_t lat_start(uint64_t seq, const uint64_t *stamp)
{
	if (seq & (CHI_LAT_SAMPLE - 1))
		return 0;
	uint64_t t0 = stamp ? __atomic_load_n(stamp, __ATOMIC_RELAXED) : 0;
	return t0 ? t0 : chi_now_ns();
}

/* The end of a task's latency sample started at t0 (0: not sampled). */
static inline void lat_end(const chi_lane_ref *lr, uint64_t t0)
{
	if (!t0)
		return;
	chi_lane_shm *l = lr->shm;
	uint64_t t1 = chi_now_ns(), v = t1 > t0 ? t1 - t0 : 0;
	if (lr->helped) {
		__atomic_fetch_add(&l->lat_hist[chi_lat_bucket(v)], 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&l->lat_sum, v, __ATOMIC_RELAXED);
	} else {
		chi_lat_record(l->lat_hist, &l->lat_sum, v);
	}
}

/* FA1 (proto/future.h): take a CPU-lane block before running it; 0 if its
 * waiter abandoned it. *flags: the flags the completion keeps (STARTED
 * among them). A CAS that fails on another change (a client's stray write)
 * looks again. */
static inline int claim_block(chi_future_shm *f, uint64_t *flags)
{
	uint64_t fl = *flags;
	while (!(fl & CHI_FUTURE_ABANDONED)) {
		if (__atomic_compare_exchange_n(&f->flags, &fl, fl | CHI_FUTURE_STARTED, 0,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			*flags = fl | CHI_FUTURE_STARTED;
			return 1;
		}
	}
	*flags = fl;
	return 0;
}

/* Run a single-task entry's task (copy, pointer, or sealed when sx is set)
 * and complete it; the lane's counters (and on CPU lanes the run state's)
 * are stored before the completion, so whoever waits on it sees them
 * counted. */
static inline __attribute__((always_inline)) void
chi_worker_process_new_task(chi_worker *w, chi_lane_ref *lane, chi_future_shm *f,
			    chi_run_state *st, const int gpu, const chi_sealed *sx)
{
	chi_pm_cache *c = &st->c;
	uint64_t seq = lane_done(lane);
	/* a sealed task's flags are its tag (seal.h U4); others' were written
	 * by the submitter, visible via C1 */
	uint64_t flags = sx ? CHI_FUTURE_COPY_FROM_CLIENT | sx->tag << CHI_FUTURE_TAG_SHIFT
			    : __atomic_load_n(&f->flags, __ATOMIC_RELAXED);
	uint64_t t0 = lat_start(seq, sx ? NULL : &f->t_submit);
	uint64_t max_task = w->rt->cfg.max_task_size;
	c->tp = CHI_MAX_POOLS;
	c->tm = 0;
	c->served = 0;
	int64_t r;
	uint32_t fd = w->fut_depth;
	if (!gpu) { /* PD3 (pool.c): what this thread runs, for a destroy elsewhere */
		if (fd < CHI_FUT_STACK)
			w->fut_stack[fd] = f;
		w->fut_depth = fd + 1;
	}
	if (!gpu && !claim_block(f, &flags))
		r = -ECANCELED; /* FA1: its waiter gave up (the runtime was silent) */
	else if (sx)
		r = run_sealed(w, f, c, st->scratch, max_task, sx);
	else if (flags & CHI_FUTURE_POINTER) { /* the runtime's own only: PT2 */
		chi_task *pt = gpu ? NULL : pointer_task(w, lane, f);
		r = pt ? run_pointer(w, pt, c) : -EBADMSG;
	}
	else
		r = run_copy(w, lane, f, c, st->scratch, max_task);
	if (!gpu)
		w->fut_depth = fd;
	int handed = 0; /* its pool lives on another node: the net thread
			 * completes f (route.c); counted here as run */
	if (__builtin_expect(r == CHI_RUN_FORWARD, 0)) {
		r = chi_route_forward(w, c, f, flags, (uint32_t)gpu);
		handed = r == 0;
	}
	pm_count(w, st, r < 0);
	st->tasks++;
	lane_counts(lane, 1, r < 0);
	/* the worker's and per-method counters too on CPU lanes, whose waiters
	 * read them (admin.stats after a call); GPU lanes leave them to the end
	 * of the call: per warp batch they measured 9% of the one-lane
	 * throughput */
	if (!gpu)
		chi_run_state_flush(w, st);
	if (__builtin_expect(handed, 0))
		return;
	if (gpu) {
		chi_future_complete_nowake(f, flags, r);
		st->last = (uint8_t *)f; /* the pair's line, which the kernel polls */
		st->last_len = 64;
	} else {
		chi_future_complete(f, flags, r); /* F1 */
		if (__builtin_expect(c->served, 0))
			chi_route_served(w->rt, (uint64_t)((char *)f - lane->base));
	}
	lat_end(lane, t0);
}

/* A packed batch (proto/batch.h, B2): n tasks, each run from its wire with
 * the stride as its room, each completed through its pair, in order, then
 * the done pair. A header that lies completes every pair with -EBADMSG.
 * Batches are polled, so their pairs complete without a wake on any lane.
 * Written apart from the single-task path, with what is the same for the
 * whole batch in locals (the pair stores may alias any memory for the
 * compiler): valgrind --tool=callgrind on chi-bench drain --quick --entries
 * gpu_lane_drain_warp, per no-op task: 160 instructions when a warp batch
 * was 32 blocks run through the single-task path, 138 now. Keeping the
 * lookup and the run's ids in locals as well measured 140: the two
 * indirect calls per task (decode, run) spill them anyway. */
static void run_batch(chi_worker *w, chi_lane_ref *lane, uint8_t *b, uint32_t n,
		      chi_run_state *st)
{
	chi_pm_cache *c = &st->c;
	uint64_t *scratch = st->scratch;
	const uint64_t max_task = w->rt->cfg.max_task_size, done = lane_done(lane);
	const uint32_t stride =
		chi_batch_check(__atomic_load_n((uint64_t *)(void *)b, __ATOMIC_RELAXED), n);
	uint32_t errors = 0;
	uint8_t *wire = b + chi_batch_wire_off(n, stride, 0), *pair = b + chi_batch_pair_off(0);
	for (uint32_t k = 0; k < n; k++, wire += stride, pair += 16) {
		uint64_t t0 = lat_start(done + k, NULL);
		c->tp = CHI_MAX_POOLS;
		c->tm = 0;
		int64_t r = -EBADMSG;
		if (stride) {
			uint32_t out_size;
			memcpy(&out_size, wire + offsetof(chi_task, out_size), sizeof(out_size));
			r = run_wire(w, c, scratch, max_task, wire, stride, out_size, wire, NULL);
			if (__builtin_expect(r == CHI_RUN_FORWARD, 0))
				r = chi_route_forward_sync(w, c); /* the batch's pairs complete in order */
		}
		errors += r < 0;
		pm_count(w, st, r < 0);
		if (k + 1 == n) /* the lane's counters before the last completion */
			lane_counts(lane, n, errors);
		chi_pair_complete_nowake(pair, CHI_FUTURE_COPY_FROM_CLIENT, r);
		lat_end(lane, t0);
	}
	chi_pair_complete_nowake(b + CHI_BATCH_DONE, CHI_FUTURE_COPY_FROM_CLIENT, 0); /* B2 */
	st->tasks += n;
	st->last = b; /* the done pair's line and the pairs the warp reads next */
	st->last_len = chi_batch_pair_off(n);
}

/* A single-task entry with `gpu` a constant (two copies: CPU and GPU
 * lanes); an entry of several tasks is a packed batch. */
void chi_worker_run_entry(chi_worker *w, chi_lane_ref *lane, uint8_t *b, uint32_t n,
			  chi_run_state *st)
{
	chi_future_shm *f = (chi_future_shm *)(void *)b;
	if (n > 1)
		run_batch(w, lane, b, n, st);
	else if (lane->gpu)
		chi_worker_process_new_task(w, lane, f, st, 1, NULL);
	else
		chi_worker_process_new_task(w, lane, f, st, 0, NULL);
}

void chi_worker_run_sealed(chi_worker *w, chi_lane_ref *lane, chi_future_shm *f,
			   const chi_sealed *sx, chi_run_state *st)
{
	chi_worker_process_new_task(w, lane, f, st, 1, sx);
}
