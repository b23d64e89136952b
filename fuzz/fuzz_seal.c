/* fuzz/fuzz_seal.c: libFuzzer target for the worker's side of sealed GPU
 * entries (include/chi/proto/seal.h): a slot and four inboxes with
 * arbitrary contents (a client may write anything there), through the same
 * readiness check and pop a worker runs (src/queue/seal.c), then the wire
 * check and every test/admin decoder on the payload taken, as the worker
 * runs a sealed task. Must never crash or read out of bounds, never take
 * more than an inbox holds, and leave the slot free after a pop. Input byte
 * 0 picks helpers (a well-formed control word, a pointer to one of the
 * blocks, marks on every word) so the fuzzer reaches the deep paths. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chi/modules/admin.h"
#include "chi/modules/test.h"
#include "queue/seal.h"
#include "runtime/runtime.h"
#include "task/wire.h"

#define SLOTS_OFF 4096u
#define BLOCKS_OFF 8192u
#define NBLK 4u
#define INBOX_OFF (BLOCKS_OFF + NBLK * CHI_FUTURE_BLOCK)
#define SEG_SIZE (INBOX_OFF + NBLK * CHI_SEAL_BYTES)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t seg[SEG_SIZE] __attribute__((aligned(64)));
	static chi_lane_shm lane;
	static uint64_t scratch[CHI_TASK_SCRATCH / 8];
	if (size < 17)
		return 0;
	memset(seg, 0, sizeof(seg));
	uint8_t pick = data[0];
	chi_slot *slots = (chi_slot *)(void *)(seg + SLOTS_OFF);
	memcpy(&slots[0], data + 1, 16);
	if (pick & 1)
		slots[0].ctl = chi_slot_ctl(0, CHI_SLOT_PUBLISHED, 1, data[1]) | CHI_SLOT_SEALED;
	if (pick & 2)
		slots[0].ptr = chi_offptr_make(CHI_SEG_ID_GPU_BASE,
					       BLOCKS_OFF + (uint64_t)(data[2] & 3u) * CHI_FUTURE_BLOCK);
	size_t n = size - 17 > NBLK * CHI_SEAL_BYTES ? NBLK * CHI_SEAL_BYTES : size - 17;
	memcpy(seg + INBOX_OFF, data + 17, n);
	if (pick & 4)
		for (uint32_t k = 0; k < NBLK * CHI_SEAL_WORDS; k++) {
			uint64_t *w = (uint64_t *)(void *)(seg + INBOX_OFF) + k;
			*w = (uint32_t)*w | (uint64_t)CHI_SEAL_MARK << 32;
		}
	uint64_t tail = 1, head = 0;
	chi_ring_view r = {slots, &tail, &head, 3, 2, NULL};
	chi_seal_lane sl = {seg, BLOCKS_OFF, BLOCKS_OFF + NBLK * CHI_FUTURE_BLOCK,
			    INBOX_OFF - BLOCKS_OFF, CHI_SEG_ID_GPU_BASE, 0, &lane};
	int ready = chi_seal_head_ready(&sl, &r, CHI_PRIO_LATENCY);
	chi_offptr first = 0;
	chi_sealed sx;
	uint32_t count = chi_seal_pop(&sl, &r, CHI_PRIO_LATENCY, &first, &sx);
	if ((count != 0) != (ready != 0))
		abort(); /* the check and the pop must agree */
	if (!count)
		return 0;
	if (head != 1 || slots[0].ptr != 0 || chi_slot_state(slots[0].ctl) != CHI_SLOT_EMPTY)
		abort(); /* C3-C4 */
	if (!sx.n)
		return 0; /* not sealed: the fenced path's checks (fuzz_task) */
	if (sx.n < 4 || sx.n > CHI_SEAL_WORDS)
		abort();
	const chi_task *h = (const chi_task *)(const void *)sx.pay;
	if (h->in_size > CHI_SEAL_MAX_IN)
		return 0; /* the worker fails it (run_task.c, run_sealed) */
	if (sx.n != 4 + (h->in_size + 3) / 4)
		abort();
	chi_task hdr;
	if (chi_wire_check((const uint8_t *)sx.pay, CHI_COPY_SPACE, h->out_size, 1u << 20, &hdr))
		return 0;
	const chi_module *mods[2] = {&chi_admin_module, &chi_test_module};
	for (int m = 0; m < 2; m++)
		if (hdr.method < mods[m]->nmethods)
			chi_wire_decode(mods[m]->methods[hdr.method].codec, &hdr,
					(const uint8_t *)sx.pay, scratch);
	return 0;
}
