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
	chi_gpu_dir *dir;
	void *counters_dev; /* device claim counters (runtime's pointer) */
	int numa_node;      /* node the segment is bound to, -1: none (docs/numa.md) */
	uint64_t cpus[CHI_GPU_CPUMASK_BITS / 64]; /* that node's CPUs, bit c = CPU c */
	uint8_t reap_pending[CHI_GPU_MAX_SLICES]; /* gpu_slices.c: its steps */
	int claims_unread;    /* S4: a claim counter read failed (logged once) */
	uint64_t *reap_seqs;  /* nslices x workers */
	uint64_t *reap_tails; /* nslices x lanes x CHI_NPRIO: claim counters */
} chi_gpu_seg;

typedef struct chi_gpu_state {
	const chi_gpu_ops *ops;
	uint32_t n;
	chi_gpu_seg segs[];
} chi_gpu_state;

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
