/* chi/gpu/pool.h: a GPU client's block pools (future blocks and data blocks
 * of one lane), taken and given back by kernel threads, or by CPU threads
 * standing in for them in the gpu_protocol tests: the very same CHI_HD text.
 *
 * A pool (proto/gpu.h, chi_gpu_pool) is a free ring of block indices with
 * three counters, each in a 128-byte line of its own (device memory):
 *
 *   avail  admission: blocks a taker may still claim (signed);
 *   take   tickets of admitted takers;
 *   give   tickets of givers.
 *
 * Ring entry e = ticket & mask, lap = ticket >> shift, tag = lap + 1:
 * (tag << 32) | (index + 1) holds a free block for the taker of that lap;
 * (tag << 32) says that taker consumed it.
 *
 *   A1 take:  a relaxed read of avail: <= 0 fails at once (-EAGAIN, no
 *             atomic: an exhausted pool costs its spinners one read each);
 *             else fetch_add(avail, -n) for the n threads of the group;
 *             old < n admits max(old, 0) of them and adds the rest back
 *             (A2). The admitted take tickets with fetch_add(take, k).
 *   R1 take:  wait for the entry of its ticket to carry its tag and an
 *             index (acquire; pairs with R2), then
 *   R3 take:  store (tag << 32): consumed (release; pairs with G1).
 *   G1 give:  g = fetch_add(give, n); wait for the entry of g to say its
 *             previous lap's taker consumed it (acquire; pairs with R3),
 *   R2 give:  store ((lap + 1) << 32) | (index + 1) (release), and once the
 *             group's entries are stored,
 *   A3 give:  fetch_add(avail, n).
 *
 * Why a taker's wait (R1) is short and never a deadlock: a taker is
 * admitted only against a unit of avail, and every unit was added (A3, or
 * the initial `have`) after its giver's fetch_add on give (G1). So when a
 * taker draws ticket t, at least t + 1 takers were admitted, give is past
 * t, and the giver of entry t is already running: it waits only for the
 * previous lap's taker of that entry, which is itself admitted and past
 * its own fetch_add. Nothing here waits for a block to come back: admission
 * fails fast, so threads that hold blocks and ask for more cannot deadlock
 * each other. -EAGAIN means no block was free at that instant (a group's
 * surplus is in flight back for the few nanoseconds between A1 and A2).
 *
 * Entries of one slot are written lap after lap (R2 waits for R3), so a slow
 * taker's index is never overwritten.
 *
 * Why the groups: a thread's admission is one fetch_add at most, never a
 * CAS loop (under thousands of submitting threads almost every CAS fails;
 * docs/gpu.md), and on the device the converged threads of a warp that
 * take from the same pool share it: their leader does the atomics for all
 * of them and hands out the tickets with shuffles (__match_any_sync groups
 * the threads by pool). */
#ifndef CHI_GPU_POOL_H
#define CHI_GPU_POOL_H

#include "chi/proto/gpu.h"

#ifndef __CUDA_ARCH__
#include <sched.h>
#endif

#ifndef CHI_GPU_POLL_CAP_NS
#define CHI_GPU_POLL_CAP_NS 4096u /* longest __nanosleep between polls (may be set before) */
#endif

CHI_INLINE void chi_gpu_backoff_to(uint32_t *ns, uint32_t cap)
{
#ifdef __CUDA_ARCH__
	__nanosleep(*ns);
	*ns = *ns < cap ? *ns * 2 : cap;
#else
	(void)cap;
	/* CPU threads standing in for a GPU: more of them than cores must not
	 * starve the one that would let them go on */
	if ((++*ns & 63u) == 0)
		sched_yield();
	else
		chi_cpu_relax();
#endif
}

CHI_INLINE void chi_gpu_backoff(uint32_t *ns)
{
	chi_gpu_backoff_to(ns, CHI_GPU_POLL_CAP_NS);
}

/* The converged threads of this warp that call with the same key: the
 * leader is rank 0. On the host every thread is a group of one. */
typedef struct chi_gpu_group {
	uint32_t peers; /* lane mask */
	uint32_t rank;
	uint32_t n;
	uint32_t leader; /* lane id */
} chi_gpu_group;

CHI_INLINE void chi_gpu_group_of(const void *key, chi_gpu_group *g)
{
#ifdef __CUDA_ARCH__
	/* threads that run this together get one __activemask(), so the masks
	 * of the groups formed here never overlap */
	unsigned mask = __activemask();
	unsigned peers = __match_any_sync(mask, (unsigned long long)(uintptr_t)key);
	unsigned lane;
	asm volatile("mov.u32 %0, %%laneid;" : "=r"(lane));
	g->peers = peers;
	g->leader = (uint32_t)__ffs((int)peers) - 1u;
	g->rank = (uint32_t)__popc((int)(peers & ((1u << lane) - 1u)));
	g->n = (uint32_t)__popc((int)peers);
#else
	(void)key;
	g->peers = 1;
	g->leader = 0;
	g->rank = 0;
	g->n = 1;
#endif
}

