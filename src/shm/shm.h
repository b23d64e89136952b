/* src/shm/shm.h: named shared-memory segments and the allocator inside them.
 *
 * Segment names are /chi.<uid>.<runtime-name>.<kind>[.<n>] (chi cleanup
 * parses them); mode 0600. A segment begins with a chi_seg_hdr
 * (include/chi/proto/segment.h). */
#ifndef CHI_SRC_SHM_H
#define CHI_SRC_SHM_H

#include <stddef.h>
#include <stdint.h>

#include "chi/proto/segment.h"

#define CHI_SEG_NAME_MAX 128

typedef struct chi_seg {
	void *base;
	uint64_t size;
	int fd;
	int created; /* this process created it (and unlinks it at close) */
	char name[CHI_SEG_NAME_MAX];
} chi_seg;

static inline chi_seg_hdr *chi_seg_hdr_of(const chi_seg *s)
{
	return (chi_seg_hdr *)s->base;
}

/* Writes "/chi.<uid>.<runtime>.<kind>" (n < 0) or "...<kind>.<n>". */
int chi_shm_name(char *out, size_t cap, const char *runtime, const char *kind, int n);

/* Create a new segment (fails with -EEXIST if the name is taken), map it and
 * fill its header; the header's magic is stored last (SG1). */
int chi_seg_create(chi_seg *s, const char *name, uint64_t size, uint32_t seg_id,
		   uint32_t kind, uint64_t epoch, const char *runtime_name);
/* The same, with the mapping bound to NUMA node `node` (chi_numa_place:
 * mbind MPOL_BIND) before anything touches it, the header included; node < 0:
 * no binding (chi_seg_create). A failed binding does not fail the creation:
 * its negative errno goes to *place_rc (may be NULL), 0 when bound or not
 * asked. */
int chi_seg_create_on_node(chi_seg *s, const char *name, uint64_t size, uint32_t seg_id,
			   uint32_t kind, uint64_t epoch, const char *runtime_name, int node,
			   int *place_rc);
/* Map an existing segment and validate magic and layout version (SG2).
 * -ENOENT: no such segment; -EPROTO: not a chi segment of this version. */
int chi_seg_open(chi_seg *s, const char *name);
/* 0 if segment `name` is this user's with mode 0600; -EACCES (logged) if
 * not; -errno if it cannot be opened. chi_seg_open applies the same rule. */
int chi_seg_check_ours(const char *name);
/* Unmap; a creator also unlinks the name. */
void chi_seg_close(chi_seg *s);

/* Is the process that owns this header alive? (kill(pid, 0)) */
int chi_seg_owner_alive(const chi_seg_hdr *h);

/* Remove this user's chi segments whose owner process is gone (all
 * runtimes, or only `only_runtime`); calls report for each. Returns how many
 * were removed, or a negative errno. */
typedef void (*chi_cleanup_report)(const char *segment, int owner_pid, void *arg);
int chi_shm_cleanup(const char *only_runtime, chi_cleanup_report report, void *arg);

/* Allocator: lock-free size classes (256 B .. 2 GiB, powers of two), each a
 * Treiber stack with an ABA tag, fed by a bump pointer. Returns the byte
 * offset of the block inside the segment, 0 when out of memory. Push and
 * pop: AL1, AL2 (src/shm/alloc.c). */
#define CHI_ALLOC_CLASSES 24u /* 256 B << 23 = 2 GiB */
#define CHI_ALLOC_MAX ((uint64_t)CHI_FUTURE_BLOCK_MIN << (CHI_ALLOC_CLASSES - 1))
#define CHI_FUTURE_BLOCK_MIN 256u

typedef struct chi_alloc_hdr {
	uint64_t bump;
	uint64_t end;
	uint64_t free_head[CHI_ALLOC_CLASSES];
	uint64_t in_use; /* bytes handed out and not yet freed */
} chi_alloc_hdr;
/* in shared memory: clients of other processes allocate from it too
 * (CHI_STATIC_ASSERT: nvcc compiles this header, src/gpu/gpu.h) */
CHI_STATIC_ASSERT(offsetof(chi_alloc_hdr, bump) == 0, "alloc: bump");
CHI_STATIC_ASSERT(offsetof(chi_alloc_hdr, end) == 8, "alloc: end");
CHI_STATIC_ASSERT(offsetof(chi_alloc_hdr, free_head) == 16, "alloc: free_head");
CHI_STATIC_ASSERT(offsetof(chi_alloc_hdr, in_use) == 16 + CHI_ALLOC_CLASSES * 8, "alloc: in_use");
CHI_STATIC_ASSERT(sizeof(chi_alloc_hdr) == 24 + CHI_ALLOC_CLASSES * 8, "alloc: size");

void chi_alloc_init(chi_alloc_hdr *a, uint64_t start, uint64_t end);
uint64_t chi_alloc(void *base, chi_alloc_hdr *a, uint64_t size);
void chi_free(void *base, chi_alloc_hdr *a, uint64_t off, uint64_t size);
/* Size actually reserved for a request (its class size); 0 if too large. */
uint64_t chi_alloc_class_size(uint64_t size);

#endif
