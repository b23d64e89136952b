/* chi/proto/future.h: the future block (chi_future_shm), 256 bytes at fixed
 * offsets, in the main segment's arena (CPU) or a GPU segment's arena.
 *
 *   0   flags    } the completion pair: one aligned 16-byte unit
 *   8   result   }
 *   16  futex    32-bit word host waiters sleep on (shared futex ops)
 *   20  waiters  set by a host waiter before it sleeps
 *   24  out_size output bytes the submitter reserved
 *   28  data_cap capacity of the arena block at `data` (0: inline copy space)
 *   32  data     chi_offptr of that arena block
 *   40  task_ptr pointer futures only: the task's address in the runtime
 *   48  client   submitting client id
 *   52  lane     lane the future was published on
 *   56  t_submit submit timestamp (ns) when this task is sampled for latency
 *   64  copy_space[192]
 *
 * Who writes what (no word is read-modified-written by both sides):
 *   submitter: everything before publishing the slot (F0: plain stores made
 *              visible by the slot's release publish, ring.h P4);
 *   worker:    output bytes, then the completion pair in one 16-byte store
 *              (F1: release; pairs with the waiter's F2) that overwrites
 *              flags with flags | COMPLETE [| ERROR] and result;
 *   waiter:    F2: acquire load of flags (host) or one 16-byte load of the
 *              pair (device), then reads outputs.
 * The one exception, on CPU lanes of the main segment: who has the block,
 * a worker that runs it or a waiter that gave up on a silent runtime
 * (FA1-FA3; GPU lanes do neither: a kernel cannot CAS host memory
 * atomically with the host over PCIe):
 *   FA1 worker: before it runs the task, CAS flags f -> f | STARTED, only
 *       from an f without ABANDONED; finding ABANDONED it does not run the
 *       task and completes the block with -ECANCELED;
 *   FA2 waiter: once it judges the runtime dead (-EOWNERDEAD: epoch,
 *       owner pid or a heartbeat still for 2 s), CAS flags f -> f |
 *       ABANDONED, only from an f without STARTED or COMPLETE. Success: the
 *       task never runs, and -EOWNERDEAD is final (a caller may submit it
 *       again). STARTED seen: the task was running when the runtime went
 *       silent; the waiter returns -ENOTRECOVERABLE (outcome unknown);
 *   FA3 an abandoned block stays allocated until its client closes (the
 *       reaper frees chunks only once the lanes have moved past them), so a
 *       stale slot never finds it reused.
 * Sleeping host waiters (Dekker pair, all seq_cst):
 *   waiter:  v = futex; waiters = 1; if !COMPLETE: futex_wait(futex, v)
 *   worker:  pair store; fence; futex += 1; if waiters: futex_wake(futex)
 *
 * Serialized task (copy space, or the arena block when it does not fit):
 *   [chi_task header 16 B][input payload in_size B][pad to 8][output out_size B]
 */
#ifndef CHI_PROTO_FUTURE_H
#define CHI_PROTO_FUTURE_H

#include "atomic.h"
#include "offptr.h"
#include "task.h"

#define CHI_FUTURE_COMPLETE 0x1ull
#define CHI_FUTURE_ERROR 0x2ull
#define CHI_FUTURE_COPY_FROM_CLIENT 0x4ull
#define CHI_FUTURE_POINTER 0x8ull
#define CHI_FUTURE_STARTED 0x10ull   /* FA1: a worker took it (CPU lanes) */
#define CHI_FUTURE_ABANDONED 0x20ull /* FA2: its waiter gave up; never run */

#define CHI_FUTURE_BLOCK 256u
#define CHI_COPY_SPACE 192u

typedef struct CHI_ALIGNAS(16) chi_future_shm {
	uint64_t flags;
	int64_t result;
	uint32_t futex;
	uint32_t waiters;
	uint32_t out_size;
	uint32_t data_cap;
	chi_offptr data;
	uint64_t task_ptr;
	uint32_t client;
	uint32_t lane;
	uint64_t t_submit;
	uint8_t copy_space[CHI_COPY_SPACE];
} chi_future_shm;

CHI_STATIC_ASSERT(sizeof(chi_future_shm) == CHI_FUTURE_BLOCK, "future block is 256 B");
CHI_STATIC_ASSERT(offsetof(chi_future_shm, result) == 8, "pair");
CHI_STATIC_ASSERT(offsetof(chi_future_shm, futex) == 16, "futex");
CHI_STATIC_ASSERT(offsetof(chi_future_shm, out_size) == 24, "out_size");
CHI_STATIC_ASSERT(offsetof(chi_future_shm, data) == 32, "data");
CHI_STATIC_ASSERT(offsetof(chi_future_shm, t_submit) == 56, "t_submit");
CHI_STATIC_ASSERT(offsetof(chi_future_shm, copy_space) == 64, "copy space");

/* Offset of the output area inside a serialized task. */
CHI_INLINE uint32_t chi_task_out_off(uint32_t in_size)
{
	return ((uint32_t)sizeof(chi_task) + in_size + 7u) & ~7u;
}
/* Bytes a serialized task with these sizes needs (header included), in 64
 * bits: sizes near 4 GiB must come out too large, not wrap to small (the
 * GPU submit paths check this before they stage anything). */
CHI_INLINE uint64_t chi_task_wire_size(uint32_t in_size, uint32_t out_size)
{
	return (((uint64_t)sizeof(chi_task) + in_size + 7u) & ~(uint64_t)7u) + out_size;
}

/* F2 (host flavour): acquire load of the flags word. */
CHI_INLINE uint64_t chi_future_flags(const chi_future_shm *f)
{
	return chi_ld_acq_u64(&f->flags);
}

#endif
