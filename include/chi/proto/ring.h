/* chi/proto/ring.h: one bounded ring of a lane. Many producers, exactly one
 * consumer. Written once as CHI_HD code: the host library, the gpu_protocol
 * tests (CPU threads standing in for GPU producers) and GPU kernels all run
 * this text.
 *
 * Layout (shared memory): `depth` (a power of two) slots of 16 bytes.
 *   word 0, ctl:  bits  0-31  lap     (ticket >> log2(depth), mod 2^32)
 *                 bits 32-33  state   (EMPTY, CLAIMED, PUBLISHED)
 *                 bits 34-38  count-1 (tasks in this slot: 1, or up to 32
 *                                      of one warp, packed: batch.h)
 *                 bit  39     SEALED  (a GPU single-task entry whose block
 *                                      travels in stamped inbox words, with
 *                                      no ordering before P4: seal.h)
 *                 bits 40-63  claimant client id (24 bits)
 *   word 1, ptr:  chi_offptr of the future block (a batch's first of its
 *                 `count` consecutive blocks).
 * A ring also has a claim counter (tail, 64-bit ticket counter) that the
 * lane points to: a host word for CPU lanes, device memory for GPU lanes.
 *
 * Protocol. Ticket t owns slot t & mask during lap L = t >> shift.
 *   Producer, CPU ("try" flavour, never waits):
 *     P0  t = load(tail); read slot ctl (acquire, pairs with C3);
 *         if lap(ctl) != L or state != EMPTY the consumer has not freed the
 *         slot of the previous lap: the ring is full, return -EAGAIN;
 *     P1  CAS(tail, t, t+1) claims the ticket (retry from P0 on failure);
 *     P2  ctl = {L, CLAIMED, client}: a marker for hole detection. CPU
 *         producers mark by CAS from {L, EMPTY} (RV1, chi_ring_mark_claim):
 *         if that fails the consumer revoked the ticket (RV2) and the
 *         producer claims another from P0;
 *     P3  ptr = block (relaxed);
 *     P4  ctl = {L, PUBLISHED, count, client} (release/publish: pairs with C1;
 *         makes P3 and the future block's contents visible).
 *   Producer, GPU ("claim" flavour): t = fetch_add(tail, 1), then P2..P4 with
 *     no read of the slot: admission already happened when the future block
 *     was taken (a lane never has more blocks in flight than slots, so slot t
 *     was released, C3, before block of ticket t - depth was freed).
 *   Consumer at head h (lap L):
 *     C1  ctl = load-acquire(slot); wait until {L, PUBLISHED} (pairs with P4);
 *     C2  read ptr;
 *     C3  ptr = 0 (relaxed; a SEALED entry of the next lap, whose ptr is not
 *         ordered before its publish, is known by a ptr that is not 0:
 *         seal.h U2), then store-release ctl = {L+1, EMPTY} (pairs with P0's
 *         acquire: the slot is free for lap L+1 only after ptr was read);
 *     C4  store-release head = h + 1 (pairs with the acquire load of head
 *         in the runtime's reaper: one that sees head past h also sees the
 *         consumer's task_seq store made before it popped, so it knows the
 *         entry may still be running: src/runtime/reaper.c). Producers never
 *         read head; stats read it relaxed.
 * Holes: a producer that dies between P1 and P4 leaves slot h unpublished
 * while later slots fill. The consumer may skip it (chi_ring_skip) only when
 * the runtime has decided the claimant is dead; see chi_worker_check_holes in
 * src/runtime/holes.c.
 * Revocation (CPU rings): a ticket whose slot is still {L, EMPTY} long after
 * the claim counter passed it was claimed by no one who will mark it (a
 * claim counter moved ahead by a stray write, or a producer stopped between
 * P1 and P2). RV2, the consumer revokes it at head by CAS {L, EMPTY} ->
 * {L+1, EMPTY} and moves head on (chi_ring_revoke_head); RV1 makes a late
 * P2 of that ticket fail, so its producer claims again and nothing it
 * publishes is lost or lands on another lap. GPU producers mark with a
 * plain store (their claims are counted on the device): never revoked.
 */
