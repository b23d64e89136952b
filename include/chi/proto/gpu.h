/* chi/proto/gpu.h: the per-GPU pinned segment and the state a GPU client
 * uses to submit from kernels.
 *
 * Segment /chi.<uid>.<name>.gpu.<g> (backend id 1000 + g), created by the
 * runtime, registered with cudaHostRegister(Portable | Mapped) in every
 * process that uses it:
 *   [chi_seg_hdr][chi_gpu_dir][lanes: chi_lane_shm x nlanes]
 *   [slots: nlanes x 2 x depth x 16 B]
 *   [future blocks: nlanes x depth x 256 B, lane l's at blocks_off + (l*depth+i)*256]
 *   [inboxes: nlanes x depth x 256 B, block b's at inbox_off + (b - blocks_off);
 *    sealed single-task entries travel there (seal.h)]
 *   [data blocks of class c (chi_gpu_dclass): nlanes x n x size each]
 * Each lane owns depth future blocks, so a lane never has more futures in
 * flight than ring slots: a producer that holds a block can claim a ticket
 * with fetch_add and publish without ever reading the slot (ring.h, GPU
 * flavour). The claim counters live in device memory (cudaMalloc by the
 * runtime, exported with cudaIpcGetMemHandle in `counters_ipc`).
 *
 * Slices (several GPU clients per GPU): each lane's future blocks are split
 * into `nslices` equal slices of `blk_per_slice` consecutive indices (each
 * data class likewise); slice k of every lane belongs
 * to the client whose id is in slice_owner[k] (gpu.clients slices, default
 * 4). Protocol of slice_owner[k]:
 *   S1 attach:  CAS 0 -> client id (acq_rel); the client then builds its
 *               pools over slice k only, so it never touches another
 *               client's blocks;
 *   S2 close:   the client CASes id -> id | CHI_GPU_SLICE_RELEASING (acq_rel;
 *               if that fails, the reaper already took the slice back) and
 *               never frees the slice itself; it then waits up to ~100 ms
 *               for the reaper to store 0 (S3), which with nothing of the
 *               slice in flight takes one monitor tick;
 *   S3 reaper:  for a RELEASING slice, or one whose owner is DEAD or CLOSED
 *               (src/runtime/reaper.c, the state machine of
 *               src/runtime/reclaim.h over the steps of
 *               src/gpu/gpu_slices.c): once no slot is PUBLISHED with a
 *               block of the slice or CLAIMED by the owner (its holes are
 *               skipped by the workers once it is dead), it snapshots the
 *               workers' task_seq; once each moved or is even, it stores 0.
 *               A client table entry becomes FREE (its id reusable) only
 *               after its slices are 0.
 *   S4 reaper:  before S3's scan, no slot between a ring's head and its
 *               claim counter (read once the owner was gone or its slice
 *               RELEASING) may be claimed without a mark
 *               (P2): such a slot names no client, and only S4 keeps the
 *               owner DEAD or CLOSED, whose unnamed holes the workers
 *               skip, until it is passed. The reaper also stores the
 *               counter it read in the ring header's `claimed` word, so a
 *               hole with nothing published behind it is seen as one
 *               (src/gpu/gpu_slices.c).
 * GPU producers mark the slot they claim with their client id (P2), so the
 * claimant of a hole is known as on CPU lanes.
 *
 * Who frees blocks: the client that took them, after it read the result.
 * Per-client pool state (chi_gpu_pool) lives in memory of that client (device
 * memory on a GPU): the free rings of block indices of its slice. */
#ifndef CHI_PROTO_GPU_H
#define CHI_PROTO_GPU_H

#include "atomic.h"
#include "future.h"
#include "lane.h"
#include "seal.h"
#include "segment.h"

#define CHI_GPU_MAX_SLICES 64u
#define CHI_GPU_SLICE_RELEASING 0x80000000u

/* Data blocks, for tasks whose serialized form passes the 192-byte copy
 * space, in classes of growing size: 4 KiB, 64 KiB, and big blocks that hold
 * a task of memory.max_task_size inputs and as many outputs. Class c of lane
 * l: n blocks of `size` bytes from off + l * n * size; slice k owns
 * per_slice of them from k * per_slice. A task takes one block of the
 * smallest class it fits that has blocks (docs/gpu.md). */
#define CHI_GPU_NCLASSES 3u
typedef struct chi_gpu_dclass {
	uint64_t off;
	uint64_t size;
	uint32_t n;         /* per lane (any count: each client's free ring is a power of two) */
	uint32_t per_slice; /* n / nslices (0: none for GPU clients) */
} chi_gpu_dclass;

typedef struct CHI_ALIGNAS(64) chi_gpu_dir {
	uint32_t gpu_id;
	uint32_t nlanes;
	uint32_t depth;
	uint32_t shift;
	uint64_t lanes_off;
	uint64_t slots_off;
	uint64_t blocks_off;
	uint64_t max_task_size;
	uint32_t counters_in_host; /* simulation: claim counters are the lanes' tail words */
	uint32_t nslices;          /* GPU clients at once (gpu.clients, <= depth) */
	uint8_t counters_ipc[64];  /* cudaIpcMemHandle_t of the claim counters */
	int32_t numa_node;         /* node the segment is bound to, -1: none (docs/numa.md) */
	char cpulist[64];          /* that node's CPUs as sysfs lists them ("" if none;
				      truncated if longer) */
	uint32_t blk_per_slice;    /* depth / nslices */
	uint32_t slice_owner[CHI_GPU_MAX_SLICES]; /* S1-S3: client id, | RELEASING, or 0 */
	uint64_t inbox_off;        /* the inboxes of sealed entries (seal.h) */
	chi_gpu_dclass dclass[CHI_GPU_NCLASSES];
} chi_gpu_dir;

