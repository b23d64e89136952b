/* chi/proto/offptr.h: 64-bit offset pointers.
 *
 * Raw pointers never cross a process boundary: every reference stored in
 * shared memory is a chi_offptr = (segment id << 48) | byte offset. Segment id
 * 0 is "none"; the main segment is 1, client data segments 2..999, per-GPU
 * pinned segments 1000 + gpu_id. Offset 0 of any segment is its header, so an
 * offptr with offset 0 is never a valid object and the all-zero word is the
 * null pointer. Each process resolves an offptr against its own mapping of
 * the segment (chi_offptr_resolve with that mapping's base). */
#ifndef CHI_PROTO_OFFPTR_H
#define CHI_PROTO_OFFPTR_H

#include "defs.h"

typedef uint64_t chi_offptr;

#define CHI_OFFPTR_NULL ((chi_offptr)0)
#define CHI_OFFPTR_OFF_BITS 48
#define CHI_OFFPTR_OFF_MASK ((1ull << CHI_OFFPTR_OFF_BITS) - 1)

#define CHI_SEG_ID_MAIN 1u
#define CHI_SEG_ID_GPU_BASE 1000u

CHI_INLINE chi_offptr chi_offptr_make(uint32_t seg_id, uint64_t off)
{
	return ((uint64_t)(seg_id & 0xffffu) << CHI_OFFPTR_OFF_BITS) |
	       (off & CHI_OFFPTR_OFF_MASK);
}
CHI_INLINE uint32_t chi_offptr_seg(chi_offptr p)
{
	return (uint32_t)(p >> CHI_OFFPTR_OFF_BITS);
}
CHI_INLINE uint64_t chi_offptr_off(chi_offptr p)
{
	return p & CHI_OFFPTR_OFF_MASK;
}
CHI_INLINE void *chi_offptr_resolve(void *base, chi_offptr p)
{
	return (char *)base + chi_offptr_off(p);
}

#endif
