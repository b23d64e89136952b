/* src/gpu/gpu_queues.c: chi_server_init_gpu_queues (one pinned segment per
 * GPU with its lanes and arena; layout in include/chi/proto/gpu.h), the GPU
 * lanes' place among the workers' lanes, and client attach (the context a
 * kernel submits with). Plain C: CUDA calls go through chi_gpu_ops. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "gpu/gpu.h"
#include "ipc/client.h"
#include "numa/numa.h"
#include "queue/lane.h"
#include "runtime/runtime.h"

#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uint64_t)(a) - 1))

/* ---- simulated GPUs: host memory, for CPU-thread tests ---- */
static uint32_t sim_count;
static int sim_count_fn(char *why, size_t len)
{
	snprintf(why, len, "simulated");
	return (int)sim_count;
}
static int sim_register(void *base, uint64_t size, void **dev)
{
	(void)size;
	*dev = base;
	return 0;
}
static void sim_unregister(void *base) { (void)base; }
static int sim_alloc(int gpu, uint64_t bytes, void **dev)
{
	(void)gpu;
	*dev = calloc(1, bytes);
	return *dev ? 0 : -ENOMEM;
}
static void sim_free(int gpu, void *dev)
{
	(void)gpu;
	free(dev);
}
static int sim_copy(void *dst, const void *src, uint64_t n)
{
	memcpy(dst, src, n);
	return 0;
}
static const chi_gpu_ops sim_ops = {"simulated", 1, sim_count_fn, sim_register, sim_unregister,
				    sim_alloc, sim_free, NULL, NULL, NULL, sim_copy, NULL, NULL};

/* simulated PCI bus ids (chi_gpu_simulate_pci): the same ops plus pci_bus_id */
#define SIM_PCI_MAX 64
static char sim_pci[SIM_PCI_MAX][32];
static int sim_pci_fn(int gpu, char *buf, size_t len)
{
	if (gpu < 0 || gpu >= SIM_PCI_MAX || !sim_pci[gpu][0])
		return -ENODEV;
	int n = snprintf(buf, len, "%s", sim_pci[gpu]);
	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}
static const chi_gpu_ops sim_pci_ops = {"simulated", 1, sim_count_fn, sim_register,
					sim_unregister, sim_alloc, sim_free, NULL, NULL, NULL,
					sim_copy, sim_pci_fn, NULL};

static const chi_gpu_ops *cur_ops;

void chi_gpu_set_ops(const chi_gpu_ops *ops) { cur_ops = ops; }
const chi_gpu_ops *chi_gpu_get_ops(void) { return cur_ops; }

void chi_gpu_simulate(uint32_t ngpus)
{
	sim_count = ngpus;
	cur_ops = ngpus ? &sim_ops : NULL;
	memset(sim_pci, 0, sizeof(sim_pci));
}

void chi_gpu_simulate_pci(uint32_t gpu, const char *busid)
{
	if (gpu >= SIM_PCI_MAX)
		return;
	snprintf(sim_pci[gpu], sizeof(sim_pci[gpu]), "%s", busid ? busid : "");
	if (cur_ops == &sim_ops)
		cur_ops = &sim_pci_ops;
}

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
		fprintf(stderr, "chi: gpu %u: gpu.numa is off: no NUMA placement\n", g);
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
			fprintf(stderr, "chi: gpu %u: no NUMA information (%s): no placement\n", g, why);
		else
			fprintf(stderr, "chi: gpu %u: no NUMA information (node -1): no placement\n", g);
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


