/* src/runtime/snapshots.c: what the admin module reads of the runtime
 * (include/chi/module.h): the pool list, one page of lane and worker
 * counters (admin.stats), the per-pool, per-method counts (admin.pool_stats).
 * Each reads the runtime's own records, never the directory clients map. */
#include <stdio.h>
#include <string.h>

#include "chi/modules/admin.h"
#include "runtime/runtime.h"
#include "runtime/stats.h"
#include "task/future_ops.h"

uint32_t chi_runtime_list_pools(chi_runtime *rt, chi_admin_list_task *t)
{
	t->count = 0;
	/* an admin task: a pool seen live here is not destroyed before the
	 * task ends (PD2, pool.c); pool_lock must not be taken here, the
	 * destroy holds it while it waits for running tasks */
	for (uint32_t i = 0; i < CHI_MAX_POOLS && t->count < CHI_ADMIN_LIST_MAX; i++) {
		chi_pool *p = &rt->pools[i];
		if (!__atomic_load_n(&p->live, __ATOMIC_ACQUIRE))
			continue;
		chi_pool_info *pi = &t->pools[t->count++];
		pi->id = i;
		pi->home = p->home;
		snprintf(pi->name, sizeof(pi->name), "%s", p->name);
		snprintf(pi->module, sizeof(pi->module), "%s", p->mod->name);
	}
	return t->count;
}

void chi_runtime_stats_snapshot(chi_runtime *rt, chi_admin_stats_task *t)
{
	/* the lane refs: CPU lanes first, then the GPU lanes (gpu_queues.c);
	 * one page of them and of the workers (admin.h) */
	uint32_t l0 = t->first_lane, nl = rt->nlane_refs;
	t->lanes_total = nl;
	t->nlanes = l0 >= nl ? 0 : nl - l0 < CHI_STATS_PAGE_LANES ? nl - l0 : CHI_STATS_PAGE_LANES;
	t->nworkers = rt->nworkers;
	t->uptime_ns = chi_now_ns() - rt->lay.start_ns;
	static __thread uint64_t hist[CHI_LAT_BUCKETS];
	for (uint32_t i = 0; i < t->nlanes; i++) {
		const chi_lane_ref *lr = &rt->lane_refs[l0 + i];
		chi_lane_shm *l = lr->shm;
		chi_lane_stats *s = &t->lanes[i];
		s->gpu = lr->gpu ? lr->seg_id - CHI_SEG_ID_GPU_BASE + 1 : 0;
		s->popped = __atomic_load_n(&l->popped, __ATOMIC_RELAXED);
		s->completed = __atomic_load_n(&l->completed, __ATOMIC_RELAXED);
		s->errors = __atomic_load_n(&l->errors, __ATOMIC_RELAXED);
		s->queue_full = __atomic_load_n(&lr->prod->queue_full, __ATOMIC_RELAXED);
		s->hole_stalls = __atomic_load_n(&l->hole_stalls, __ATOMIC_RELAXED);
		s->holes_skipped = __atomic_load_n(&l->holes_skipped, __ATOMIC_RELAXED);
		s->depth_hwm = __atomic_load_n(&l->depth_hwm, __ATOMIC_RELAXED);
		s->worker = lr->owner; /* the runtime's copy: l->worker is clients' to write */
		s->seal_waits = __atomic_load_n(&l->seal_waits, __ATOMIC_RELAXED);
		s->depth = 0;
		for (uint32_t p = 0; p < CHI_NPRIO && !lr->gpu; p++)
			s->depth += __atomic_load_n(lr->v[p].tail, __ATOMIC_RELAXED) -
				    __atomic_load_n(lr->v[p].head, __ATOMIC_RELAXED);
		/* a snapshot: the worker may be adding a sample meanwhile */
		for (uint32_t b = 0; b < CHI_LAT_BUCKETS; b++)
			hist[b] = __atomic_load_n(&l->lat_hist[b], __ATOMIC_RELAXED);
		s->lat_sum_ns = __atomic_load_n(&l->lat_sum, __ATOMIC_RELAXED);
		/* and the admin tasks the monitor took from this lane (AS3) */
		const chi_lane_shm *m = chi_admin_steal_lane(rt, l0 + i);
		if (m) {
			s->popped += __atomic_load_n(&m->popped, __ATOMIC_RELAXED);
			s->completed += __atomic_load_n(&m->completed, __ATOMIC_RELAXED);
			s->errors += __atomic_load_n(&m->errors, __ATOMIC_RELAXED);
			for (uint32_t b = 0; b < CHI_LAT_BUCKETS; b++)
				hist[b] += __atomic_load_n(&m->lat_hist[b], __ATOMIC_RELAXED);
			s->lat_sum_ns += __atomic_load_n(&m->lat_sum, __ATOMIC_RELAXED);
		}
		s->lat_samples = chi_lat_count(hist);
		s->p50_ns = chi_lat_quantile(hist, 0.5);
		s->p99_ns = chi_lat_quantile(hist, 0.99);
		s->p999_ns = chi_lat_quantile(hist, 0.999);
	}
	chi_worker_shm *ws = (chi_worker_shm *)((char *)rt->main.base + rt->lay.workers_off);
	uint32_t nw = rt->lay.nworkers, w0 = t->first_worker;
	t->workers_total = nw;
	t->nworker_stats = w0 >= nw ? 0 : nw - w0 < CHI_STATS_PAGE_WORKERS ? nw - w0 : CHI_STATS_PAGE_WORKERS;
	ws += w0 < nw ? w0 : 0;
	for (uint32_t i = 0; i < t->nworker_stats; i++) {
		chi_worker_stats *w = &t->workers[i];
		w->tasks = __atomic_load_n(&ws[i].tasks, __ATOMIC_RELAXED);
		w->busy_ns = __atomic_load_n(&ws[i].busy_ns, __ATOMIC_RELAXED);
		w->idle_ns = __atomic_load_n(&ws[i].idle_ns, __ATOMIC_RELAXED);
		w->sleep_ns = __atomic_load_n(&ws[i].sleep_ns, __ATOMIC_RELAXED);
		w->sleeps = __atomic_load_n(&ws[i].sleeps, __ATOMIC_RELAXED);
		w->helps = ws[i].helps;
		w->handed = __atomic_load_n(&ws[i].handed, __ATOMIC_RELAXED);
	}
}