#ifndef CHI_PROTO_RING_H
#define CHI_PROTO_RING_H

#include "atomic.h"
#include "offptr.h"

#define CHI_SLOT_EMPTY 0u
#define CHI_SLOT_CLAIMED 1u
#define CHI_SLOT_PUBLISHED 2u
#define CHI_SLOT_MAX_COUNT 32u
#define CHI_CLIENT_ID_MASK 0xffffffu
#define CHI_SLOT_SEALED (1ull << 39)

typedef struct chi_slot {
	uint64_t ctl;
	chi_offptr ptr;
} chi_slot;
CHI_STATIC_ASSERT(sizeof(chi_slot) == 16, "slot is 16 bytes");

CHI_INLINE uint64_t chi_slot_ctl(uint32_t lap, uint32_t state, uint32_t count,
				 uint32_t client)
{
	return (uint64_t)lap | ((uint64_t)(state & 3u) << 32) |
	       ((uint64_t)((count - 1u) & 31u) << 34) |
	       ((uint64_t)(client & CHI_CLIENT_ID_MASK) << 40);
}
CHI_INLINE uint32_t chi_slot_lap(uint64_t ctl) { return (uint32_t)ctl; }
CHI_INLINE uint32_t chi_slot_state(uint64_t ctl) { return (uint32_t)(ctl >> 32) & 3u; }
CHI_INLINE uint32_t chi_slot_count(uint64_t ctl) { return ((uint32_t)(ctl >> 34) & 31u) + 1u; }
CHI_INLINE uint32_t chi_slot_client(uint64_t ctl) { return (uint32_t)(ctl >> 40); }

/* A process-local view of one ring: raw pointers resolved in this process. */
typedef struct chi_ring_view {
	chi_slot *slots;
	uint64_t *tail;	/* claim counter */
	uint64_t *head;	/* consumer position: the runtime's own word */
	uint32_t mask;
	uint32_t shift;
	/* the shared copy of head that C4 publishes (reapers of other
	 * processes, stats), or NULL when head is that word. The runtime's
	 * consumer keeps head in its private memory and only stores here, so
	 * a client's stray write to the shared word cannot move the consumer. */
	uint64_t *pub;
} chi_ring_view;

/* Reads of an unmoved claim counter before P0 gives up on a slot that is
 * neither free nor claimed through the counter. */
#define CHI_RING_STILL_READS 256

/* The state of the slot at head h, as only the consumer may judge it: a
 * word of lap h >> shift in one of the three states, or one no producer or
 * consumer writes there (a stray write: another lap, or state 3). */
CHI_INLINE int chi_ring_ctl_corrupt(const chi_ring_view *r, uint64_t h, uint64_t ctl)
{
	return chi_slot_lap(ctl) != (uint32_t)(h >> r->shift) ||
	       chi_slot_state(ctl) > CHI_SLOT_PUBLISHED;
}

/* Consumer only: a stray word in the slot at head, with no claim for it
 * behind the claim counter, back to free for its lap (as C3 left it). 1 if
 * it was put back. */
CHI_INLINE int chi_ring_repair(const chi_ring_view *r, uint64_t ctl)
{
	uint64_t h = chi_ld_rlx_u64(r->head);
	chi_slot *s = &r->slots[h & r->mask];
	chi_st_rlx_u64(&s->ptr, CHI_OFFPTR_NULL); /* as C3; no claim can be filling it */
	return chi_cas_u64(&s->ctl, &ctl, chi_slot_ctl((uint32_t)(h >> r->shift), CHI_SLOT_EMPTY,
						       1, 0));
}

/* P0-P1: claim a ticket without waiting. Returns 0 and sets *ticket, or
 * -CHI_EAGAIN when the ring is full. */
