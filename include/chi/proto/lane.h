/* chi/proto/lane.h: a lane = 2 priority rings (0: low latency, 1: bulk) with
 * one consumer (the worker that owns the lane) and many producers. A lane
 * has two records in shared memory, split by who writes them (RO3): the
 * producers' half (chi_lane_prod: the claim counters and queue_full) on
 * pages clients write (an array beside the records' array: the main
 * directory's prods_off, chi_gpu_prods_off for a GPU's segment), and the
 * runtime's half (chi_lane_shm: ring heads,
 * the layout words, the consumer's counters) where a client of the main
 * segment maps it read-only (src/ipc/layout.h), so a stray write there
 * faults in the writer. Its slots are elsewhere in the same segment.
 *
 * chi_lane_prod, written by producers:
 *   ring[p].tail    claim counter of CPU lanes. GPU lanes keep theirs in
 *                   device memory and leave this one unused, except on the
 *                   simulated backend (src/gpu/gpu_sim.c), whose "device"
 *                   counters are these words
 *   queue_full      bumped by producers on the slow (full) path only
 * chi_lane_shm, written by the runtime:
 *   ring[p].head    the consumer (C4 in ring.h: store-release, read with
 *                   acquire by the runtime's reaper, relaxed by stats)
 *   slots[p], depth, shift, worker, id: once, at init
 *   counters: popped, completed, errors, hole_stalls, holes_skipped,
 *             depth_hwm, lat_sum, lat_hist
 *   depth_hwm: highest depth (tail - head, both priorities) the consumer saw;
 *             sampled on every 64th pop of a CPU lane (src/runtime/worker.c;
 *             reading tail touches the producers' line; GPU lanes keep their
 *             claim counter on the device: 0 there). A lower bound.
 *   lat_hist: latency histogram of sampled tasks (1 in CHI_LAT_SAMPLE by
 *             completion count) in ns, log-linear buckets (src/runtime/stats.h);
 *             lat_sum: sum of the sampled latencies (ns).
 * Each claim counter and each head sits on a line of its own, so producers
 * hammering tail do not slow the consumer's head. GPU queue segments keep
 * both halves writable (kernels and their host clients write that segment);
 * the runtime trusts none of their words (its lane references). */
#ifndef CHI_PROTO_LANE_H
#define CHI_PROTO_LANE_H

#include "ring.h"

#define CHI_PRIO_LATENCY 0u
#define CHI_PRIO_BULK 1u
#define CHI_NPRIO 2u

/* latency histogram: values < 8 ns exact, then 61 power-of-two ranges
 * [2^e, 2^(e+1)) for e = 3..63, each split into 8 linear sub-buckets */
#define CHI_LAT_SUB 8u
#define CHI_LAT_BUCKETS 496u
#define CHI_LAT_SAMPLE 64u /* 1 task in CHI_LAT_SAMPLE is timed */

/* The producers' word of one ring */
typedef struct CHI_ALIGNAS(64) chi_ring_tail {
	uint64_t tail;
	uint8_t pad[56];
} chi_ring_tail;

typedef struct CHI_ALIGNAS(64) chi_lane_prod {
	chi_ring_tail ring[CHI_NPRIO];
	uint64_t queue_full;
	uint8_t pad[56];
} chi_lane_prod;
CHI_STATIC_ASSERT(sizeof(chi_lane_prod) == 192, "lane producers: three lines");
CHI_STATIC_ASSERT(offsetof(chi_lane_prod, ring) == 0, "lane producers: tails");
CHI_STATIC_ASSERT(offsetof(chi_lane_prod, queue_full) == 128, "lane producers: queue_full");

/* The runtime's word of one ring */
typedef struct CHI_ALIGNAS(64) chi_ring_hdr {
	uint64_t head;
	/* GPU rings: the claim counter (in device memory) as the runtime's
	 * reaper last read it (src/gpu/gpu_slices.c S4), so the workers see a
	 * hole at the ring's end, with nothing published behind it */
	uint64_t claimed;
	uint8_t pad[48];
} chi_ring_hdr;
CHI_STATIC_ASSERT(sizeof(chi_ring_hdr) == 64, "ring header is a line");
CHI_STATIC_ASSERT(offsetof(chi_ring_hdr, head) == 0, "ring hdr: head");
CHI_STATIC_ASSERT(offsetof(chi_ring_hdr, claimed) == 8, "ring hdr: claimed");

typedef struct CHI_ALIGNAS(64) chi_lane_shm {
	chi_ring_hdr ring[CHI_NPRIO];
	/* read-mostly line: written once at init */
	chi_offptr slots[CHI_NPRIO];
	uint32_t depth;
	uint32_t shift;
	uint32_t worker;
	uint32_t id;
	/* GPU lanes' consumer: times it found a SEALED entry at head whose
	 * words had not all arrived (seal.h). On this line because no GPU
	 * producer reads it (they work from chi_gpu_ctx); CPU lanes leave it 0 */
	uint64_t seal_waits;
	uint8_t pad0[24];
	/* consumer-side counters, on their own line so producers reading the
	 * line above do not miss on every task */
	uint64_t popped;
	uint64_t completed;
	uint64_t errors;
	uint64_t hole_stalls;
	uint64_t holes_skipped;
	uint64_t depth_hwm;
	uint64_t lat_sum;
	uint64_t pad1;
	/* consumer-side latency histogram, sampled tasks only */
	uint64_t lat_hist[CHI_LAT_BUCKETS];
} chi_lane_shm;
CHI_STATIC_ASSERT(sizeof(chi_lane_shm) == 256 + CHI_LAT_BUCKETS * 8, "lane header size");
CHI_STATIC_ASSERT(sizeof(chi_lane_shm) % 64 == 0, "lane header is whole lines");
/* what producers and stats readers of other processes read */
CHI_STATIC_ASSERT(offsetof(chi_lane_shm, slots) == 128, "lane: slots");
CHI_STATIC_ASSERT(offsetof(chi_lane_shm, depth) == 144, "lane: depth");
CHI_STATIC_ASSERT(offsetof(chi_lane_shm, shift) == 148, "lane: shift");
CHI_STATIC_ASSERT(offsetof(chi_lane_shm, worker) == 152, "lane: worker");
CHI_STATIC_ASSERT(offsetof(chi_lane_shm, id) == 156, "lane: id");
CHI_STATIC_ASSERT(offsetof(chi_lane_shm, popped) == 192, "lane: counters on their own line");
CHI_STATIC_ASSERT(offsetof(chi_lane_shm, lat_hist) == 256, "lane: lat_hist");

#endif