uint32_t chi_runtime_pool_stats_snapshot(chi_runtime *rt, chi_admin_pool_stats_task *t)
{
	chi_worker_shm *ws = (chi_worker_shm *)((char *)rt->main.base + rt->lay.workers_off);
	const chi_worker_shm *mon = chi_admin_steal_worker(rt); /* what the monitor ran (AS3) */
	t->count = 0;
	for (uint32_t p = 0; p < CHI_MAX_POOLS; p++) {
		for (uint32_t m = 0; m < CHI_STATS_METHODS && t->count < CHI_STATS_MAX_PM; m++) {
			uint64_t n = 0, e = 0;
			for (uint32_t w = 0; w < rt->lay.nworkers; w++) {
				n += __atomic_load_n(&ws[w].pm_count[p][m], __ATOMIC_RELAXED);
				e += __atomic_load_n(&ws[w].pm_errors[p][m], __ATOMIC_RELAXED);
			}
			if (mon) {
				n += __atomic_load_n(&mon->pm_count[p][m], __ATOMIC_RELAXED);
				e += __atomic_load_n(&mon->pm_errors[p][m], __ATOMIC_RELAXED);
			}
			if (!n)
				continue;
			chi_pm_stats *s = &t->e[t->count++];
			s->pool = p;
			s->method = m;
			s->count = n;
			s->errors = e;
			s->pool_name[0] = s->method_name[0] = 0;
			chi_pool *pl = &rt->pools[p];
			if (__atomic_load_n(&pl->live, __ATOMIC_ACQUIRE))
				snprintf(s->pool_name, sizeof(s->pool_name), "%s", pl->name);
			if (__atomic_load_n(&pl->live, __ATOMIC_ACQUIRE) && pl->mod &&
			    m < pl->mod->nmethods && m + 1 < CHI_STATS_METHODS)
				snprintf(s->method_name, sizeof(s->method_name), "%s",
					 pl->mod->methods[m].name);
			else if (m + 1 == CHI_STATS_METHODS)
				snprintf(s->method_name, sizeof(s->method_name), "other");
		}
	}
	return t->count;
}