CHI_INLINE int chi_ring_try_claim(const chi_ring_view *r, uint64_t *ticket)
{
	uint64_t t = chi_ld_rlx_u64(r->tail);
	for (;;) {
		const chi_slot *s = &r->slots[t & r->mask];
		uint64_t ctl = chi_ld_acq_u64(&s->ctl); /* P0: pairs with C3 */
		uint32_t lap = (uint32_t)(t >> r->shift);
		if (chi_slot_lap(ctl) != lap || chi_slot_state(ctl) != CHI_SLOT_EMPTY) {
			if ((int32_t)(chi_slot_lap(ctl) - lap) < 0)
				return -CHI_EAGAIN; /* previous lap not consumed */
			/* another producer won it: the counter moved. One that
			 * stays put under a slot taken or ahead of its lap is a
			 * stray write (the consumer repairs it: holes.c), not a
			 * claim to wait for here */
			uint64_t t2 = chi_ld_rlx_u64(r->tail);
			for (int i = 0; t2 == t && i < CHI_RING_STILL_READS; i++) {
				chi_cpu_relax();
				t2 = chi_ld_rlx_u64(r->tail);
			}
			if (t2 == t)
				return -CHI_EAGAIN;
			t = t2;
			continue;
		}
		if (chi_cas_u64(r->tail, &t, t + 1)) { /* P1 */
			*ticket = t;
			return 0;
		}
	}
}

/* GPU flavour of P1: unconditional claim; the caller holds admission. */
CHI_INLINE uint64_t chi_ring_claim(const chi_ring_view *r)
{
	return chi_faa_u64(r->tail, 1);
}

/* P2: mark the slot as claimed by `client` (for hole attribution). */
CHI_INLINE void chi_ring_mark(const chi_ring_view *r, uint64_t t, uint32_t client)
{
	chi_slot *s = &r->slots[t & r->mask];
	chi_st_rlx_u64(&s->ctl, chi_slot_ctl((uint32_t)(t >> r->shift),
					     CHI_SLOT_CLAIMED, 1, client));
}

/* C4: head to h + 1, with release (a reaper that sees it sees the
 * consumer's earlier task_seq store, src/runtime/reaper.c), and its shared
 * copy if the runtime keeps head in its own memory. */
CHI_INLINE void chi_ring_head_past(const chi_ring_view *r, uint64_t h)
{
	chi_st_rel_u64(r->head, h + 1);
	if (r->pub)
		chi_st_rel_u64(r->pub, h + 1);
}

/* RV1, P2 of CPU producers: mark ticket t claimed by `client` by CAS from
 * free for its lap. 1 if marked; 0 if the consumer revoked the ticket
 * (RV2): claim another. */
CHI_INLINE int chi_ring_mark_claim(const chi_ring_view *r, uint64_t t, uint32_t client)
{
	chi_slot *s = &r->slots[t & r->mask];
	uint32_t lap = (uint32_t)(t >> r->shift);
	uint64_t ctl = chi_slot_ctl(lap, CHI_SLOT_EMPTY, 1, 0);
	return chi_cas_u64(&s->ctl, &ctl, chi_slot_ctl(lap, CHI_SLOT_CLAIMED, 1, client));
}

/* RV2, consumer only: revoke the ticket at head if its slot is still free
 * for its lap (no producer marked it) and move head past it. 1 if done. */
CHI_INLINE int chi_ring_revoke_head(const chi_ring_view *r)
{
	uint64_t h = chi_ld_rlx_u64(r->head);
	chi_slot *s = &r->slots[h & r->mask];
	uint32_t lap = (uint32_t)(h >> r->shift);
	uint64_t ctl = chi_slot_ctl(lap, CHI_SLOT_EMPTY, 1, 0);
	if (!chi_cas_u64(&s->ctl, &ctl, chi_slot_ctl(lap + 1u, CHI_SLOT_EMPTY, 1, 0)))
		return 0;
	chi_ring_head_past(r, h); /* C4 */
	return 1;
}

/* P3-P4: fill and publish ticket t. */
CHI_INLINE void chi_ring_publish(const chi_ring_view *r, uint64_t t, chi_offptr first,
				 uint32_t count, uint32_t client)
{
	chi_slot *s = &r->slots[t & r->mask];
	chi_st_rlx_u64(&s->ptr, first); /* P3 */
	/* P4: release; pairs with C1 */
	chi_st_publish_u64(&s->ctl, chi_slot_ctl((uint32_t)(t >> r->shift),
						 CHI_SLOT_PUBLISHED, count, client));
}

