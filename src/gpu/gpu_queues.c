/* src/gpu/gpu_queues.c: chi_gpu_queues_init (one pinned segment per GPU
 * with its lanes and arena; layout in include/chi/proto/gpu.h) and the
 * descriptors of the GPU lanes, which the runtime turns into its workers'
 * lane references (src/runtime/runtime.c). Plain C: CUDA calls go through
 * chi_gpu_ops. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "chi/log.h"
#include "gpu/gpu.h"
#include "numa/numa.h"

#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uint64_t)(a) - 1))

static const chi_gpu_ops *cur_ops;

void chi_gpu_set_ops(const chi_gpu_ops *ops) { cur_ops = ops; }
const chi_gpu_ops *chi_gpu_get_ops(void) { return cur_ops; }

/* The NUMA node for GPU g's segment (docs/numa.md): gpu.numa (off, auto or
 * a node) and the node sysfs gives for the GPU's PCI bus id (backends
 * without pci_bus_id: none). Logs why there is no placement; fills `cpus` and
 * `cpulist` with the node's CPUs. Returns the node or -1 for no placement. */
static int choose_node(const chi_config *cfg, const chi_gpu_ops *ops, uint32_t g,
		       uint64_t cpus[CHI_GPU_CPUMASK_BITS / 64], char *cpulist, size_t len)
{
	const char *root = chi_numa_sysfs_root();
	char bus[64] = "", local[1024] = "", why[160] = "";
	int detected = -1;
	memset(cpus, 0, CHI_GPU_CPUMASK_BITS / 8);
	cpulist[0] = 0;
	if (cfg->gpu_numa == CHI_NUMA_OFF) {
		chi_log(CHI_LOG_INFO, "gpu %u: gpu.numa is off: no NUMA placement", g);
		return -1;
	}
	if (!ops->pci_bus_id) {
		snprintf(why, sizeof(why), "the %s backend gives no PCI bus id", ops->name);
	} else {
		int rc = ops->pci_bus_id((int)g, bus, sizeof(bus));
		if (!rc)
			rc = chi_numa_gpu_node(root, bus, &detected, local, sizeof(local));
		if (rc) {
			detected = -1;
			snprintf(why, sizeof(why), "no topology for PCI device '%s' under %s: %s",
				 bus, root, strerror(-rc));
		}
	}
	int node = chi_numa_resolve(cfg->gpu_numa, detected);
	if (node < 0) {
		if (why[0])
			chi_log(CHI_LOG_INFO, "gpu %u: no NUMA information (%s): no placement", g, why);
		else
			chi_log(CHI_LOG_INFO, "gpu %u: no NUMA information (node -1): no placement", g);
		return -1;
	}
	char list[1024];
	if (chi_numa_node_cpulist(root, node, list, sizeof(list))) {
		if (node == detected)
			snprintf(list, sizeof(list), "%s", local);
		else
			list[0] = 0;
	}
	cpu_set_t set;
	if (list[0] && !chi_numa_parse_cpulist(list, &set)) {
		for (int c = 0; c < CPU_SETSIZE && c < CHI_GPU_CPUMASK_BITS; c++)
			if (CPU_ISSET(c, &set))
				cpus[c / 64] |= 1ull << (c % 64);
	} else {
		list[0] = 0;
	}
	snprintf(cpulist, len, "%s", list);
	return node; /* make_segment logs it once it is bound */
}


/* gpu.queue_depth auto: a block for every thread of a kernel with 128
 * threads on each SM, spread over the lanes (a power of two, at least
 * runtime.queue_depth, at most 32768); runtime.queue_depth where the backend
 * cannot say (the simulated one). */
static uint32_t auto_depth(const chi_config *cfg, const chi_gpu_ops *ops, uint32_t g)
{
	uint32_t thr = ops->threads ? ops->threads((int)g) : 0, depth = cfg->queue_depth;
	uint32_t per_lane = (thr + cfg->gpu_lanes - 1) / cfg->gpu_lanes;
	while (depth < per_lane && depth < 32768)
		depth *= 2;
	return depth;
}

/* The data classes of a segment whose queues end at `q` (docs/gpu.md):
 * 4 KiB blocks, 64 KiB blocks and big blocks of a whole task of
 * memory.max_task_size inputs and outputs. gpu.segment_size auto (0): per
 * lane depth / 8 small blocks, 8 of 64 KiB and 2 big ones per GPU client,
 * and the segment is as large as that needs. A given size: the big blocks
 * (one per client and lane) if they fit in half of what the queues leave,
 * then up to depth / 8 small blocks in a quarter, then 64 KiB blocks in the
 * rest. Returns the segment's size. */
