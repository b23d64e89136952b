/* chi/proto/batch.h: the packed batch, the lane entry of a GPU warp batch.
 *
 * Why: a warp batch used to be 32 future blocks, one per task, so a worker
 * touched two 64-byte lines per task (the block header it completes, the
 * copy space it decodes) and a warp wrote 80 bytes per no-op task over
 * PCIe, in 32 places 256 bytes apart. Packed, a no-op task is 16 bytes of
 * wire and 16 of completion, and a warp's stores are contiguous: about a
 * quarter of the lines, on both sides of the bus.
 *
 * Layout: an entry whose slot says count n > 1 (ring.h; at most 32) is a
 * packed batch in the n consecutive future blocks (n * 256 bytes) that
 * start at the slot's ptr:
 *   0             header line: u64 stride | count << 32 (count = n), u64 0,
 *   16              the batch's done pair (flags, result), then 32 bytes
 *                   nobody reads
 *   64            pairs[n]: the completion pair (flags, result) of task k
 *                 at 64 + 16 k, the same pair a future block starts with
 *   64 + 16 n     wires[n]: task k serialized (proto/future.h layout:
 *                 header, inputs, pad to 8, outputs) at 64 + 16 n + k stride
 * stride is a multiple of 16 from 16 to CHI_COPY_SPACE, so the packed area
 * (64 + 16 n + n stride bytes) always fits its n blocks; a batch takes
 * tasks that fit the copy space, like a block does.
 *
 * Protocol (labels as in future.h and ring.h):
 *   B0  submitters (thread k of a warp, or CPU threads standing in): task k's
 *       wire, then pair k = (0, 0); the submitter of task 0 also the header
 *       word and the done pair = (0, 0). Plain stores;
 *   B1  every submitter fences (system scope), the warp syncs, one of them
 *       claims a ticket and publishes the slot with count n (P1-P4); the
 *       fences make B0 visible before P4.
 *   B2  the worker reads the header word once: a stride or count that is
 *       wrong completes every pair with -EBADMSG (nothing hangs, nothing
 *       runs). Else it runs the tasks in order, each from its wire (every
 *       byte untrusted, checked as a block's copy space is, with the stride
 *       as room), writes outputs into the wire, then completes the pair with
 *       one 16-byte store (F1), in task order; after the last, the done pair
 *       (COMPLETE, 0).
 *   B3  the waiter of task k: F2 on pair k, then its outputs. x86 keeps the
 *       worker's stores in order, so once the done pair is complete every
 *       pair is: a warp's thread 0 (which zeroed it in B0, so it cannot see
 *       a previous batch's) polls the done pair alone, in a line the worker
 *       writes once, then each thread reads its pair
 *       (chi_gpu_future_wait_warp). The batch's blocks hold every task's
 *       pair and wire, which the worker writes until it writes the done
 *       pair, and each thread's block holds other threads' pairs and
 *       wires: a wait on one task (chi_gpu_future_wait) returns only once
 *       the done pair is complete too, and the submitters may use those
 *       blocks again only once all of them have waited (a __syncwarp after
 *       the waits; chi_gpu_future_wait_warp ends with one).
 * Batches are polled, never slept on: the worker completes them without a
 * futex wake, on any lane. The blocks belong to the submitter (a slice it
 * owns, gpu.h), so no other use of them overlaps a batch in flight.
 *
 * Measured (H200, chi-bench gpu warp-batch entries, 15 alternating
 * processes per layout on one instance): one lane 55.4 M/s median against
 * 52.1 for one block per task; two lanes 107.8 against 90.5 (docs/gpu.md). */
#ifndef CHI_PROTO_BATCH_H
#define CHI_PROTO_BATCH_H

#include "future.h"

#define CHI_BATCH_HDR 64u  /* the header line */
#define CHI_BATCH_DONE 16u /* the batch's done pair, in the header line */
#define CHI_BATCH_MAX 32u

CHI_INLINE uint32_t chi_batch_pair_off(uint32_t k)
{
	return CHI_BATCH_HDR + 16u * k;
}
CHI_INLINE uint32_t chi_batch_wire_off(uint32_t n, uint32_t stride, uint32_t k)
{
	return CHI_BATCH_HDR + 16u * n + k * stride;
}
/* The stride for tasks of at most `wire` bytes (wire <= CHI_COPY_SPACE). */
CHI_INLINE uint32_t chi_batch_stride(uint64_t wire)
{
	return ((uint32_t)wire + 15u) & ~15u;
}
CHI_INLINE uint64_t chi_batch_hdr_word(uint32_t n, uint32_t stride)
{
	return (uint64_t)stride | (uint64_t)n << 32;
}
/* B2: the stride of the batch whose header word is `hdr`, for a slot that
 * says count n; 0 when the header is wrong. */
CHI_INLINE uint32_t chi_batch_check(uint64_t hdr, uint32_t n)
{
	uint32_t stride = (uint32_t)hdr;
	if ((uint32_t)(hdr >> 32) != n || n < 2u || n > CHI_BATCH_MAX || stride < 16u ||
	    stride > CHI_COPY_SPACE || (stride & 15u))
		return 0;
	return stride;
}

#endif
