/* chi/proto/seal.h: sealed entries, the GPU's single-task submission that
 * needs no system fence before its publish.
 *
 * Why: a GPU thread's stores to pinned memory are not ordered with each
 * other unless a system-scope fence separates them, and that fence waits for
 * the earlier stores to reach host memory: about 0.6 us of a 2.5 us round
 * trip on an H200 (docs/gpu.md). A sealed entry makes every word it writes
 * self-validating instead, so the host needs no ordering between them.
 *
 * Layout: every future block i of a GPU segment has an inbox of 256 bytes at
 * the same index in the inbox array (chi_gpu_dir.inbox_off); the inbox is 32
 * words of 8 bytes, word k = payload u32 k (low half) | CHI_SEAL_MARK (high
 * half). The payload is the serialized task: the 16-byte task header, then
 * in_size input bytes (at most CHI_SEAL_MAX_IN), in little-endian u32
 * pieces.
 *
 * Producer (GPU thread, or a CPU thread standing in for one), holding the
 * block (admission, gpu.h):
 *   Z1  serialize into local memory (may fail: nothing claimed yet);
 *   Z2  write the inbox words, relaxed, in any order;
 *   Z3  t = fetch_add(claim counter); mark the slot CLAIMED (ring.h P2);
 *   Z4  write the slot's ptr (the block), then its ctl {lap, PUBLISHED,
 *       SEALED, client}, both relaxed: no fence before them. Its tag is
 *       tag(t, p) = (((t << 1) | p) mod 2^55) | 2^55 (never 0).
 * Consumer (the worker owning the lane), at head h of ring p:
 *   U1  ctl at head says PUBLISHED | SEALED for lap h >> shift;
 *   U2  read ptr: 0 means not landed yet (look again later); the consumer
 *       zeroes ptr when it frees a slot (ring.h C3), and the next lap's
 *       producer writes it only after that (it held its block, so ticket
 *       h's completion, which follows C3, was seen: the admission argument
 *       of gpu.h), so a non-zero ptr is this entry's;
 *   U3  read the header words, then the input words the header announces;
 *       every one must carry the mark, else not ready yet;
 *   U4  unseal: copy the payload out, zero the inbox words it read (all 32
 *       for a header that lies), then free the slot (C3: ptr = 0, ctl =
 *       next lap). The task runs from the copy; the block's header words
 *       are not written. Its outputs go, when they fit CHI_SEAL_OUT_LINE
 *       bytes, into the block's first line right after the completion pair
 *       (CHI_SEAL_OUT_OFF: the words a fenced submit uses for its header),
 *       so the worker writes one line per task and the waiter reads one;
 *       larger outputs go to the copy space's output area. Either way they
 *       are stored before the pair (x86 keeps store order), and the waiter
 *       reads them after its fence (F2).
 * Stale words: the consumer zeroes every word it accepted (U4) before it
 * completes the future, and the producer writes the inbox again only after
 * it saw that completion, so a word holds 0 or the current use's value
 * (for words the API writes: a client that writes past the length its
 * header announces leaves them for its own next use of the block). A slice
 * taken from a dead client has its inboxes zeroed by the reaper before the
 * next client gets it (src/gpu/gpu_slices.c), and a skipped hole's ptr is
 * zeroed (ring.h chi_ring_skip).
 * Completion: the worker's completion pair keeps the tag in flags, and the
 * waiter accepts COMPLETE only with its own tag: the producer never resets
 * flags (that store would race the completion without a fence), so flags
 * still says COMPLETE from the block's previous use until the worker
 * completes this one. Tags of one ring repeat after 2^54 tickets.
 * Hole rule: an entry whose words do not all arrive within
 * runtime.hole_timeout_ms is a hole of the client in ctl, skipped only when
 * that client is dead (src/runtime/holes.c). */
#ifndef CHI_PROTO_SEAL_H
#define CHI_PROTO_SEAL_H

#include "future.h"
#include "ring.h"

#define CHI_SEAL_BYTES 256u
#define CHI_SEAL_WORDS (CHI_SEAL_BYTES / 8u)
#define CHI_SEAL_MAX_IN (CHI_SEAL_WORDS * 4u - (uint32_t)sizeof(chi_task))
#define CHI_SEAL_TAG_BIT (1ull << 55)
#define CHI_FUTURE_TAG_SHIFT 8
#define CHI_SEAL_OUT_OFF 16u  /* U4: small outputs in the block's first line */
#define CHI_SEAL_OUT_LINE 48u /*     up to this many bytes */
#define CHI_SEAL_MARK 0x5ea1ed01u /* high half of every inbox word in use */

CHI_INLINE uint64_t chi_seal_tag(uint64_t ticket, uint32_t prio)
{
	return (((ticket << 1) | (prio & 1u)) & (CHI_SEAL_TAG_BIT - 1)) | CHI_SEAL_TAG_BIT;
}
/* May a task with these sizes travel sealed? */
CHI_INLINE int chi_seal_fits(uint32_t in_size, uint32_t out_size)
{
	return in_size <= CHI_SEAL_MAX_IN && chi_task_wire_size(in_size, out_size) <= CHI_COPY_SPACE;
}
/* Is a completion pair's flags word the completion of the use with `tag`
 * (0: an unsealed future, any completion)? */
CHI_INLINE int chi_seal_done(uint64_t flags, uint64_t tag)
{
	return (flags & CHI_FUTURE_COMPLETE) && (!tag || (flags >> CHI_FUTURE_TAG_SHIFT) == tag);
}

/* Z2: `n` payload words (u32) into the inbox, two words per 16-byte store. */
CHI_INLINE void chi_seal_write(uint64_t *inbox, const uint32_t *pay, uint32_t n)
{
	uint64_t s = (uint64_t)CHI_SEAL_MARK << 32;
	uint32_t k = 0;
	for (; k + 2 <= n; k += 2)
		chi_st_pair_u64(inbox + k, pay[k] | s, pay[k + 1] | s);
	if (k < n)
		chi_st_rlx_u64(inbox + k, pay[k] | s);
}

/* U3: read the inbox into pay[CHI_SEAL_WORDS] if every word carries the
 * mark. Returns the number of payload words (>= 4), 0 while a word is
 * missing. A header whose in_size exceeds CHI_SEAL_MAX_IN returns 4: the
 * task is then malformed, and the worker fails it (-EBADMSG). */
CHI_INLINE uint32_t chi_seal_read(const uint64_t *inbox, uint32_t *pay)
{
	uint32_t n = 4;
	for (uint32_t k = 0; k < n; k++) {
		uint64_t w = chi_ld_rlx_u64(inbox + k);
		if ((uint32_t)(w >> 32) != CHI_SEAL_MARK)
			return 0;
		pay[k] = (uint32_t)w;
		if (k == 3) {
			uint32_t in = pay[2]; /* chi_task.in_size */
			if (in <= CHI_SEAL_MAX_IN)
				n = 4 + (in + 3u) / 4u;
		}
	}
	return n;
}

#endif