static uint64_t lay_classes(const chi_config *cfg, uint32_t nl, uint32_t depth, uint32_t nslices,
			    uint64_t q, chi_gpu_dclass dc[CHI_GPU_NCLASSES])
{
	const uint64_t size[CHI_GPU_NCLASSES] = {
		4096, 64 * 1024,
		ALIGN_UP(chi_task_wire_size((uint32_t)cfg->max_task_size, (uint32_t)cfg->max_task_size),
			 4096)};
	uint64_t n[CHI_GPU_NCLASSES];
	uint64_t total = cfg->gpu_segment_size;
	if (!total) {
		n[0] = depth / 8 > nslices ? depth / 8 : nslices;
		n[1] = (uint64_t)nslices * 8;
		n[2] = (uint64_t)nslices * 2;
		/* a big class past 1 GiB per lane (memory.max_task_size near its
		 * 1 GiB limit) is left out: such tasks cannot come from kernels */
		if (n[2] * size[2] > (1ull << 30))
			n[2] = 0;
	} else {
		uint64_t rem = total > q ? total - q : 0;
		n[2] = (uint64_t)nslices * nl * size[2] <= rem / 2 ? nslices : 0;
		rem -= n[2] * nl * size[2];
		n[0] = rem / 4 / ((uint64_t)nl * size[0]);
		if (n[0] > depth / 8)
			n[0] = depth / 8;
		rem -= n[0] * nl * size[0];
		n[1] = rem / ((uint64_t)nl * size[1]);
		if (n[1] > depth)
			n[1] = depth;
	}
	uint64_t at = q;
	for (uint32_t c = 0; c < CHI_GPU_NCLASSES; c++) {
		dc[c].size = size[c];
		dc[c].n = (uint32_t)n[c];
		dc[c].per_slice = dc[c].n / nslices;
		dc[c].off = at;
		at = ALIGN_UP(at + (uint64_t)nl * dc[c].n * dc[c].size, 4096);
	}
	return total ? total : at;
}

