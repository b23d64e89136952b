/* src/runtime/lanes_assign.c: which worker owns each lane (chi_lanes_assign,
 * run by chi_workers_start in worker.c before the workers start).
 *
 * Lane assignment. CPU lane i belongs to worker i % num_workers. GPU lanes
 * (gpu.workers):
 *   dedicated: the last GPU-lane-count workers (at least one, never all of
 *     them while there is more than one worker) poll only GPU lanes, and
 *     CPU lanes are spread over the others;
 *   shared: GPU lanes are spread over all workers after the CPU lanes.
 * Every lane has exactly one worker, whatever the worker count. A worker that
 * owns a GPU lane never sleeps longer than gpu.max_sleep_us (a GPU cannot
 * wake a futex; see the idle policy in worker.c).
 * Lane helpers (gpu.lane_helpers, handoff.h), dedicated only: each GPU
 * owner gets that many helpers, taken from the workers just before the
 * owners, as far as at least one worker is left for the CPU lanes (fewer
 * helpers each otherwise, logged). Workers: [CPU lanes][helpers][GPU owners]. */
#include "chi/log.h"
#include "runtime/runtime.h"

int chi_lanes_assign(chi_runtime *rt)
{
	uint32_t nw = rt->cfg.num_workers, ncpu = 0, ngpu = 0;
	for (uint32_t l = 0; l < rt->nlane_refs; l++)
		rt->lane_refs[l].gpu ? ngpu++ : ncpu++;
	uint32_t gw = 0; /* workers dedicated to GPU lanes */
	if (ngpu && rt->cfg.gpu_workers == CHI_GPU_WORKERS_DEDICATED && nw > 1)
		gw = ngpu < nw - 1 ? ngpu : nw - 1;
	uint32_t hpo = 0, want = rt->cfg.gpu_lane_helpers;
	if (gw && want) {
		hpo = (nw - 1 - gw) / gw;
		if (hpo > want)
			hpo = want;
		if (hpo < want)
			chi_log(CHI_LOG_WARN, "gpu.lane_helpers %u: %u worker(s) give each of %u GPU "
				"lane owner(s) %u helper(s)", want, nw, gw, hpo);
	} else if (want && ngpu) {
		chi_log(CHI_LOG_WARN, "gpu.lane_helpers %u: no helpers (they need gpu.workers: "
			"dedicated and more than one worker)", want);
	}
	uint32_t cw = nw - gw - gw * hpo; /* workers for CPU lanes */
	rt->helper_base = cw;
	rt->owner_base = cw + gw * hpo;
	rt->helpers_per_owner = hpo;
	uint32_t ci = 0, gi = 0;
	for (uint32_t l = 0; l < rt->nlane_refs; l++) {
		chi_lane_ref *lr = &rt->lane_refs[l];
		uint32_t owner;
		if (!lr->gpu)
			owner = ci++ % cw;
		else if (gw)
			owner = rt->owner_base + gi++ % gw;
		else
			owner = (ncpu + gi++) % nw;
		lr->owner = owner;
		lr->shm->worker = owner;
	}
	return 0;
}
