/* src/gpu/gpu_client.c: a client attaches to GPU g's segment and gets the
 * context its kernels submit with (include/chi/proto/gpu.h, chi_gpu_ctx):
 * the segment mapped and registered (cudaHostRegister Portable|Mapped in
 * this process, so kernels of any process can submit), the claim counters
 * (the runtime's device memory, opened with cudaIpcOpenMemHandle from another
 * process), a slice of the arena (S1-S3 in include/chi/proto/gpu.h: up to
 * gpu.clients GPU clients per GPU) and this client's block pools over it,
 * built in device memory. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chi/gpu/pool.h"
#include "gpu/gpu.h"
#include "ipc/client.h"

struct chi_gpu_client {
	chi_client *c;
	const chi_gpu_ops *ops;
	chi_seg seg;
	chi_gpu_dir *dir;
	void *dev_base;
	void *pools_dev;
	void *counters_imported;
	uint32_t *owners; /* the directory's slice_owner[]: in the runtime's own
			   * process through the runtime's mapping, so the
			   * reaper's release and this client's words pair on one
			   * address (as a race detector sees them) */
	chi_gpu_ctx ctx;
};


uint32_t chi_gpu_count(const chi_client *c)
{
	return c->ngpus;
}

/* Build the pools [CHI_GPU_NPOOLS * nl] (future blocks, data blocks, big
 * data blocks of each lane: include/chi/gpu/pool.h) over this client's slice
 * and their rings in one device allocation. The rings hold lane-wide block
 * indices (base + i). */
static int build_pools(chi_gpu_client *gc)
{
	const chi_gpu_dir *d = gc->dir;
	const chi_gpu_ctx *x = &gc->ctx;
	uint32_t nl = d->nlanes;
	uint32_t have[CHI_GPU_NPOOLS] = {x->blk_count}, first[CHI_GPU_NPOOLS] = {x->blk_base};
	for (uint32_t c = 0; c < CHI_GPU_NCLASSES; c++) {
		have[1 + c] = x->dc[c].count;
		first[1 + c] = x->dc[c].base;
	}
	uint32_t n[CHI_GPU_NPOOLS]; /* ring entries: a power of two >= have */
	uint64_t rings = 0;
	for (uint32_t k = 0; k < CHI_GPU_NPOOLS; k++) {
		n[k] = 1u << chi_log2_u32(have[k] ? have[k] : 1);
		rings += (uint64_t)nl * n[k];
	}
	uint64_t hdr = (uint64_t)CHI_GPU_NPOOLS * nl * sizeof(chi_gpu_pool);
	uint64_t bytes = hdr + rings * 8;
	char *img = aligned_alloc(128, (bytes + 127) & ~(uint64_t)127);
	if (!img)
		return -ENOMEM;
	memset(img, 0, bytes);
	int rc = gc->ops->dev_alloc((int)d->gpu_id, bytes, &gc->pools_dev);
	if (rc) {
		free(img);
		return rc;
	}
	chi_gpu_pool *pools = (chi_gpu_pool *)(void *)img;
	uint64_t at = hdr;
	for (uint32_t k = 0; k < CHI_GPU_NPOOLS; k++)
		for (uint32_t l = 0; l < nl; l++) {
			chi_gpu_pool_init(&pools[k * nl + l], (uint64_t *)(void *)(img + at),
					  (uint64_t *)(void *)((char *)gc->pools_dev + at), n[k],
					  have[k], first[k]);
			at += (uint64_t)n[k] * 8;
		}
	rc = gc->ops->copy_to_dev(gc->pools_dev, img, bytes);
	free(img);
	if (rc) {
		gc->ops->dev_free((int)d->gpu_id, gc->pools_dev);
		gc->pools_dev = NULL;
	}
	return rc;
}

