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
#include "runtime/runtime.h"

struct chi_gpu_client {
	chi_client *c;
	const chi_gpu_ops *ops;
	chi_seg seg;
	chi_gpu_dir *dir;
	void *dev_base;
	void *pools_dev;
	void *counters_imported;
	chi_gpu_ctx ctx;
};


uint32_t chi_gpu_count(const chi_client *c)
{
	return c->dir->ngpus;
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
	if (gpu >= c->dir->ngpus)
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
	chi_gpu_ctx *x = &gc->ctx;
	const chi_gpu_dir *d = gc->dir;
	rc = -EBUSY; /* S1: a free slice */
	for (uint32_t k = 0; k < d->nslices && k < CHI_GPU_MAX_SLICES && rc; k++) {
		uint32_t free_ = 0;
		if (__atomic_compare_exchange_n(&gc->dir->slice_owner[k], &free_, c->id, 0,
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
		chi_lane_shm *ls = (chi_lane_shm *)((char *)gc->dev_base + d->lanes_off);
		x->counters = &ls[0].ring[0].tail;
		x->cs_lane = sizeof(chi_lane_shm) / 8;
		x->cs_prio = sizeof(chi_ring_hdr) / 8;
	} else {
		if (c->rt && c->rt->gpu) /* the runtime's own process: its pointer */
			x->counters = ((chi_gpu_state *)c->rt->gpu)->segs[gpu].counters_dev;
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
	__atomic_store_n(&gc->dir->slice_owner[x->slice], 0, __ATOMIC_RELEASE);
fail_seg:
	chi_seg_close(&gc->seg);
fail:
	free(gc);
	return rc;
}

int chi_gpu_info_get(chi_client *c, uint32_t gpu, chi_gpu_info *out)
{
	if (gpu >= c->dir->ngpus)
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

/* S2: release the slice now if the rings' heads have passed `tails` (S4:
 * the claim counters as read at close; NULL if they could not be read),
 * nothing of it is queued and every worker leaves what it runs within
 * ~100 ms; otherwise leave it to the reaper. */
static void release_slice(chi_gpu_client *gc, const uint64_t *tails)
{
	chi_client *c = gc->c;
	uint32_t k = gc->ctx.slice, nw = c->dir->nworkers;
	const chi_worker_shm *ws = c->workers;
	uint64_t *seqs = calloc(CHI_SEQ_WORDS(nw ? nw : 1), sizeof(uint64_t));
	int done = 0;
	if (seqs && tails && chi_gpu_rings_passed(gc->dir, gc->seg.base, tails) &&
	    !chi_gpu_slice_busy(gc->dir, gc->seg.base, k, c->id)) {
		chi_workers_seq_snapshot(ws, nw, seqs);
		for (int i = 0; i < 1000 && !done; i++) {
			done = chi_workers_seq_moved(ws, nw, seqs);
			if (!done)
				usleep(100);
		}
	}
	free(seqs);
	/* words a kernel wrote before it failed to claim (a sticky error
	 * between Z2 and Z3) must not carry the mark into the next client's
	 * use (the reaper's release does the same) */
	if (done)
		chi_gpu_slice_zero_inboxes(gc->dir, (uint8_t *)gc->seg.base, k);
	__atomic_store_n(&gc->dir->slice_owner[k], done ? 0 : c->id | CHI_GPU_SLICE_RELEASING,
			 __ATOMIC_RELEASE);
}

void chi_gpu_client_close(chi_gpu_client *gc)
{
	if (!gc)
		return;
	/* S4: the claims made so far, read while the counters are mapped */
	uint64_t *tails = calloc((size_t)gc->dir->nlanes * CHI_NPRIO, sizeof(uint64_t));
	if (tails && chi_gpu_read_tails(gc->ops, gc->dir, gc->seg.base, gc->ctx.counters, tails)) {
		free(tails);
		tails = NULL;
	}
	gc->ops->dev_free((int)gc->ctx.gpu_id, gc->pools_dev);
	if (gc->counters_imported)
		gc->ops->dev_close(gc->counters_imported);
	gc->ops->host_unregister(gc->seg.base);
	release_slice(gc, tails);
	free(tails);
	chi_seg_close(&gc->seg);
	free(gc);
}