/* Z4 (seal.h): ptr and ctl of a SEALED single-task entry, with no ordering
 * before them (or between them). */
CHI_INLINE void chi_ring_publish_sealed(const chi_ring_view *r, uint64_t t, chi_offptr first,
					uint32_t client)
{
	chi_slot *s = &r->slots[t & r->mask];
	chi_st_rlx_u64(&s->ptr, first);
	chi_st_publish_rlx_u64(&s->ctl, chi_slot_ctl((uint32_t)(t >> r->shift), CHI_SLOT_PUBLISHED,
						     1, client) | CHI_SLOT_SEALED);
}

/* C1: the control word at head if it is published for head's lap, else 0.
 * *h: head. */
CHI_INLINE uint64_t chi_ring_head(const chi_ring_view *r, uint64_t *h)
{
	*h = chi_ld_rlx_u64(r->head);
	uint64_t ctl = chi_ld_acq_u64(&r->slots[*h & r->mask].ctl); /* C1: pairs with P4 */
	if (chi_slot_lap(ctl) != (uint32_t)(*h >> r->shift) ||
	    chi_slot_state(ctl) != CHI_SLOT_PUBLISHED)
		return 0;
	return ctl;
}

/* C3-C4 for head h, after its ptr was read (C2). */
CHI_INLINE void chi_ring_take(const chi_ring_view *r, uint64_t h)
{
	chi_slot *s = &r->slots[h & r->mask];
	chi_st_rlx_u64(&s->ptr, CHI_OFFPTR_NULL); /* C3 */
	chi_st_rel_u64(&s->ctl, chi_slot_ctl((uint32_t)(h >> r->shift) + 1u, CHI_SLOT_EMPTY, 1,
					     0));
	chi_ring_head_past(r, h); /* C4 */
}

/* C1-C4: take the entry at head if it is published. Returns its count (>= 1)
 * and sets *first, or 0 when the slot at head is not yet published. Not for
 * SEALED entries (their ptr needs checking first: seal.h, U2). */
CHI_INLINE uint32_t chi_ring_pop(const chi_ring_view *r, chi_offptr *first)
{
	uint64_t h;
	uint64_t ctl = chi_ring_head(r, &h);
	if (!ctl)
		return 0;
	*first = chi_ld_rlx_u64(&r->slots[h & r->mask].ptr); /* C2 */
	chi_ring_take(r, h);
	return chi_slot_count(ctl);
}

/* Consumer only: the control word of the slot `ahead` positions past head,
 * for hole detection. */
CHI_INLINE uint64_t chi_ring_peek(const chi_ring_view *r, uint64_t ahead)
{
	uint64_t h = chi_ld_rlx_u64(r->head) + ahead;
	return chi_ld_acq_u64(&r->slots[h & r->mask].ctl);
}

/* Consumer only: is the slot `ahead` positions past head published for its
 * lap? */
CHI_INLINE int chi_ring_ready(const chi_ring_view *r, uint64_t ahead)
{
	uint64_t h = chi_ld_rlx_u64(r->head) + ahead;
	uint64_t ctl = chi_ld_acq_u64(&r->slots[h & r->mask].ctl);
	return chi_slot_lap(ctl) == (uint32_t)(h >> r->shift) &&
	       chi_slot_state(ctl) == CHI_SLOT_PUBLISHED;
}

/* Consumer only: skip the hole at head (its claimant is known dead). The
 * slot is released for the next lap exactly as C3 does. */
CHI_INLINE void chi_ring_skip(const chi_ring_view *r)
{
	uint64_t h = chi_ld_rlx_u64(r->head);
	chi_slot *s = &r->slots[h & r->mask];
	chi_st_rlx_u64(&s->ptr, CHI_OFFPTR_NULL); /* as C3 */
	chi_st_rel_u64(&s->ctl, chi_slot_ctl((uint32_t)(h >> r->shift) + 1u,
					     CHI_SLOT_EMPTY, 1, 0));
	chi_st_rlx_u64(r->head, h + 1);
	if (r->pub)
		chi_st_rlx_u64(r->pub, h + 1);
}

#endif
