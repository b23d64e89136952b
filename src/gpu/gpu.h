/* src/gpu/gpu.h: the GPU backend seam. The runtime and clients talk to GPUs
 * only through chi_gpu_ops, so the library builds and runs without CUDA:
 *   - none: no backend (a build without CUDA, or one that did not enable it):
 *     0 GPUs, logged;
 *   - sim: N simulated GPUs in host memory (chi_gpu_simulate), so CI drives
 *     the GPU lane code from CPU threads (ctest label gpu_protocol);
 *   - cuda: src/gpu/cuda_backend.cu, enabled by chi_gpu_cuda_enable() from
 *     libchi_gpu. */
#ifndef CHI_SRC_GPU_H
#define CHI_SRC_GPU_H

#include "chi/chi.h"
#include "chi/proto/gpu.h"
#include "queue/seal.h"
#include "shm/shm.h"

typedef struct chi_gpu_ops {
	const char *name;
	int sim;                                /* host memory stands in for the device */
	int (*count)(char *why, size_t len);    /* GPUs visible (0 with a reason) */
	int (*host_register)(void *base, uint64_t size, void **dev);
	void (*host_unregister)(void *base);
	int (*dev_alloc)(int gpu, uint64_t bytes, void **dev); /* zeroed */
	void (*dev_free)(int gpu, void *dev);
	int (*dev_export)(void *dev, uint8_t handle[64]);
	int (*dev_import)(int gpu, const uint8_t handle[64], void **dev);
	void (*dev_close)(void *dev);
	int (*copy_to_dev)(void *dst, const void *src, uint64_t n);
	/* optional (NULL: no NUMA detection): the GPU's PCI bus id, e.g.
	 * "0000:3B:00.0" (src/numa/ normalizes it) */
	int (*pci_bus_id)(int gpu, char *buf, size_t len);
	/* device claim counters read back (NULL where they live in host
	 * memory: the simulated backend) */
	int (*copy_from_dev)(int gpu, void *dst, const void *src, uint64_t n);
	/* optional (NULL: unknown): threads the GPU runs at once with the
	 * kernel shape chi sizes its defaults for (SMs x 128), gpu.queue_depth
	 * auto (docs/gpu.md) */
	uint32_t (*threads)(int gpu);
} chi_gpu_ops;

void chi_gpu_set_ops(const chi_gpu_ops *ops);
const chi_gpu_ops *chi_gpu_get_ops(void);
/* Tests: give simulated GPU `gpu` a PCI bus id (NULL clears it), so NUMA
 * detection runs against a fake sysfs tree (chi_numa_set_sysfs_root). Call
 * after chi_gpu_simulate, which clears them all. */
void chi_gpu_simulate_pci(uint32_t gpu, const char *busid);

#define CHI_GPU_CPUMASK_BITS 1024

typedef struct chi_gpu_seg {
	chi_seg seg;
	chi_gpu_dir *dir;   /* in the segment: clients (and kernels) can write it */
	chi_gpu_dir lay;    /* the runtime's copy, taken when it built the
			     * directory: every layout value the runtime uses
			     * comes from here (docs/reliability.md, item 3) */
	void *counters_dev; /* device claim counters (runtime's pointer) */
	int numa_node;      /* node the segment is bound to, -1: none (docs/numa.md) */
	uint64_t cpus[CHI_GPU_CPUMASK_BITS / 64]; /* that node's CPUs, bit c = CPU c */
	int claims_unread;    /* S4: a claim counter read failed (logged once) */
	uint64_t *reap_tails; /* nslices x lanes x CHI_NPRIO: claim counters
			       * read when the slice's owner was gone (S4) */
} chi_gpu_seg;

typedef struct chi_gpu_state {
	const chi_gpu_ops *ops;
	uint32_t n;
	chi_gpu_seg segs[];
} chi_gpu_state;

/* ---- what the runtime calls (the GPU layer calls nothing above it) ---- */

/* GPU queues (gpu_queues.c): one pinned segment per GPU, laid out for cfg.
 * *out: NULL when GPU queues are off or no GPU is seen (logged), else the
 * state; -E2BIG if they would make more than max_lanes lanes. */
