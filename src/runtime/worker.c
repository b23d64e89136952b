/* src/runtime/worker.c: workers. Each worker owns lanes (lane i belongs to
 * worker i % num_workers) and is their only consumer. It takes entries with
 * chi_lane_pop (priority rule in src/queue/lane.c), runs each task
 * (chi_worker_process_new_task, src/runtime/run_task.c) and completes its
 * future.
 *
 * Idle policy: spin, reading the clock every 4096 polls, for
 * runtime.first_busy_wait_us; then sleep on the worker's futex for at most
 * runtime.max_sleep_us at a time (bounded, so lanes no producer can wake
 * are still polled). A GPU kernel cannot wake a futex, so a worker that owns
 * a GPU lane sleeps at most gpu.max_sleep_us (100 us by default; 0: it never
 * sleeps): a kernel's first task after a quiet spell then waits about that
 * long for its worker, not runtime.max_sleep_us (50 ms).
 * Sleep protocol (Dekker, all seq_cst):
 *   W1 worker:   sleeping = 1; fence; v = sleep_futex; re-check every lane;
 *                futex_wait(sleep_futex, v, max_sleep)
 *   W2 worker:   sleeping = 0 after waking
 *   W3 producer: publish (P4, seq_cst) then load sleeping
 *   W4 producer: if sleeping: sleep_futex += 1; futex_wake
 * Either the worker's re-check sees the published slot, or the producer sees
 * sleeping == 1 and bumps the futex (so futex_wait returns at once).
 *
 * The rest of the workers' files: hole handling in holes.c, lane-to-worker
 * assignment in lanes_assign.c, pointer futures and chi_make_future /
 * chi_call in futures.c. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <sched.h>
#include <linux/membarrier.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chi/log.h"
#include "chi/modules/admin.h"
#include "numa/numa.h"
#include "runtime/handoff.h"
#include "runtime/runtime.h"
#include "runtime/stats.h"
#include "runtime/worker_internal.h"
#include "task/future_ops.h"

__thread chi_worker *chi_tls_worker;

/* The wait hook (ipc/client.h) of a worker thread: a chi_future_wait on it
 * runs the worker's lanes instead of sleeping. */
static uint32_t wait_hook_run(void *arg, uint32_t budget)
{
	return chi_worker_process_new_tasks(arg, budget);
}

/* Software pipeline for GPU lanes, which under load hold a backlog of blocks
 * the GPU wrote over PCIe (cold in this core's caches: two misses a task if
 * taken one by one). After each pop: the slot line PF_SLOT entries past head
 * comes into cache, and the block of the entry PF_BLOCK past head, whose slot
 * is cached by then. Hints only: nothing read here is trusted, and the entry
 * is checked again when it is popped. */
#define PF_SLOT 16u
#define PF_BLOCK 6u
static inline void prefetch_ahead(const chi_lane_ref *lr, const chi_ring_view *v)
{
	uint64_t h = __atomic_load_n(v->head, __ATOMIC_RELAXED);
	__builtin_prefetch(&v->slots[(h + PF_SLOT) & v->mask], 0);
	const chi_slot *s = &v->slots[(h + PF_BLOCK) & v->mask];
	uint64_t ctl = __atomic_load_n(&s->ctl, __ATOMIC_RELAXED);
	if (chi_slot_state(ctl) != CHI_SLOT_PUBLISHED)
		return;
	chi_offptr p = __atomic_load_n(&s->ptr, __ATOMIC_RELAXED);
	uint64_t off = chi_offptr_off(p);
	if (chi_offptr_seg(p) != lr->seg_id || off + CHI_FUTURE_BLOCK > lr->size)
		return;
	/* header: the completion store (rw 1 is a plain read prefetch on
	 * baseline x86-64; PREFETCHW through asm measured no different) */
	__builtin_prefetch(lr->base + off, 1);
	/* the task: in the copy space, or for a sealed entry in the inbox's
	 * first line (its copy space is written only with outputs; prefetching
	 * it anyway, and PREFETCHW of the inbox, measured no better) */
	if (ctl & CHI_SLOT_SEALED)
		__builtin_prefetch(lr->base + off + lr->seal.inbox_delta, 0);
	else
		__builtin_prefetch(lr->base + off + 64, 0);
}

