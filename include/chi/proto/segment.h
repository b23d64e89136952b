/* chi/proto/segment.h: the header at offset 0 of every chi shared-memory
 * segment (the main one, CHI_SEG_KIND_MAIN, and the per-GPU pinned ones,
 * CHI_SEG_KIND_GPU).
 *
 * The creator (chi_seg_create, src/shm/segment.c) fills the identity fields
 * (version, seg_id, size, epoch, owner_pid, kind, created_ns, name; the
 * others start at 0), then stores `magic` last with release (SG1); an
 * attacher loads magic with acquire (SG2, pairs with SG1) before trusting
 * them. `dir_off` and `alloc_off` are set later, once the directory is
 * built: the main segment stores dir_off last with release (SG3,
 * src/runtime/runtime.c), and a client waits for it with acquire
 * (src/ipc/client.c); a GPU segment's is published by `ready` of the main
 * segment (SG4), which clients wait for before they open GPU queues.
 * `epoch` is a 64-bit value new at every runtime start; clients
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
/* Bumped when a layout or a wire format that processes of different builds
 * share changes; attaching to a segment of another version is -EPROTO.
 * 2: admin.stats answers in pages; future flags STARTED / ABANDONED (FA1-FA3)
 * 3: the main segment's runtime pages and wake words (RO1, src/ipc/layout.h)
 * 4: a page per client-table entry (RO2, src/ipc/layout.h)
 * 5: a lane's record split in the producers' half and the runtime's (RO3,
 *    chi/proto/lane.h); clients ask the runtime for arena chunks (K5,
 *    src/ipc/chunk.c: chunk_req, chunk_got, the header's chunk_wake) */
#define CHI_LAYOUT_VERSION 5u
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
	uint32_t ready;		/* main segment: 1 once clients may connect (SG4) */
	char name[64];
	/* the segment's directory (kind-specific: chi_main_dir in
	 * src/ipc/layout.h, chi_gpu_dir in proto/gpu.h); 0 until it is built */
	uint64_t dir_off;
	/* the segment's allocator header (chi_alloc_hdr, src/shm/shm.h; the
	 * allocator is src/shm/alloc.c): in the main segment the directory's
	 * first member, so alloc_off == dir_off; 0 in GPU segments, which have
	 * no allocator */
	uint64_t alloc_off;
	/* main segment: bumped (then FUTEX_WAKE) by a client that asks the
	 * runtime for an arena chunk (K5, src/ipc/chunk.c); its monitor thread
	 * waits on it between ticks */
	uint32_t chunk_wake;
	uint32_t pad0;
} chi_seg_hdr;
/* Other processes (clients, `chi status` and `chi cleanup`) and GPU kernels
 * read this header: its layout is fixed. */
CHI_STATIC_ASSERT(offsetof(chi_seg_hdr, magic) == 0, "seg hdr: magic");
CHI_STATIC_ASSERT(offsetof(chi_seg_hdr, version) == 8, "seg hdr: version");
CHI_STATIC_ASSERT(offsetof(chi_seg_hdr, seg_id) == 12, "seg hdr: seg_id");
CHI_STATIC_ASSERT(offsetof(chi_seg_hdr, size) == 16, "seg hdr: size");
CHI_STATIC_ASSERT(offsetof(chi_seg_hdr, epoch) == 24, "seg hdr: epoch");
CHI_STATIC_ASSERT(offsetof(chi_seg_hdr, owner_pid) == 32, "seg hdr: owner_pid");
CHI_STATIC_ASSERT(offsetof(chi_seg_hdr, kind) == 36, "seg hdr: kind");
CHI_STATIC_ASSERT(offsetof(chi_seg_hdr, created_ns) == 40, "seg hdr: created_ns");
CHI_STATIC_ASSERT(offsetof(chi_seg_hdr, alive) == 48, "seg hdr: alive");
CHI_STATIC_ASSERT(offsetof(chi_seg_hdr, stopping) == 56, "seg hdr: stopping");
CHI_STATIC_ASSERT(offsetof(chi_seg_hdr, ready) == 60, "seg hdr: ready");
CHI_STATIC_ASSERT(offsetof(chi_seg_hdr, name) == 64, "seg hdr: name");
CHI_STATIC_ASSERT(offsetof(chi_seg_hdr, dir_off) == 128, "seg hdr: dir_off");
CHI_STATIC_ASSERT(offsetof(chi_seg_hdr, alloc_off) == 136, "seg hdr: alloc_off");
CHI_STATIC_ASSERT(offsetof(chi_seg_hdr, chunk_wake) == 144, "seg hdr: chunk_wake");
CHI_STATIC_ASSERT(sizeof(chi_seg_hdr) == 192, "seg hdr is three lines");

/* stopping: 0 running, 1 refusing new tasks and draining, 2 drained */
#define CHI_STOP_DRAINING 1u
#define CHI_STOP_DRAINED 2u

/* kind (2 is not used: it named a client data segment that nothing ever
 * created; the other values stay as they were) */
#define CHI_SEG_KIND_MAIN 1u
#define CHI_SEG_KIND_GPU 3u

#endif
