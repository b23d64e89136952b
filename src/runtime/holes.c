/* src/runtime/holes.c: holes, a slot a dead client claimed (or sealed and
 * never finished) that would hold its ring's head forever.
 *
 * Holes (docs/design.md, Holes): a slot at head that stays unpublished for
 * runtime.hole_timeout_ms while a later slot is published, or that stays
 * claimed (or sealed and incomplete) for its lap that long, is skipped only
 * if its claimant is dead; otherwise the stall is counted and we keep
 * waiting.
 * The idle loop (worker_main, worker.c) runs the check at each clock read;
 * a pop clears a ring's timer (hole_since, chi_worker_process_new_tasks). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>

#include "runtime/runtime.h"
#include "runtime/stats.h"
#include "runtime/worker_internal.h"

/* Is the claimant of a hole gone? id 0: the claimant died before it could
 * mark the slot; then any dead client counts, and on a GPU lane a closed
 * one that still holds a GPU slice (a kernel that failed between its claim
 * and its mark, then its process closed the client: gpu_slices.c S4 keeps
 * the slice until no claim of that kind is left). A known claimant whose
 * entry is no longer LIVE (dead, closed, or already reaped) cannot publish
 * any more, so it counts as gone too. On a GPU lane so does a LIVE client
 * whose GPU client closed (its slice RELEASING, S3) while a claim of one of
 * its kernels was left: the process lives on with its CPU client, and the
 * slice waits for that hole (S4), which used to stall the ring for good. */
static int claimant_dead(chi_runtime *rt, uint32_t id, int gpu)
{
	for (uint32_t i = 0; i < rt->lay.max_clients; i++) {
		chi_client_shm *e = chi_client_at(rt->main.base, rt->lay.clients_off, i);
		if (id && i + 1 != id)
			continue;
		uint32_t st = __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);
		if (st == CHI_CLIENT_DEAD || (id && st != CHI_CLIENT_LIVE) ||
		    (gpu && !id && st == CHI_CLIENT_CLOSED && chi_gpu_slices_held(rt->gpu, i + 1)) ||
		    (gpu && st == CHI_CLIENT_LIVE && chi_gpu_slices_releasing(rt->gpu, i + 1)))
			return 1;
		if (st == CHI_CLIENT_LIVE &&
		    (e->epoch != rt->epoch ||
		     (e->pid > 0 && kill(e->pid, 0) != 0 && errno == ESRCH)))
			return 1;
	}
	return 0;
}

/* Let the ring past its head slot, whose word is `ctl`: skipped as a hole
 * when a claim for it was made (`claimed`, the claim counter as known, is
 * past head), else put back to free for its lap, since no claim is there
 * to fill it and skipping would leave the counter behind head for good.
 * Counted as a skip. 0 if the word changed meanwhile (nothing done). */
static int head_release(chi_lane_ref *lr, chi_ring_view *r, uint64_t claimed, uint64_t ctl)
{
	if (claimed > chi_ld_rlx_u64(r->head))
		chi_ring_skip(r);
	else if (!chi_ring_repair(r, ctl))
		return 0;
	chi_ctr_add(&lr->shm->holes_skipped, 1);
	return 1;
}

/* A word at the head slot that neither a producer nor the consumer writes
 * there (another lap, state 3: a client's stray write) holds the ring
 * forever, producers included (P0 refuses the slot). After the hole
 * timeout it is put back to free when no claim for it was made (the claim
 * counter is not past head: CPU rings their tail, GPU rings the reaper's
 * copy of theirs), else skipped as a hole: the claimant's entry is lost
 * with the word. Counted as a skip either way. 1 if the head slot is such
 * a word (the ring's check is done). */
static int stray_head(chi_lane_ref *lr, uint32_t p, uint64_t *since, uint64_t now,
		      uint64_t timeout)
{
	chi_ring_view *r = &lr->v[p];
	uint64_t h = chi_ld_rlx_u64(r->head), ctl = chi_ring_peek(r, 0);
	if (!chi_ring_ctl_corrupt(r, h, ctl))
		return 0;
	if (!*since) {
		*since = now;
		return 1;
	}
	if (now - *since < timeout)
		return 1;
	uint64_t claimed = lr->gpu ? __atomic_load_n(&lr->shm->ring[p].claimed, __ATOMIC_ACQUIRE)
				   : chi_ld_rlx_u64(r->tail);
	if (!head_release(lr, r, claimed, ctl))
		return 1; /* it changed meanwhile: looked at again next time */
	*since = 0;
	return 1;
}

/* CC1: a CPU ring's claim counter behind its head, or more than a lap
 * ahead of it. Every ticket below head was claimed through the counter, and
 * P0 never claims a slot the consumer has not freed, so only a stray write
 * puts it there; producers then find each slot at the counter taken for
 * another lap and give up (P0), for good. After the hole timeout the
 * counter is set, by CAS from the value read, to the first ticket past
 * head whose slot is free for its lap. A ticket claimed but not yet marked
 * looks free too: if it is handed out again, RV1 lets one of its two
 * producers mark it and sends the other to claim again. Counted as a skip.
 * Returns 1 while the counter is out of place (the ring's check is done). */