/* Stopping, the GPU lanes left (drain_pending, chi_workers_join)? */
static inline int gpu_cut(const chi_worker *w)
{
	return (int)__atomic_load_n(&w->gpu_cut, __ATOMIC_RELAXED);
}

static int any_ready(chi_worker *w)
{
	if (chi_handoff_ready(w))
		return 1;
	for (uint32_t i = 0; i < w->nlanes; i++)
		if (!(w->lanes[i].gpu && gpu_cut(w)) && chi_lane_ready(w->lanes[i].v))
			return 1;
	return 0;
}

/* Stop's drain (chi_runtime_stop): a worker exits once none of its lanes
 * has an entry it can pop. Stricter than any_ready: a sealed head whose
 * words never arrive (its client killed halfway, include/chi/proto/seal.h)
 * is published but cannot be popped, and only check_holes, which the drain
 * does not run, would ever skip it; counted as work it held the stop up
 * forever. CPU submitters are refused once the runtime is stopping, so CPU
 * lanes empty. GPU kernels cannot be told (a check in every device submit
 * would be a PCIe read), so GPU lanes are drained for CHI_GPU_HEARTBEAT_NS
 * after the stop and then left (gpu_cut, set by chi_workers_join; checked
 * before every GPU-lane pop): by then the heartbeat, which stops with the
 * stop, has ended every device-side wait with -EOWNERDEAD, so what is left
 * would complete to nobody, and a kernel that keeps submitting cannot hold
 * the stop up. */
static int drain_pending(chi_worker *w)
{
	if (chi_handoff_ready(w))
		return 1;
	for (uint32_t i = 0; i < w->nlanes; i++) {
		const chi_lane_ref *lr = &w->lanes[i];
		if (lr->gpu && gpu_cut(w))
			continue;
		for (uint32_t p = 0; p < CHI_NPRIO; p++)
			if (head_poppable(lr, p))
				return 1;
	}
	return 0;
}

/* Admin steal. A ring has one consumer; while a worker runs a long task, the
 * admin tasks queued on its lanes would wait for it (`chi status` took 1.7 s
 * behind a 1 s task). So the monitor (runtime.c, every 10 ms) may stand in as
 * the consumer of a worker's CPU lanes, and takes from their heads the admin
 * tasks that only read or flag (list_pools, stats, pool_stats, stop): never
 * a user task, nor one behind a user task. Asymmetric Dekker, so the
 * worker's side costs two plain stores and a load per pop:
 *   AS1 worker:  popping = 1; compiler barrier; if steal: popping = 0 and
 *                leave the lane (release); else pop, write the lane's
 *                consumer state, popping = 0 (release)
 *   AS2 monitor: steal = 1; membarrier (a full barrier on every thread of
 *                the process); if popping: steal = 0, try next tick
 *   AS3 monitor: as the consumer: pop admin entries at the heads, run them
 *                (a worker struct and lane counters of its own: the lane's
 *                and the worker's counters have single writers), complete
 *   AS4 monitor: steal = 0 (release; pairs with AS1's acquire)
 * Either the worker's load saw steal, or its store of popping was visible to
 * the monitor after the membarrier. Without membarrier no steal happens.
 * The monitor tries only a lane whose head has not moved for a whole tick
 * with an entry ready. The reaper runs on the same thread, so it never sees
 * a stolen entry half run. */
static inline int steal_enter(chi_worker *w)
{
	chi_steal_flags *f = w->sf;
	__atomic_store_n(&f->popping, 1, __ATOMIC_RELAXED);
#if defined(__SANITIZE_THREAD__)
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#else
	__atomic_signal_fence(__ATOMIC_SEQ_CST); /* AS2's membarrier does the rest */
#endif
	if (__atomic_load_n(&f->steal, __ATOMIC_ACQUIRE)) {
		__atomic_store_n(&f->popping, 0, __ATOMIC_RELEASE);
		return 0;
	}
	return 1;
}

static inline void steal_exit(chi_worker *w)
{
	__atomic_store_n(&w->sf->popping, 0, __ATOMIC_RELEASE);
}