int chi_gpu_client_open(chi_client *c, uint32_t gpu, chi_gpu_client **out)
{
	const chi_gpu_ops *ops = chi_gpu_get_ops();
	if (!ops)
		return -ENODEV;
	if (gpu >= c->ngpus)
		return -ENODEV;
	chi_gpu_client *gc = calloc(1, sizeof(*gc));
	if (!gc)
		return -ENOMEM;
	gc->c = c;
	gc->ops = ops;
	char name[CHI_SEG_NAME_MAX];
	int rc = chi_shm_name(name, sizeof(name), c->hdr->name, "gpu", (int)gpu);
	if (!rc)
		rc = chi_seg_open(&gc->seg, name);
	if (rc)
		goto fail;
	chi_seg_hdr *h = chi_seg_hdr_of(&gc->seg);
	if (h->epoch != c->epoch || !h->dir_off) {
		rc = -EOWNERDEAD;
		goto fail_seg;
	}
	gc->dir = (chi_gpu_dir *)((char *)gc->seg.base + h->dir_off);
	gc->owners = c->gpu_local ? ((chi_gpu_state *)c->gpu_local)->segs[gpu].dir->slice_owner
				  : gc->dir->slice_owner;
	chi_gpu_ctx *x = &gc->ctx;
	const chi_gpu_dir *d = gc->dir;
	rc = -EBUSY; /* S1: a free slice */
	for (uint32_t k = 0; k < d->nslices && k < CHI_GPU_MAX_SLICES && rc; k++) {
		uint32_t free_ = 0;
		if (__atomic_compare_exchange_n(&gc->owners[k], &free_, c->id, 0,
						__ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
			x->slice = k;
			rc = 0;
		}
	}
	if (rc)
		goto fail_seg;
	x->blk_base = x->slice * d->blk_per_slice;
	x->blk_count = d->blk_per_slice;
	for (uint32_t c = 0; c < CHI_GPU_NCLASSES; c++) {
		x->dc[c].off = d->dclass[c].off;
		x->dc[c].size = d->dclass[c].size;
		x->dc[c].n = d->dclass[c].n;
		x->dc[c].base = x->slice * d->dclass[c].per_slice;
		x->dc[c].count = d->dclass[c].per_slice;
	}
	rc = ops->host_register(gc->seg.base, gc->seg.size, &gc->dev_base);
	if (rc)
		goto fail_attached;
	if (d->counters_in_host) {
		chi_lane_prod *ls = (chi_lane_prod *)((char *)gc->dev_base + chi_gpu_prods_off(d));
		x->counters = &ls[0].ring[0].tail;
		x->cs_lane = sizeof(chi_lane_prod) / 8;
		x->cs_prio = sizeof(chi_ring_tail) / 8;
	} else {
		if (c->gpu_local) /* the runtime's own process: its pointer */
			x->counters = ((chi_gpu_state *)c->gpu_local)->segs[gpu].counters_dev;
		else {
			rc = ops->dev_import((int)gpu, d->counters_ipc, &gc->counters_imported);
			if (rc)
				goto fail_register;
			x->counters = gc->counters_imported;
		}
		x->cs_lane = CHI_NPRIO;
		x->cs_prio = 1;
	}
	rc = build_pools(gc);
	if (rc)
		goto fail_counters;
	x->base = gc->dev_base;
	x->pools = gc->pools_dev;
	x->hdr = (const chi_seg_hdr *)gc->dev_base;
	x->epoch = c->epoch;
	x->seg_id = CHI_SEG_ID_GPU_BASE + gpu;
	x->nlanes = d->nlanes;
	x->depth = d->depth;
	x->shift = d->shift;
	x->slots_off = d->slots_off;
	x->blocks_off = d->blocks_off;
	x->inbox_off = d->inbox_off;
	x->max_task = d->max_task_size;
	x->client = c->id;
	x->gpu_id = gpu;
	*out = gc;
	return 0;
fail_counters:
	if (gc->counters_imported)
		ops->dev_close(gc->counters_imported);
fail_register:
	ops->host_unregister(gc->seg.base);
fail_attached:
	__atomic_store_n(&gc->owners[x->slice], 0, __ATOMIC_RELEASE);
fail_seg:
	chi_seg_close(&gc->seg);
fail:
	free(gc);
	return rc;
}

int chi_gpu_info_get(chi_client *c, uint32_t gpu, chi_gpu_info *out)
{
	if (gpu >= c->ngpus)
		return -ENODEV;
	char name[CHI_SEG_NAME_MAX];
	chi_seg seg;
	int rc = chi_shm_name(name, sizeof(name), c->hdr->name, "gpu", (int)gpu);
	if (!rc)
		rc = chi_seg_open(&seg, name);
	if (rc)
		return rc;
	const chi_seg_hdr *h = chi_seg_hdr_of(&seg);
	const chi_gpu_dir *d = (const chi_gpu_dir *)((char *)seg.base + h->dir_off);
	const chi_lane_shm *ls = (const chi_lane_shm *)((char *)seg.base + d->lanes_off);
	out->backend_id = h->seg_id;
	out->lanes = d->nlanes;
	out->depth = d->depth;
	out->numa_node = d->numa_node;
	snprintf(out->cpulist, sizeof(out->cpulist), "%s", d->cpulist);
	out->worker = d->nlanes ? ls[0].worker : 0;
	out->slices = d->nslices;
	out->blocks = d->blk_per_slice;
	for (uint32_t k = 0; k < CHI_GPU_NCLASSES && k < 3; k++) {
		out->data[k] = d->dclass[k].per_slice;
		out->data_size[k] = d->dclass[k].size;
	}
	out->segment_size = seg.size;
	out->clients = 0;
	for (uint32_t k = 0; k < d->nslices && k < CHI_GPU_MAX_SLICES; k++)
		out->clients += __atomic_load_n(&d->slice_owner[k], __ATOMIC_ACQUIRE) != 0;
	chi_seg_close(&seg);
	return 0;
}

const chi_gpu_ctx *chi_gpu_client_ctx(const chi_gpu_client *gc)
{
	return &gc->ctx;
}

/* S2: the slice is marked RELEASING; the runtime's reaper hands it back
 * once nothing of it is queued or claimed and every worker has left what it
 * ran (src/runtime/reaper.c, reclaim.h: the client runs none of that check).
 * With nothing in flight that takes one monitor tick, so the close waits up
 * to ~100 ms for it: a close with nothing in flight leaves the slice free. */
static void release_slice(chi_gpu_client *gc)
{
	chi_client *c = gc->c;
	uint32_t k = gc->ctx.slice, mark = c->id | CHI_GPU_SLICE_RELEASING, id = c->id;
	/* a CAS: if the reaper already took the slice back (its client entry
	 * was closed first), it may be another client's by now */
	if (!__atomic_compare_exchange_n(&gc->owners[k], &id, mark, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_RELAXED))
		return;
	for (int i = 0; i < 1000; i++) {
		if (__atomic_load_n(&gc->owners[k], __ATOMIC_ACQUIRE) != mark ||
		    chi_client_check_runtime(c))
			return;
		usleep(100);
	}
}

void chi_gpu_client_close(chi_gpu_client *gc)
{
	if (!gc)
		return;
	gc->ops->dev_free((int)gc->ctx.gpu_id, gc->pools_dev);
	if (gc->counters_imported)
		gc->ops->dev_close(gc->counters_imported);
	gc->ops->host_unregister(gc->seg.base);
	release_slice(gc);
	chi_seg_close(&gc->seg);
	free(gc);
}