int chi_gpu_queues_init(const chi_config *cfg, uint64_t epoch, uint32_t max_lanes,
			chi_gpu_state **out);
/* GPU lanes chi_gpu_queues_init will make under cfg (GPUs seen x
 * gpu.lanes; 0 when GPU queues are off or no GPU is seen): for
 * runtime.num_workers auto. */
uint32_t chi_gpu_planned_lanes(const chi_config *cfg);
void chi_gpu_queues_heartbeat(chi_gpu_state *st);
void chi_gpu_queues_fini(chi_gpu_state *st);

/* A GPU lane as the runtime's workers poll it: runtime.c turns each into a
 * lane reference. */
typedef struct chi_gpu_lane_desc {
	chi_lane_shm *shm;
	chi_lane_prod *prod;
	char *base;         /* this process's mapping of the GPU's segment */
	uint64_t size;
	uint32_t seg_id;    /* CHI_SEG_ID_GPU_BASE + gpu id */
	uint32_t index;     /* lane of its GPU */
	chi_seal_lane seal; /* its blocks and inboxes, for sealed entries */
} chi_gpu_lane_desc;
/* Lanes of all GPUs, and the i-th of them (GPU 0's first). */
uint32_t chi_gpu_nlanes(const chi_gpu_state *st);
void chi_gpu_lane_desc_get(const chi_gpu_state *st, uint32_t i, chi_gpu_lane_desc *out);

/* Slices of gone owners, released by the runtime's reaper
 * (src/runtime/reclaim.h runs the state machine; gpu_slices.c gives the
 * GPU-specific steps). Slices of GPU g, and the owner word of slice k (0
 * free, else the client id, | CHI_GPU_SLICE_RELEASING once it closed). */
uint32_t chi_gpu_nslices(const chi_gpu_state *st, uint32_t g);
uint32_t chi_gpu_slice_owner(const chi_gpu_state *st, uint32_t g, uint32_t k);
/* S4: the claim counters as now (kept for chi_gpu_slice_drained and
 * stored in the rings' `claimed` words for the workers' hole check). */
void chi_gpu_slice_read_claims(chi_gpu_state *st, uint32_t g, uint32_t k);
/* Every ring's head passed those claims (S4) and no slot refers to slice k
 * of client id any more (chi_gpu_slice_busy)? */
int chi_gpu_slice_drained(chi_gpu_state *st, uint32_t g, uint32_t k, uint32_t id);
/* Hand the slice back: its inboxes zeroed, then owner 0 (release). */
void chi_gpu_slice_free(chi_gpu_state *st, uint32_t g, uint32_t k);
/* Does client id still hold (or release) a slice of some GPU? */
int chi_gpu_slices_held(const chi_gpu_state *st, uint32_t id);
/* Is a slice of client id being released (its GPU client closed, S3)? Its
 * process may live on with its CPU client open. */
int chi_gpu_slices_releasing(const chi_gpu_state *st, uint32_t id);

/* Slices (include/chi/proto/gpu.h, S1-S3; src/gpu/gpu_slices.c). Does any
 * slot of the segment at `base` still refer to slice k of client `id`: one
 * PUBLISHED with a block of the slice, or one CLAIMED by id? */
int chi_gpu_slice_busy(const chi_gpu_dir *d, const uint8_t *base, uint32_t k, uint32_t id);
/* Zero the inboxes of slice k's blocks in every lane (before the slice goes
 * to another client: no stale marked word may pass for a new one). */
void chi_gpu_slice_zero_inboxes(const chi_gpu_dir *d, uint8_t *base, uint32_t k);
/* S4 (gpu_slices.c): every ring's claim counter, tails[lane * CHI_NPRIO +
 * prio], from `counters` (device memory, or with counters_in_host the
 * lanes' tail words in the segment at `base`). 0 or the backend's error. */
int chi_gpu_read_tails(const chi_gpu_ops *ops, const chi_gpu_dir *d, const uint8_t *base,
		       const void *counters, uint64_t *tails);
/* S4: no claim below tails (chi_gpu_read_tails) that every ring's head has
 * not passed names no client (claimed, never marked)? */
int chi_gpu_rings_passed(const chi_gpu_dir *d, const uint8_t *base, const uint64_t *tails);

#endif