/* A GPU lane's ring pop (queue/lane.h chi_ring_pop_fn): sealed entries too
 * (queue/seal.h), their payload into *sx. */
typedef struct seal_pop_arg {
	const chi_seal_lane *sl;
	chi_sealed *sx;
} seal_pop_arg;

static uint32_t seal_pop(void *arg, const chi_ring_view *r, uint32_t prio, chi_offptr *first)
{
	seal_pop_arg *a = arg;
	return chi_seal_pop(a->sl, r, prio, first, a->sx);
}

uint32_t chi_worker_process_new_tasks(chi_worker *w, uint32_t budget)
{
	uint32_t ran = 0;
	uint32_t bulk_every = w->rt->cfg.bulk_every;
	if (w->take) /* a lane helper owns no lanes (handoff.h) */
		return chi_handoff_run(w, budget);
	/* the bracket opens before the first pop: a reaper that saw a popped
	 * entry's slot empty then sees this worker's task_seq odd (reaper.c).
	 * Looking first is free of that race (it changes no slot), and keeps
	 * idle polls at one read per ring. */
	if (!any_ready(w))
		return 0;
	chi_run_state st;
	chi_sealed sx;
	sx.n = 0;
	chi_worker_seq_open(w);
	chi_run_state_init(&st);
	for (uint32_t i = 0; i < w->nlanes && ran < budget; i++) {
		chi_lane_ref *lr = &w->lanes[i];
		while (ran < budget) {
			if (lr->gpu && gpu_cut(w)) /* stopping, left (drain_pending) */
				break;
			chi_offptr first;
			uint32_t prio;
			seal_pop_arg sa = {&lr->seal, &sx};
			if (!lr->gpu && !steal_enter(w))
				break; /* AS1: the monitor is the consumer for now */
			uint32_t n = lr->gpu ? chi_lane_pop_with(lr->v, seal_pop, &sa, &w->since_bulk[i],
								 bulk_every, &first, &prio)
					     : chi_lane_pop(lr->v, &w->since_bulk[i], bulk_every,
							    &first, &prio);
			if (!n) {
				if (!lr->gpu)
					steal_exit(w);
				/* the lane fell idle: demote the last completion's
				 * lines, which its kernel is polling over PCIe
				 * (future_ops.h, docs/gpu.md) */
				if (st.last && lr->gpu) {
					chi_lines_demote(st.last, st.last_len);
					st.last = NULL;
				}
				break;
			}
			uint64_t popped = lr->shm->popped;
			__atomic_store_n(&lr->shm->popped, popped + 1, __ATOMIC_RELAXED);
			if ((popped & 63) == 0 && !lr->gpu) {
				/* depth high-water mark, every 64th pop: reading tail
				 * touches the producers' line, so not on every one */
				uint64_t d = 0;
				for (uint32_t p = 0; p < CHI_NPRIO; p++)
					d += __atomic_load_n(lr->v[p].tail, __ATOMIC_RELAXED) -
					     __atomic_load_n(lr->v[p].head, __ATOMIC_RELAXED);
				d += 1; /* the entry just popped */
				if (d > lr->shm->depth_hwm && d <= 2ull * (lr->v[0].mask + 1))
					__atomic_store_n(&lr->shm->depth_hwm, d, __ATOMIC_RELAXED);
			}
			w->hole_since[i * CHI_NPRIO + prio] = 0;
			if (!lr->gpu)
				steal_exit(w); /* the lane's consumer state written */
			uint64_t off0 = chi_offptr_off(first);
			if (chi_offptr_seg(first) != lr->seg_id || off0 < CHI_FUTURE_BLOCK ||
			    off0 < lr->lo ||
			    (off0 & 15) || off0 + (uint64_t)n * CHI_FUTURE_BLOCK > lr->size ||
			    /* a GPU lane's entries are its own blocks: a wrong
			     * pointer must not have the worker write
			     * completions over the rings or other lanes */
			    (lr->gpu && (off0 < lr->seal.blocks_off ||
					 (off0 - lr->seal.blocks_off) % CHI_FUTURE_BLOCK ||
					 off0 + (uint64_t)n * CHI_FUTURE_BLOCK > lr->seal.blocks_end))) {
				ran++; /* a corrupt entry: nothing to complete */
				continue;
			}
			uint8_t *b = (uint8_t *)lr->base + off0;
			if (lr->gpu)
				prefetch_ahead(lr, &lr->v[prio]);
			if (lr->gpu && sx.n)
				chi_worker_run_sealed(w, lr, (chi_future_shm *)(void *)b, &sx, &st);
			else if (n > 1 && lr->helped && chi_lane_ready(lr->v) &&
				 chi_handoff_push(w, lr, b, n))
				; /* H1: a helper runs it */
			else
				chi_worker_run_entry(w, lr, b, n, &st);
			ran++;
		}
	}
	chi_run_state_flush(w, &st);
	chi_worker_seq_close(w);
	return ran;
}