static int tail_behind_head(chi_lane_ref *lr, chi_ring_view *r, uint64_t *since, uint64_t now,
			    uint64_t timeout)
{
	uint64_t t = chi_ld_rlx_u64(r->tail), h = chi_ld_rlx_u64(r->head), n = h;
	if (lr->gpu || (t >= h && t - h <= (uint64_t)r->mask + 1))
		return 0;
	if (!*since)
		*since = now;
	if (now - *since < timeout)
		return 1;
	for (; n - h <= r->mask; n++) {
		uint64_t ctl = chi_ld_acq_u64(&r->slots[n & r->mask].ctl);
		if (chi_slot_lap(ctl) != (uint32_t)(n >> r->shift) ||
		    chi_slot_state(ctl) == CHI_SLOT_EMPTY)
			break; /* free for its lap (or a stray word: stray_head's) */
	}
	if (chi_cas_u64(r->tail, &t, n)) {
		chi_ctr_add(&lr->shm->holes_skipped, 1);
		*since = 0;
	}
	return 1;
}

/* RV2 (include/chi/proto/ring.h): on a CPU ring, the tickets at head whose
 * slots nobody marked although the claim counter had passed them when the
 * hole timer started (tail0), a timeout ago: revoked one after another, head
 * moves past them. A producer that still marks one of them fails its P2
 * (RV1) and claims again, so nothing is lost; no dead client is needed (a
 * claim counter moved ahead by a stray write, a producer stopped between
 * its claim and its mark). Counted as skips. Returns how many. */
static uint64_t revoke_run(chi_lane_ref *lr, chi_ring_view *r, uint64_t tail0)
{
	uint64_t n = 0;
	if (lr->gpu)
		return 0;
	while (n <= r->mask && chi_ld_rlx_u64(r->head) < tail0 && chi_ring_revoke_head(r))
		n++; /* at most a lap: CC1 keeps the counter within one of head */
	if (n)
		chi_ctr_add(&lr->shm->holes_skipped, n);
	return n;
}

/* The hole check of every ring of w's lanes (the rule above). */
void chi_worker_check_holes(chi_worker *w, uint64_t now)
{
	uint64_t timeout = w->rt->cfg.hole_timeout_ms * 1000000ull;
	for (uint32_t i = 0; i < w->nlanes; i++) {
		chi_lane_ref *lr = &w->lanes[i];
		for (uint32_t p = 0; p < CHI_NPRIO; p++) {
			chi_ring_view *r = &lr->v[p];
			uint64_t *since = &w->hole_since[i * CHI_NPRIO + p];
			uint64_t *tail0 = &w->hole_tail[i * CHI_NPRIO + p]; /* RV2 */
			int later = 0;
			if (tail_behind_head(lr, r, since, now, timeout)) /* CC1 */
				continue;
			if (stray_head(lr, p, since, now, timeout))
				continue;
			/* a sealed entry whose words have not all arrived is a
			 * hole too (include/chi/proto/seal.h); so is a head slot
			 * claimed for its lap even with nothing behind it (its
			 * claimant named: a dead one's slice must come back) */
			if (!head_poppable(lr, p)) {
				uint64_t c0 = chi_ring_peek(r, 0);
				later = chi_slot_lap(c0) == (uint32_t)(chi_ld_rlx_u64(r->head) >> r->shift) &&
					chi_slot_state(c0) != CHI_SLOT_EMPTY;
				for (uint64_t a = 1; a <= 32 && a <= r->mask && !later; a++)
					later = chi_ring_ready(r, a);
				/* a claim whose mark never landed looks empty: a
				 * batch claims up to 64 at once, so more than 32 of
				 * them can stand before the next published slot;
				 * the claim counter tells (CPU rings: the tail) */
				if (!later && !lr->gpu)
					later = chi_ld_rlx_u64(r->head) < chi_ld_rlx_u64(r->tail);
				/* nothing behind it, but a claim beyond it is known
				 * (gpu_slices.c S4: a gone client's last claims) */
				if (!later && lr->gpu)
					later = chi_ld_rlx_u64(r->head) <
						__atomic_load_n(&lr->shm->ring[p].claimed,
								__ATOMIC_ACQUIRE);
			}
			if (!later) {
				*since = 0;
				continue;
			}
			if (!*since) {
				*since = now;
				*tail0 = lr->gpu ? 0 : chi_ld_rlx_u64(r->tail);
				continue;
			}
			if (now - *since < timeout)
				continue;
			if (revoke_run(lr, r, *tail0)) { /* RV2 */
				*since = 0;
				continue;
			}
			uint64_t ctl = chi_ring_peek(r, 0);
			/* CPU and GPU producers mark the slot they claim (P2), and a
			 * sealed publish names its client; id 0: it died before its
			 * mark landed, and any dead client counts */
			uint32_t st = chi_slot_state(ctl);
			uint32_t who = st == CHI_SLOT_CLAIMED ||
						(st == CHI_SLOT_PUBLISHED && (ctl & CHI_SLOT_SEALED))
					       ? chi_slot_client(ctl)
					       : 0;
			if (claimant_dead(w->rt, who, lr->gpu)) {
				/* a CPU ring's mark with no claim through the
				 * counter is a stray write; a GPU ring's claims
				 * are in device memory, so its hole is skipped */
				head_release(lr, r, lr->gpu ? UINT64_MAX : chi_ld_rlx_u64(r->tail), ctl);
				*since = 0;
			} else {
				chi_ctr_add(&lr->shm->hole_stalls, 1);
				*since = now; /* count again after another timeout */
			}
		}
	}
}