/* The lanes' producer halves (chi/proto/lane.h) follow the lane records. */
static inline uint64_t chi_gpu_prods_off(const chi_gpu_dir *d)
{
	return d->lanes_off + (uint64_t)d->nlanes * sizeof(chi_lane_shm);
}

/* A free ring of block indices (one per lane and block class), with its
 * admission counter: the protocol (A1-A3, R1-R3, G1) is in
 * include/chi/gpu/pool.h. Each counter has a 128-byte line of its own
 * (thousands of GPU threads hit them). Only GPU threads touch the pools
 * (device memory): device-scope fences. */
typedef struct CHI_ALIGNAS(128) chi_gpu_pool {
	uint64_t avail; /* signed: blocks a taker may still claim */
	uint64_t pad0[15];
	uint64_t take;
	uint64_t pad1[15];
	uint64_t give;
	uint64_t pad2[15];
	uint64_t *ring;
	uint32_t mask;
	uint32_t shift;
	uint64_t pad3[14];
} chi_gpu_pool;

CHI_STATIC_ASSERT(sizeof(chi_gpu_pool) == 512, "pool: four 128-byte lines");
CHI_STATIC_ASSERT(offsetof(chi_gpu_pool, take) == 128, "pool: take's line");
CHI_STATIC_ASSERT(offsetof(chi_gpu_pool, give) == 256, "pool: give's line");

/* A lane's pools: ctx.pools[k * nlanes + lane], k = 0 for its future
 * blocks, 1 + c for data class c. */
#define CHI_GPU_NPOOLS (1u + CHI_GPU_NCLASSES)

/* What a kernel needs, passed by value (all pointers valid on the side that
 * submits: device pointers for a GPU, host pointers for CPU threads standing
 * in for one in the gpu_protocol tests). */
typedef struct chi_gpu_ctx {
	uint8_t *base;        /* the segment as the submitter addresses it */
	uint64_t *counters;   /* claim counter of (lane, prio) at lane*cs_lane + prio*cs_prio */
	chi_gpu_pool *pools;  /* CHI_GPU_NPOOLS x nlanes: future blocks, then each data class */
	const chi_seg_hdr *hdr;
	uint64_t epoch;
	uint32_t seg_id;
	uint32_t nlanes;
	uint32_t depth;
	uint32_t shift;
	uint64_t slots_off;
	uint64_t blocks_off;
	uint32_t client;
	uint32_t gpu_id;
	uint32_t cs_lane;
	uint32_t cs_prio;
	uint32_t slice;       /* this client's slice: */
	uint32_t blk_base;    /*   its future blocks are blk_base .. + blk_count - 1 of each lane */
	uint32_t blk_count;
	uint32_t pad;
	uint64_t inbox_off;   /* sealed entries' inboxes (seal.h) */
	uint64_t max_task;    /* memory.max_task_size: inputs or outputs beyond it: -EMSGSIZE */
	struct {              /* data class c (chi_gpu_dclass) as this client sees it: */
		uint64_t off;
		uint64_t size;
		uint32_t n;       /*   blocks per lane */
		uint32_t base;    /*   its blocks base .. base + count - 1 of each lane */
		uint32_t count;
		uint32_t pad;
	} dc[CHI_GPU_NCLASSES];
} chi_gpu_ctx;

/* Pinned: the directory is read by other processes, the context is built by
 * host C and passed by value to kernels compiled by nvcc. */
CHI_STATIC_ASSERT(sizeof(chi_gpu_dclass) == 24, "data class: 24 bytes");
CHI_STATIC_ASSERT(sizeof(chi_gpu_dir) == 576, "GPU directory: 576 bytes");
CHI_STATIC_ASSERT(offsetof(chi_gpu_dir, nlanes) == 4 && offsetof(chi_gpu_dir, lanes_off) == 16 &&
		  offsetof(chi_gpu_dir, blocks_off) == 32 && offsetof(chi_gpu_dir, max_task_size) == 40 &&
		  offsetof(chi_gpu_dir, nslices) == 52 && offsetof(chi_gpu_dir, counters_ipc) == 56,
		  "GPU directory: the words clients read");
CHI_STATIC_ASSERT(offsetof(chi_gpu_dir, slice_owner) == 192 &&
		  offsetof(chi_gpu_dir, inbox_off) == 448 && offsetof(chi_gpu_dir, dclass) == 456,
		  "GPU directory: slices (S1-S4) and data classes");
CHI_STATIC_ASSERT(sizeof(chi_gpu_ctx) == 216, "kernel context: 216 bytes");
CHI_STATIC_ASSERT(offsetof(chi_gpu_ctx, counters) == 8 && offsetof(chi_gpu_ctx, pools) == 16 &&
		  offsetof(chi_gpu_ctx, epoch) == 32 && offsetof(chi_gpu_ctx, client) == 72 &&
		  offsetof(chi_gpu_ctx, blk_base) == 92 && offsetof(chi_gpu_ctx, inbox_off) == 104 &&
		  offsetof(chi_gpu_ctx, max_task) == 112 && offsetof(chi_gpu_ctx, dc) == 120,
		  "kernel context: host C and nvcc agree");

#endif