static void *worker_main(void *arg)
{
	chi_worker *w = arg;
	chi_runtime *rt = w->rt;
	uint64_t busy_ns = rt->cfg.first_busy_wait_us * 1000ull;
	uint64_t max_sleep = rt->cfg.max_sleep_us * 1000ull;
	int gpu_lanes = 0, may_sleep = 1;
	for (uint32_t i = 0; i < w->nlanes; i++)
		gpu_lanes |= w->lanes[i].gpu;
	if (gpu_lanes) {
		uint64_t g = rt->cfg.gpu_max_sleep_us * 1000ull;
		may_sleep = g != 0;
		if (g < max_sleep)
			max_sleep = g;
		/* sleeps this short would grow by the default 50 us timer slack */
		prctl(PR_SET_TIMERSLACK, 1000ul);
	}
	uint64_t idle_since = 0;
	unsigned spins = 0;
	/* past the busy wait: after each sleep one look at the lanes, then
	 * straight back to sleep (4096 more polls first cost ~180 us of CPU per
	 * wake, 47% of a core at gpu.max_sleep_us 100 on the device VM) */
	int dozing = 0;
	/* time accounting (busy/idle/sleep ns) at the clock reads the idle loop
	 * makes anyway, plus one every 1024 rounds that found work: the span
	 * since `mark` is idle if no task ran in it; if tasks ran, its last
	 * 4096 spins (about spin_est ns, the last all-idle span) were idle and
	 * the rest busy. */
	uint64_t mark = chi_now_ns(), spin_est = 0;
	unsigned rounds = 0;
	int worked = 0;
	chi_worker_shm *ws = w->shm;
	chi_tls_worker = w;
	/* field by field: waiting_on (NULL from the calloc) is read by other
	 * workers' destroys (PD3) from now on */
	w->wait_hook.run = wait_hook_run;
	w->wait_hook.arg = w;
	w->wait_hook.nesting = 0;
	chi_tls_wait_hook = &w->wait_hook;
	ws->tid = (int32_t)gettid();
	for (;;) {
		if (chi_worker_process_new_tasks(w, 64)) {
			idle_since = 0;
			spins = 0;
			dozing = 0;
			worked = 1;
			if (++rounds % 1024 == 0) {
				uint64_t now = chi_now_ns();
				chi_ctr_add(&ws->busy_ns, now - mark);
				mark = now;
				worked = 0;
				/* a hole in one ring must not wait for all the
				 * others to fall idle (the kill storm saw a dead
				 * client's slot held for 15 s under load) */
				if (steal_enter(w)) {
					chi_worker_check_holes(w, now);
					steal_exit(w);
				}
			}
			continue;
		}
		if (__atomic_load_n(&rt->stop, __ATOMIC_ACQUIRE)) {
			/* drain: stop once no owned lane has an entry to pop (and,
			 * for a lane helper, once its owner is done: H5) */
			if (chi_handoff_owners_done(w) && !drain_pending(w))
				break;
			continue;
		}
		if (!dozing && ++spins % 4096) {
			chi_cpu_relax();
			continue;
		}
		if (!dozing)
			sched_yield(); /* cheap when nothing else wants this core */
		uint64_t now = chi_now_ns();
		uint64_t dt = now - mark;
		if (worked) {
			uint64_t idle = spin_est < dt ? spin_est : dt;
			chi_ctr_add(&ws->idle_ns, idle);
			chi_ctr_add(&ws->busy_ns, dt - idle);
			worked = 0;
		} else {
			chi_ctr_add(&ws->idle_ns, dt);
			if (!dozing) /* a span of 4096 polls, not a look after a sleep */
				spin_est = dt;
		}
		mark = now;
		if (steal_enter(w)) { /* skipping a hole is a consumer's act too */
			chi_worker_check_holes(w, now);
			steal_exit(w);
		}
		if (!idle_since)
			idle_since = now;
		if (now - idle_since < busy_ns || !may_sleep)
			continue;
		dozing = 1;
		__atomic_store_n(&w->wake->sleeping, 1, __ATOMIC_SEQ_CST); /* W1 */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		uint32_t v = __atomic_load_n(&w->wake->sleep_futex, __ATOMIC_SEQ_CST);
		if (!any_ready(w) && !__atomic_load_n(&rt->stop, __ATOMIC_ACQUIRE)) {
			chi_futex_wait(&w->wake->sleep_futex, v, max_sleep);
			chi_ctr_add(&ws->sleeps, 1);
			uint64_t t1 = chi_now_ns();
			chi_ctr_add(&ws->sleep_ns, t1 - now);
			mark = t1;
		}
		__atomic_store_n(&w->wake->sleeping, 0, __ATOMIC_RELAXED); /* W2 */
	}
	chi_handoff_owner_done(w);
	chi_tls_wait_hook = NULL;
	chi_tls_worker = NULL;
	return NULL;
}

