/* src/runtime/worker_internal.h: what the worker loop (worker.c) and the
 * hole check (holes.c) share; private to src/runtime/. */
#ifndef CHI_RUNTIME_WORKER_INTERNAL_H
#define CHI_RUNTIME_WORKER_INTERNAL_H

#include <stdint.h>

#include "runtime/runtime.h"

/* Can ring p of the lane pop its head now? On GPU lanes a sealed head must
 * also have all its words (include/chi/proto/seal.h). */
static inline int head_poppable(const chi_lane_ref *lr, uint32_t p)
{
	return lr->gpu ? chi_seal_head_ready(&lr->seal, &lr->v[p], p) : chi_ring_ready(&lr->v[p], 0);
}

/* The hole check (holes.c), run by the idle loop at each clock read. */
void chi_worker_check_holes(chi_worker *w, uint64_t now);

#endif