/* Lay out and create GPU g's segment. */
static int make_segment(const chi_config *cfg, uint64_t epoch, const chi_gpu_ops *ops, uint32_t g,
			chi_gpu_seg *gs)
{
	uint32_t nl = cfg->gpu_lanes;
	uint32_t depth = cfg->gpu_queue_depth ? cfg->gpu_queue_depth : auto_depth(cfg, ops, g);
	uint32_t nslices = cfg->gpu_clients ? cfg->gpu_clients : 1;
	if (nslices > depth)
		nslices = depth;
	uint64_t dir = ALIGN_UP(sizeof(chi_seg_hdr), 64);
	uint64_t lanes = ALIGN_UP(dir + sizeof(chi_gpu_dir), 64);
	uint64_t prods = lanes + (uint64_t)nl * sizeof(chi_lane_shm); /* chi_gpu_prods_off */
	uint64_t slots = ALIGN_UP(prods + (uint64_t)nl * sizeof(chi_lane_prod), 64);
	uint64_t blocks = ALIGN_UP(slots + (uint64_t)nl * CHI_NPRIO * depth * sizeof(chi_slot), 4096);
	uint64_t inbox = ALIGN_UP(blocks + (uint64_t)nl * depth * CHI_FUTURE_BLOCK, 4096);
	uint64_t data = ALIGN_UP(inbox + (uint64_t)nl * depth * CHI_SEAL_BYTES, 4096);
	gs->numa_node = -1;
	if (cfg->gpu_segment_size && data >= cfg->gpu_segment_size) {
		chi_log(CHI_LOG_ERROR, "gpu.segment_size %llu is too small for gpu.lanes %u x "
				       "gpu.queue_depth %u (%llu bytes before any data block)",
			(unsigned long long)cfg->gpu_segment_size, nl, depth,
			(unsigned long long)data);
		return -EINVAL;
	}
	chi_gpu_dclass dc[CHI_GPU_NCLASSES];
	uint64_t size = lay_classes(cfg, nl, depth, nslices, data, dc);
	char name[CHI_SEG_NAME_MAX];
	int rc = chi_shm_name(name, sizeof(name), cfg->name, "gpu", (int)g);
	if (rc)
		return rc;
	shm_unlink(name); /* a stale one of a dead runtime: the main segment was ours to take */
	char cpulist[sizeof(((chi_gpu_dir *)0)->cpulist)];
	int node = choose_node(cfg, ops, g, gs->cpus, cpulist, sizeof(cpulist)), prc = 0;
	/* bound before its first touch (the header write included) */
	rc = chi_seg_create_on_node(&gs->seg, name, size, CHI_SEG_ID_GPU_BASE + g,
				    CHI_SEG_KIND_GPU, epoch, cfg->name, node, &prc);
	if (rc)
		return rc;
	if (prc) { /* placement is an optimization: run unplaced */
		chi_log(CHI_LOG_WARN, "gpu %u: cannot bind its segment to NUMA node %d: %s: "
				      "no placement", g, node, strerror(-prc));
		node = -1;
		memset(gs->cpus, 0, sizeof(gs->cpus));
		cpulist[0] = 0;
	}
	if (node >= 0)
		chi_log(CHI_LOG_INFO, "gpu %u: NUMA node %d (cpus %s)%s", g, node,
			cpulist[0] ? cpulist : "unknown",
			cfg->gpu_numa >= 0 ? ", from gpu.numa" : "");
	gs->numa_node = node;
	char *base = gs->seg.base;
	chi_gpu_dir *d = (chi_gpu_dir *)(base + dir);
	d->numa_node = node;
	memcpy(d->cpulist, cpulist, sizeof(d->cpulist));
	d->gpu_id = g;
	d->nlanes = nl;
	d->depth = depth;
	d->shift = chi_log2_u32(depth);
	d->lanes_off = lanes;
	d->slots_off = slots;
	d->blocks_off = blocks;
	memcpy(d->dclass, dc, sizeof(dc));
	d->inbox_off = inbox;
	d->max_task_size = cfg->max_task_size;
	/* slices: gpu.clients GPU clients at once, each with an equal share */
	d->nslices = nslices;
	d->blk_per_slice = depth / d->nslices;
	chi_lane_shm *ls = (chi_lane_shm *)(base + lanes);
	for (uint32_t l = 0; l < nl; l++) {
		ls[l].depth = depth;
		ls[l].shift = d->shift;
		ls[l].id = l;
		for (uint32_t p = 0; p < CHI_NPRIO; p++)
			ls[l].slots[p] = chi_offptr_make(CHI_SEG_ID_GPU_BASE + g,
				slots + ((uint64_t)l * CHI_NPRIO + p) * depth * sizeof(chi_slot));
	}
	if (ops->sim) {
		d->counters_in_host = 1; /* the lanes' own tail words */
	} else {
		rc = ops->dev_alloc((int)g, (uint64_t)nl * CHI_NPRIO * sizeof(uint64_t), &gs->counters_dev);
		if (!rc)
			rc = ops->dev_export(gs->counters_dev, d->counters_ipc);
		if (rc) {
			chi_seg_close(&gs->seg);
			return rc;
		}
	}
	gs->reap_tails = calloc((size_t)d->nslices * nl * CHI_NPRIO, sizeof(uint64_t));
	if (!gs->reap_tails) {
		if (gs->counters_dev)
			ops->dev_free((int)g, gs->counters_dev);
		chi_seg_close(&gs->seg);
		return -ENOMEM;
	}
	gs->dir = d;
	gs->lay = *d;
	chi_seg_hdr_of(&gs->seg)->dir_off = dir;
	return 0;
}

uint32_t chi_gpu_planned_lanes(const chi_config *cfg)
{
	char why[160];
	if (cfg->gpu_enabled == CHI_OFF || !cur_ops)
		return 0;
	int n = cur_ops->count(why, sizeof(why));
	return n > 0 ? (uint32_t)n * cfg->gpu_lanes : 0;
}