/* A worker that owns GPU lanes runs on the CPUs of those GPUs' nodes (the
 * union when its lanes belong to GPUs on different nodes, as in gpu.workers:
 * shared with few workers); GPUs without a placement (node -1) add nothing.
 * Any other worker is not pinned (-ENOENT): CPU lanes are fed from any
 * socket, so the scheduler places those best (docs/numa.md). */
int chi_numa_worker_cpus(chi_runtime *rt, uint32_t worker, cpu_set_t *set)
{
	chi_gpu_state *st = rt ? rt->gpu : NULL;
	if (!st || !set)
		return -ENOENT;
	CPU_ZERO(set);
	int any = 0;
	for (uint32_t l = 0; l < rt->nlane_refs; l++) {
		const chi_lane_ref *lr = &rt->lane_refs[l];
		if (!lr->gpu || lr->owner != worker)
			continue;
		uint32_t g = lr->seg_id - CHI_SEG_ID_GPU_BASE;
		if (g >= st->n || st->segs[g].numa_node < 0)
			continue;
		for (int c = 0; c < CPU_SETSIZE && c < CHI_GPU_CPUMASK_BITS; c++)
			if (st->segs[g].cpus[c / 64] >> (c % 64) & 1) {
				CPU_SET(c, set);
				any = 1;
			}
	}
	return any ? 0 : -ENOENT;
}


/* Everything chi_workers_start allocated (no thread left running). */
static void workers_free(chi_runtime *rt)
{
	chi_handoff_free(rt);
	for (uint32_t i = 0; rt->workers && i < rt->nworkers; i++) {
		free(rt->workers[i].lanes);
		free(rt->workers[i].since_bulk);
		free(rt->workers[i].hole_since);
		free(rt->workers[i].hole_tail);
	}
	free(rt->workers);
	rt->workers = NULL;
	rt->nworkers = 0;
}

