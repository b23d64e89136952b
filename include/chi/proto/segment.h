/* chi/proto/segment.h: the header at offset 0 of every chi shared-memory
 * segment (main, client data, per-GPU pinned).
 *
 * The creator fills every field, then stores `magic` last with release (S1);
 * an attacher loads magic with acquire (S2, pairs with S1) before trusting
 * the rest. `epoch` is a 64-bit value new at every runtime start; clients
 * copy it at attach, and a mismatch later means the runtime restarted.
 * `alive` is the runtime's heartbeat: bumped by the runtime's monitor thread,
 * read by clients (and GPU kernels) that wait, so they can tell a dead runtime
 * from a slow one: a GPU kernel's wait gives up (-EOWNERDEAD) once `alive`
 * has not moved for CHI_GPU_HEARTBEAT_NS. `stopping` is set when the
 * runtime begins an orderly stop (CPU submitters are refused from then on;
 * GPU kernels are not told, see src/runtime/worker.c on the drain). */
#ifndef CHI_PROTO_SEGMENT_H
#define CHI_PROTO_SEGMENT_H

#include "defs.h"

#define CHI_SEG_MAGIC 0x3147455349484345ull /* "ECHISEG1" */
#define CHI_LAYOUT_VERSION 1u
/* how long a GPU-side wait trusts a heartbeat that does not move */
#define CHI_GPU_HEARTBEAT_NS (2000000000ull)

typedef struct CHI_ALIGNAS(64) chi_seg_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t seg_id;
	uint64_t size;
	uint64_t epoch;
	int32_t owner_pid;
	uint32_t kind;
	uint64_t created_ns;
	uint64_t alive;		/* heartbeat counter */
	uint32_t stopping;
	uint32_t ready;		/* main segment: 1 once clients may connect (S3) */
	char name[64];
	/* allocator state follows (src/shm/alloc.h), then the segment's
	 * directory (kind-specific) at dir_off */
	uint64_t dir_off;
	uint64_t alloc_off;
} chi_seg_hdr;

/* stopping: 0 running, 1 refusing new tasks and draining, 2 drained */
#define CHI_STOP_DRAINING 1u
#define CHI_STOP_DRAINED 2u

#define CHI_SEG_KIND_MAIN 1u
#define CHI_SEG_KIND_DATA 2u
#define CHI_SEG_KIND_GPU 3u

#endif
