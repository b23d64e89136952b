/* src/runtime/worker_internal.h: what the worker loop (worker.c), the
 * hole check (holes.c) and the admin steal (admin_steal.c) share; private
 * to src/runtime/. */
#ifndef CHI_RUNTIME_WORKER_INTERNAL_H
#define CHI_RUNTIME_WORKER_INTERNAL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

/* Can ring p of the lane pop its head now? On GPU lanes a sealed head must
 * also have all its words (include/chi/proto/seal.h). */
static inline int head_poppable(const chi_lane_ref *lr, uint32_t p)
{
	return lr->gpu ? chi_seal_head_ready(&lr->seal, &lr->v[p], p) : chi_ring_ready(&lr->v[p], 0);
}

/* calloc on whole cache lines of its own (see chi_worker). */
static inline void *chi_line_calloc(size_t n, size_t size)
{
	size_t bytes = (n ? n : 1) * size;
	bytes = (bytes + 63) & ~(size_t)63;
	void *p = aligned_alloc(64, bytes);
	if (p)
		memset(p, 0, bytes);
	return p;
}

/* The admin steal's state (admin_steal.c), made before the monitor starts;
 * NULL when it cannot be made. */
struct chi_admin_steal *chi_admin_steal_init(chi_runtime *rt);

/* The hole check (holes.c), run by the idle loop at each clock read. */
void chi_worker_check_holes(chi_worker *w, uint64_t now);

#endif