/* The leader's v, to every thread of the group. */
CHI_INLINE uint64_t chi_gpu_group_bcast(const chi_gpu_group *g, uint64_t v)
{
#ifdef __CUDA_ARCH__
	return (uint64_t)__shfl_sync(g->peers, (unsigned long long)v, (int)g->leader);
#else
	(void)g;
	return v;
#endif
}

CHI_INLINE void chi_gpu_group_sync(const chi_gpu_group *g)
{
#ifdef __CUDA_ARCH__
	__syncwarp(g->peers);
#else
	(void)g;
#endif
}

/* A1-A2, R1, R3: a block index of pool p in *index, or -EAGAIN when none is
 * free (never waits for one to come back). */
CHI_INLINE int chi_gpu_pool_try_take(chi_gpu_pool *p, uint32_t *index)
{
	chi_gpu_group gr;
	chi_gpu_group_of(p, &gr);
	uint64_t granted = 0, t0 = 0;
	if (gr.rank == 0) {
		int64_t a = (int64_t)chi_ld_rlx_u64(&p->avail); /* A1 */
		if (a > 0) {
			int64_t old = (int64_t)chi_faa_u64(&p->avail, (uint64_t)-(int64_t)gr.n);
			granted = old <= 0 ? 0 : (uint64_t)old < gr.n ? (uint64_t)old : gr.n;
			if (granted < gr.n) /* A2: the surplus back */
				chi_faa_u64(&p->avail, gr.n - granted);
			if (granted)
				t0 = chi_faa_u64(&p->take, granted);
		}
	}
	granted = chi_gpu_group_bcast(&gr, granted);
	t0 = chi_gpu_group_bcast(&gr, t0);
	if (gr.rank >= granted)
		return -CHI_EAGAIN;
	uint64_t t = t0 + gr.rank;
	uint64_t *e = &p->ring[t & p->mask];
	uint64_t want = (t >> p->shift) + 1;
	uint32_t ns = 32;
	uint64_t v;
	while (((v = chi_ld_acq_dev_u64(e)) >> 32) != want || (uint32_t)v == 0) /* R1 */
		chi_gpu_backoff(&ns);
	chi_st_rel_dev_u64(e, want << 32); /* R3 */
	*index = (uint32_t)v - 1;
	return 0;
}

/* G1, R2, A3: give block `index` back to pool p. */
CHI_INLINE void chi_gpu_pool_give(chi_gpu_pool *p, uint32_t index)
{
	chi_gpu_group gr;
	chi_gpu_group_of(p, &gr);
	uint64_t g0 = 0;
	if (gr.rank == 0)
		g0 = chi_faa_u64(&p->give, gr.n); /* G1 */
	uint64_t g = chi_gpu_group_bcast(&gr, g0) + gr.rank;
	uint64_t *e = &p->ring[g & p->mask];
	uint64_t lap = g >> p->shift;
	uint32_t ns = 32;
	/* wait for the previous lap's taker (R3): until then its index is
	 * still in the entry */
	while (chi_ld_acq_dev_u64(e) != (lap << 32))
		chi_gpu_backoff(&ns);
	chi_st_rel_dev_u64(e, ((lap + 1) << 32) | (uint64_t)(index + 1)); /* R2 */
	chi_gpu_group_sync(&gr);
	if (gr.rank == 0)
		chi_faa_u64(&p->avail, gr.n); /* A3 */
}

/* A pool's initial state, written by the client that builds it (host side):
 * `have` blocks first .. first + have - 1 free, ring of n >= have entries
 * (a power of two) at `ring_img`, which `ring` addresses on the taking side. */
CHI_INLINE void chi_gpu_pool_init(chi_gpu_pool *p, uint64_t *ring_img, uint64_t *ring, uint32_t n,
				  uint32_t have, uint32_t first)
{
	p->avail = have;
	p->take = 0;
	p->give = have;
	p->ring = ring;
	p->mask = n - 1;
	p->shift = chi_log2_u32(n);
	/* entries past `have` start as consumed markers of lap 0, as a taken
	 * entry would be (R3), for the first givers of lap 0 */
	for (uint32_t i = 0; i < n; i++)
		ring_img[i] = i < have ? (1ull << 32) | (uint64_t)(first + i + 1) : 0;
}

#endif