int chi_gpu_queues_init(const chi_config *cfg, uint64_t epoch, uint32_t max_lanes,
			chi_gpu_state **out)
{
	const chi_gpu_ops *ops = cur_ops;
	char why[160] = "built without a GPU backend";
	*out = NULL;
	if (cfg->gpu_enabled == CHI_OFF) {
		chi_log(CHI_LOG_INFO, "gpu.enabled is off: no GPU queues");
		return 0;
	}
	int n = ops ? ops->count(why, sizeof(why)) : 0;
	if (n <= 0) {
		if (cfg->gpu_enabled == CHI_ON || ops)
			chi_log(cfg->gpu_enabled == CHI_ON ? CHI_LOG_WARN : CHI_LOG_INFO,
				"no GPU queues: %s", why);
		return 0;
	}
	if ((uint64_t)n * cfg->gpu_lanes > max_lanes)
		return -E2BIG;
	chi_gpu_state *st = calloc(1, sizeof(*st) + (size_t)n * sizeof(chi_gpu_seg));
	if (!st)
		return -ENOMEM;
	st->ops = ops;
	for (uint32_t g = 0; g < (uint32_t)n; g++) {
		int rc = make_segment(cfg, epoch, ops, g, &st->segs[g]);
		if (rc) {
			st->n = g;
			chi_gpu_queues_fini(st);
			return rc;
		}
		st->n = g + 1;
		chi_gpu_seg *gs = &st->segs[g];
		const chi_gpu_dclass *c = gs->dir->dclass;
		chi_log(CHI_LOG_INFO, "gpu %u: queue segment %s (backend id %u, %s, %llu MiB), "
				      "%u lane(s) x 2, depth %u; %u GPU client(s) at once, each with, "
				      "per lane, %u future blocks and %u + %u + %u data blocks of "
				      "4 KiB, 64 KiB and %llu KiB",
			g, gs->seg.name, CHI_SEG_ID_GPU_BASE + g, ops->name,
			(unsigned long long)(gs->seg.size >> 20), gs->dir->nlanes, gs->dir->depth,
			gs->dir->nslices, gs->dir->blk_per_slice, c[0].per_slice, c[1].per_slice,
			c[2].per_slice, (unsigned long long)(c[2].size >> 10));
	}
	*out = st;
	return 0;
}

uint32_t chi_gpu_nlanes(const chi_gpu_state *st)
{
	uint32_t n = 0;
	for (uint32_t g = 0; st && g < st->n; g++)
		n += st->segs[g].lay.nlanes;
	return n;
}

void chi_gpu_lane_desc_get(const chi_gpu_state *st, uint32_t i, chi_gpu_lane_desc *out)
{
	uint32_t g = 0;
	while (i >= st->segs[g].lay.nlanes)
		i -= st->segs[g++].lay.nlanes;
	const chi_gpu_seg *gs = &st->segs[g];
	const chi_gpu_dir *d = &gs->lay;
	chi_lane_shm *ls = (chi_lane_shm *)((char *)gs->seg.base + d->lanes_off);
	memset(out, 0, sizeof(*out));
	out->shm = &ls[i];
	out->prod = (chi_lane_prod *)((char *)gs->seg.base + chi_gpu_prods_off(d)) + i;
	out->base = gs->seg.base;
	out->size = gs->seg.size;
	out->seg_id = CHI_SEG_ID_GPU_BASE + g;
	out->index = i;
	out->seal.base = (uint8_t *)gs->seg.base;
	out->seal.blocks_off = d->blocks_off + (uint64_t)i * d->depth * CHI_FUTURE_BLOCK;
	out->seal.blocks_end = out->seal.blocks_off + (uint64_t)d->depth * CHI_FUTURE_BLOCK;
	out->seal.inbox_delta = d->inbox_off - d->blocks_off;
	out->seal.seg_id = CHI_SEG_ID_GPU_BASE + g;
	out->seal.lane = i;
	out->seal.shm = &ls[i];
}

void chi_gpu_queues_heartbeat(chi_gpu_state *st)
{
	for (uint32_t g = 0; st && g < st->n; g++) {
		chi_seg_hdr *h = chi_seg_hdr_of(&st->segs[g].seg);
		__atomic_store_n(&h->alive, h->alive + 1, __ATOMIC_RELEASE);
	}
}

void chi_gpu_queues_fini(chi_gpu_state *st)
{
	if (!st)
		return;
	for (uint32_t g = 0; g < st->n; g++) {
		chi_gpu_seg *gs = &st->segs[g];
		__atomic_store_n(&chi_seg_hdr_of(&gs->seg)->stopping, CHI_STOP_DRAINED, __ATOMIC_RELEASE);
		if (gs->counters_dev)
			st->ops->dev_free((int)g, gs->counters_dev);
		free(gs->reap_tails);
		chi_seg_close(&gs->seg);
	}
	free(st);
}