/* Lay out and create GPU g's segment. */
static int make_segment(chi_runtime *rt, const chi_gpu_ops *ops, uint32_t g, chi_gpu_seg *gs)
{
	const chi_config *cfg = &rt->cfg;
	uint32_t nl = cfg->gpu_lanes, depth = cfg->gpu_queue_depth ? cfg->gpu_queue_depth
								   : cfg->queue_depth;
	uint64_t dir = ALIGN_UP(sizeof(chi_seg_hdr), 64);
	uint64_t lanes = ALIGN_UP(dir + sizeof(chi_gpu_dir), 64);
	uint64_t slots = ALIGN_UP(lanes + (uint64_t)nl * sizeof(chi_lane_shm), 64);
	uint64_t blocks = ALIGN_UP(slots + (uint64_t)nl * CHI_NPRIO * depth * sizeof(chi_slot), 4096);
	uint64_t inbox = ALIGN_UP(blocks + (uint64_t)nl * depth * CHI_FUTURE_BLOCK, 4096);
	uint64_t data = ALIGN_UP(inbox + (uint64_t)nl * depth * CHI_SEAL_BYTES, 4096);
	uint64_t size = cfg->gpu_segment_size;
	gs->numa_node = -1;
	if (data >= size) {
		fprintf(stderr, "chi: gpu.segment_size %llu is too small for gpu.lanes %u x "
				"gpu.queue_depth %u\n", (unsigned long long)size, nl, depth);
		return -EINVAL;
	}
	uint64_t ndata = (size - data) / ((uint64_t)nl * CHI_GPU_DATA_BLOCK);
	if (ndata > depth)
		ndata = depth;
	if (ndata) { /* a power of two: the free rings index with a mask */
		uint32_t p = 1;
		while ((uint64_t)p * 2 <= ndata)
			p *= 2;
		ndata = p;
	}
	char name[CHI_SEG_NAME_MAX];
	int rc = chi_shm_name(name, sizeof(name), cfg->name, "gpu", (int)g);
	if (rc)
		return rc;
	shm_unlink(name); /* a stale one of a dead runtime: the main segment was ours to take */
	char cpulist[sizeof(((chi_gpu_dir *)0)->cpulist)];
	int node = choose_node(cfg, ops, g, gs->cpus, cpulist, sizeof(cpulist)), prc = 0;
	/* bound before its first touch (the header write included) */
	rc = chi_seg_create_on_node(&gs->seg, name, size, CHI_SEG_ID_GPU_BASE + g,
				    CHI_SEG_KIND_GPU, rt->epoch, cfg->name, node, &prc);
	if (rc)
		return rc;
	if (prc) { /* placement is an optimization: run unplaced */
		fprintf(stderr, "chi: gpu %u: cannot bind its segment to NUMA node %d: %s: "
				"no placement\n", g, node, strerror(-prc));
		node = -1;
		memset(gs->cpus, 0, sizeof(gs->cpus));
		cpulist[0] = 0;
	}
	if (node >= 0)
		fprintf(stderr, "chi: gpu %u: NUMA node %d (cpus %s)%s\n", g, node,
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
	d->ndata = (uint32_t)ndata;
	d->data_size = CHI_GPU_DATA_BLOCK;
	d->lanes_off = lanes;
	d->slots_off = slots;
	d->blocks_off = blocks;
	d->data_off = data;
	d->inbox_off = inbox;
	d->max_task_size = cfg->max_task_size;
	/* slices: gpu.clients GPU clients at once, each with an equal share */
	d->nslices = cfg->gpu_clients ? cfg->gpu_clients : 1;
	if (d->nslices > depth)
		d->nslices = depth;
	d->blk_per_slice = depth / d->nslices;
	d->data_per_slice = (uint32_t)ndata / d->nslices;
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
	gs->reap_seqs = calloc((size_t)d->nslices * CHI_SEQ_WORDS(cfg->num_workers ? cfg->num_workers : 1),
			       sizeof(uint64_t));
	gs->reap_tails = calloc((size_t)d->nslices * nl * CHI_NPRIO, sizeof(uint64_t));
	if (!gs->reap_seqs || !gs->reap_tails) {
		free(gs->reap_seqs);
		free(gs->reap_tails);
		if (gs->counters_dev)
			ops->dev_free((int)g, gs->counters_dev);
		chi_seg_close(&gs->seg);
		return -ENOMEM;
	}
	gs->dir = d;
	chi_seg_hdr_of(&gs->seg)->dir_off = dir;
	return 0;
}

int chi_server_init_gpu_queues(chi_runtime *rt)
{
	const chi_gpu_ops *ops = cur_ops;
	char why[160] = "built without a GPU backend";
	if (rt->cfg.gpu_enabled == CHI_OFF) {
		fprintf(stderr, "chi: gpu.enabled is off: no GPU queues\n");
		return 0;
	}
	int n = ops ? ops->count(why, sizeof(why)) : 0;
	if (n <= 0) {
		if (rt->cfg.gpu_enabled == CHI_ON || ops)
			fprintf(stderr, "chi: no GPU queues: %s\n", why);
		return 0;
	}
	if (rt->nlane_refs + (uint64_t)n * rt->cfg.gpu_lanes > CHI_MAX_LANE_REFS)
		return -E2BIG;
	chi_gpu_state *st = calloc(1, sizeof(*st) + (size_t)n * sizeof(chi_gpu_seg));
	if (!st)
		return -ENOMEM;
	st->ops = ops;
	for (uint32_t g = 0; g < (uint32_t)n; g++) {
		int rc = make_segment(rt, ops, g, &st->segs[g]);
		if (rc) {
			st->n = g;
			rt->gpu = st;
			chi_gpu_queues_fini(rt);
			return rc;
		}
		st->n = g + 1;
		chi_gpu_seg *gs = &st->segs[g];
		chi_lane_shm *ls = (chi_lane_shm *)((char *)gs->seg.base + gs->dir->lanes_off);
		for (uint32_t l = 0; l < gs->dir->nlanes; l++) {
			chi_lane_ref *lr = &rt->lane_refs[rt->nlane_refs++];
			lr->shm = &ls[l];
			chi_lane_views(gs->seg.base, &ls[l], lr->v);
			lr->base = gs->seg.base;
			lr->size = gs->seg.size;
			lr->seg_id = CHI_SEG_ID_GPU_BASE + g;
			lr->gpu = 1;
			lr->index = l;
			lr->seal.base = (uint8_t *)gs->seg.base;
			lr->seal.blocks_off = gs->dir->blocks_off + (uint64_t)l * gs->dir->depth *
									CHI_FUTURE_BLOCK;
			lr->seal.blocks_end = lr->seal.blocks_off + (uint64_t)gs->dir->depth *
									CHI_FUTURE_BLOCK;
			lr->seal.inbox_delta = gs->dir->inbox_off - gs->dir->blocks_off;
			lr->seal.seg_id = CHI_SEG_ID_GPU_BASE + g;
			lr->seal.lane = l;
			lr->seal.shm = &ls[l];
		}
		fprintf(stderr, "chi: gpu %u: queue segment %s (backend id %u, %s), %u lane(s) x 2, "
				"depth %u, %u data blocks of %u KiB per lane; %u GPU client(s) at once, "
				"%u future and %u data blocks per lane each\n",
			g, gs->seg.name, CHI_SEG_ID_GPU_BASE + g, ops->name, gs->dir->nlanes,
			gs->dir->depth, gs->dir->ndata, gs->dir->data_size >> 10, gs->dir->nslices,
			gs->dir->blk_per_slice, gs->dir->data_per_slice);
	}
	rt->gpu = st;
	rt->dir->ngpus = st->n;
	return 0;
}

void chi_gpu_queues_heartbeat(chi_runtime *rt)
{
	chi_gpu_state *st = rt->gpu;
	for (uint32_t g = 0; st && g < st->n; g++) {
		chi_seg_hdr *h = chi_seg_hdr_of(&st->segs[g].seg);
		__atomic_store_n(&h->alive, h->alive + 1, __ATOMIC_RELEASE);
	}
}

void chi_gpu_queues_fini(chi_runtime *rt)
{
	chi_gpu_state *st = rt->gpu;
	if (!st)
		return;
	for (uint32_t g = 0; g < st->n; g++) {
		chi_gpu_seg *gs = &st->segs[g];
		__atomic_store_n(&chi_seg_hdr_of(&gs->seg)->stopping, CHI_STOP_DRAINED, __ATOMIC_RELEASE);
		if (gs->counters_dev)
			st->ops->dev_free((int)g, gs->counters_dev);
		free(gs->reap_seqs);
		free(gs->reap_tails);
		chi_seg_close(&gs->seg);
	}
	free(st);
	rt->gpu = NULL;
}