int chi_workers_start(chi_runtime *rt)
{
	uint32_t nw = rt->cfg.num_workers, nl = rt->nlane_refs;
	rt->workers = chi_line_calloc(nw, sizeof(chi_worker));
	if (!rt->workers)
		return -ENOMEM;
	rt->nworkers = nw;
	if (!rt->steal_flags) {
		rt->steal_flags = chi_line_calloc(nw, sizeof(chi_steal_flags));
		if (!rt->steal_flags) {
			free(rt->workers);
			rt->workers = NULL;
			rt->nworkers = 0;
			return -ENOMEM;
		}
	}
	chi_lanes_assign(rt);
	chi_admin_steal_init(rt); /* none: no admin steal (a shortcut, not a need) */
	chi_worker_shm *wshm = (chi_worker_shm *)((char *)rt->main.base + rt->lay.workers_off);
	chi_worker_wake *wake = (chi_worker_wake *)((char *)rt->main.base + rt->lay.wakes_off);
	for (uint32_t i = 0; i < nw; i++) {
		chi_worker *w = &rt->workers[i];
		w->rt = rt;
		w->id = i;
		w->shm = &wshm[i];
		w->wake = &wake[i];
		w->shm->id = i;
		w->sf = &rt->steal_flags[i];
		w->sub_lane = i % rt->lay.nlanes;
		for (uint32_t l = 0; l < nl; l++)
			if (rt->lane_refs[l].owner == i)
				w->nlanes++;
		w->lanes = chi_line_calloc(w->nlanes, sizeof(chi_lane_ref));
		w->since_bulk = chi_line_calloc(w->nlanes, sizeof(uint32_t));
		w->hole_since = chi_line_calloc((size_t)w->nlanes * CHI_NPRIO, sizeof(uint64_t));
		w->hole_tail = chi_line_calloc((size_t)w->nlanes * CHI_NPRIO, sizeof(uint64_t));
		if (!w->lanes || !w->since_bulk || !w->hole_since || !w->hole_tail) {
			workers_free(rt);
			return -ENOMEM;
		}
		int own = 0;
		for (uint32_t l = 0, k = 0; l < nl; l++) {
			chi_lane_ref *lr = &rt->lane_refs[l];
			if (lr->owner != i)
				continue;
			if (!lr->gpu && !own) {
				w->sub_lane = lr->index; /* sub-tasks go to its own CPU lane */
				own = 1;
			}
			w->lanes[k++] = *lr;
		}
	}
	int hrc = chi_handoff_setup(rt);
	if (hrc) {
		workers_free(rt); /* the rings made so far too */
		return hrc;
	}
	for (uint32_t i = 0; i < nw; i++) {
		int rc = pthread_create(&rt->workers[i].thread, NULL, worker_main, &rt->workers[i]);
		if (rc) {
			__atomic_store_n(&rt->stop, 1, __ATOMIC_RELEASE);
			for (uint32_t j = i; j < nw; j++) /* owners never started: H5 */
				chi_handoff_owner_done(&rt->workers[j]);
			for (uint32_t j = 0; j < i; j++)
				pthread_join(rt->workers[j].thread, NULL);
			workers_free(rt);
			return -rc;
		}
		/* a worker polling GPU lanes runs on its GPU's NUMA node (numa.c) */
		cpu_set_t set;
		uint32_t helps = rt->workers[i].shm->helps;
		uint32_t on = helps ? helps - 1 : i; /* a helper: its owner's */
		if (chi_numa_worker_cpus(rt, on, &set) == 0) {
			int prc = chi_numa_pin_thread(rt->workers[i].thread, &set);
			if (prc)
				chi_log(CHI_LOG_WARN, "worker %u: cannot pin to its GPU's NUMA node: %s",
					i, strerror(-prc));
		}
	}
	return 0;
}

void chi_workers_join(chi_runtime *rt)
{
	__atomic_store_n(&rt->stop, 1, __ATOMIC_RELEASE);
	for (uint32_t i = 0; i < rt->nworkers; i++) {
		chi_worker_wake *s = rt->workers[i].wake;
		__atomic_fetch_add(&s->sleep_futex, 1, __ATOMIC_SEQ_CST);
		chi_futex_wake(&s->sleep_futex, 1);
	}
	/* drain_pending: GPU lanes are drained for CHI_GPU_HEARTBEAT_NS at most */
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += (time_t)(CHI_GPU_HEARTBEAT_NS / 1000000000ull);
	uint32_t i = 0;
	while (i < rt->nworkers && pthread_timedjoin_np(rt->workers[i].thread, NULL, &dl) == 0)
		i++;
	if (i < rt->nworkers)
		for (uint32_t j = 0; j < rt->nworkers; j++)
			__atomic_store_n(&rt->workers[j].gpu_cut, 1, __ATOMIC_RELAXED);
	for (; i < rt->nworkers; i++)
		pthread_join(rt->workers[i].thread, NULL);
	workers_free(rt);
}
