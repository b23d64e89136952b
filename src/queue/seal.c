/* src/queue/seal.c: see seal.h. The labels (U1-U4, C1-C4) are those of
 * include/chi/proto/seal.h and ring.h. Every word of an inbox is untrusted:
 * a pointer that is 0 (not landed) or outside the lane's blocks (a client's
 * garbage: then it stays a hole of that client) is "not ready", and a
 * header that claims more inputs than an inbox holds gives a block the
 * worker fails with -EBADMSG. */
#include "seal.h"

#include <string.h>

/* U2-U3: the block of the entry at head h, its tag and payload, or NULL
 * while the entry is incomplete. */
static chi_future_shm *locate(const chi_seal_lane *sl, const chi_ring_view *r, uint64_t h,
			      uint32_t prio, chi_offptr *ptr, uint64_t *tag, uint32_t *pay,
			      uint32_t *n)
{
	chi_offptr p = chi_ld_rlx_u64(&r->slots[h & r->mask].ptr); /* U2 */
	uint64_t off = chi_offptr_off(p);
	if (chi_offptr_seg(p) != sl->seg_id || off < sl->blocks_off || off >= sl->blocks_end ||
	    (off - sl->blocks_off) % CHI_FUTURE_BLOCK)
		return NULL;
	*tag = chi_seal_tag(h, prio);
	*n = chi_seal_read((const uint64_t *)(const void *)(sl->base + off + sl->inbox_delta),
			   pay); /* U3 */
	*ptr = p;
	return *n ? (chi_future_shm *)(void *)(sl->base + off) : NULL;
}

int chi_seal_head_ready(const chi_seal_lane *sl, const chi_ring_view *r, uint32_t prio)
{
	uint64_t h, tag;
	uint64_t ctl = chi_ring_head(r, &h);
	if (!ctl || !(ctl & CHI_SLOT_SEALED))
		return ctl != 0;
	chi_offptr p;
	uint32_t pay[CHI_SEAL_WORDS], n;
	return locate(sl, r, h, prio, &p, &tag, pay, &n) != NULL;
}

/* U4: the inbox words it read zeroed (all of them for a header that lies:
 * whatever its client wrote). */
static void take_words(chi_future_shm *f, const chi_seal_lane *sl, const uint32_t *pay, uint32_t n)
{
	uint64_t *inbox = (uint64_t *)(void *)((uint8_t *)f + sl->inbox_delta);
	if (((const chi_task *)(const void *)pay)->in_size > CHI_SEAL_MAX_IN)
		n = CHI_SEAL_WORDS;
	for (uint32_t k = 0; k < n; k++)
		__atomic_store_n(&inbox[k], 0, __ATOMIC_RELAXED);
}

uint32_t chi_seal_pop(const chi_seal_lane *sl, const chi_ring_view *r, uint32_t prio,
		      chi_offptr *first, chi_sealed *sx)
{
	uint64_t h;
	uint64_t ctl = chi_ring_head(r, &h); /* C1 / U1 */
	sx->n = 0;
	if (!ctl)
		return 0;
	if (ctl & CHI_SLOT_SEALED) {
		uint32_t n;
		chi_future_shm *f = locate(sl, r, h, prio, first, &sx->tag, sx->pay, &n);
		if (!f) { /* words still on their way */
			chi_lane_shm *ls = sl->shm;
			__atomic_store_n(&ls->seal_waits, ls->seal_waits + 1, __ATOMIC_RELAXED);
			return 0;
		}
		take_words(f, sl, sx->pay, n);
		sx->n = n;
		sx->client = chi_slot_client(ctl);
	} else {
		*first = chi_ld_rlx_u64(&r->slots[h & r->mask].ptr); /* C2 */
	}
	chi_ring_take(r, h); /* C3-C4 */
	return chi_slot_count(ctl);
}
