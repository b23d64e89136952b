/* fuzz/fuzz_batch.c: libFuzzer target for the worker's side of packed warp
 * batches (include/chi/proto/batch.h): arbitrary bytes as a batch's header
 * line, pairs and wires (a GPU client may write anything there), published
 * on a simulated GPU lane of a real embedded runtime, so the runtime's own
 * worker runs them (src/runtime/run_task.c, run_batch). Must never crash or
 * write out of the batch's blocks, and must complete every pair and then
 * the done pair within 40 s (test.spin may take 1 s a task, 32 tasks): a
 * batch that leaves a waiter hanging is a bug.
 * Input: byte 0 picks the task count (2..32), byte 1 helpers (bit 0: a
 * well-formed header word with stride 16 * (1 + byte 2 % 12); bit 1: task
 * headers of the test module's methods in every wire), then the area. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chi/chi.h"
#include "chi/gpu/api.h"
#include "chi/modules/test.h"

static const chi_gpu_ctx *x;

static void start(void)
{
	chi_gpu_simulate(1);
	chi_config c;
	chi_config_defaults(&c);
	snprintf(c.name, sizeof(c.name), "fb%d", (int)getpid());
	c.num_workers = 1;
	c.lanes = 1;
	c.gpu_enabled = CHI_ON;
	c.gpu_lanes = 1;
	c.gpu_queue_depth = 64;
	c.gpu_segment_size = 16u << 20;
	c.gpu_clients = 1;
	c.npools = 2;
	chi_runtime *rt;
	chi_gpu_client *gc;
	if (chi_runtime_start(&c, &rt) || chi_gpu_client_open(chi_runtime_client(rt), 0, &gc))
		abort();
	x = chi_gpu_client_ctx(gc); /* kept for the process's life */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	if (!x)
		start();
	uint32_t n = 2 + data[0] % 31, pick = data[1];
	uint8_t *area = x->base + chi_gpu_block_off(x, 0, x->blk_base);
	size_t room = (size_t)n * CHI_FUTURE_BLOCK, len = size - 3 > room ? room : size - 3;
	memset(area, 0, room);
	memcpy(area, data + 3, len);
	uint32_t stride = 16u * (1u + data[2] % 12u);
	uint64_t *hdr = (uint64_t *)(void *)area;
	if (pick & 1)
		hdr[0] = chi_batch_hdr_word(n, stride);
	if (pick & 2)
		for (uint32_t k = 0; k < n; k++) {
			uint8_t *w = area + chi_batch_wire_off(n, stride, k);
			chi_task t;
			uint16_t m = (uint16_t)(w[0] % CHI_TEST_NMETHODS);
			chi_task_init(&t, CHI_POOL_TEST, m == CHI_TEST_SPIN ? CHI_TEST_NOOP : m, 0);
			t.in_size = w[1] % 64u;
			t.out_size = w[2] % 64u;
			memcpy(w, &t, sizeof(t));
		}
	hdr[2] = hdr[3] = 0; /* the done pair, B0 */
	uint8_t tail[64];
	memcpy(tail, area + room, sizeof(tail)); /* the next block: not the batch's */
	chi_gpu_publish(x, 0, 0, (uint64_t)(area - x->base), n);
	chi_gpu_future d;
	memset(&d, 0, sizeof(d));
	d.shm = (chi_future_shm *)(void *)(area + CHI_BATCH_DONE);
	uint64_t fl;
	int64_t r;
	if (chi_gpu_future_poll(x, &d, 40000000000ull, &fl, &r))
		abort(); /* the worker left the batch's waiters hanging */
	for (uint32_t k = 0; k < n; k++) {
		const uint64_t *pair = (const uint64_t *)(const void *)(area + chi_batch_pair_off(k));
		if (!(__atomic_load_n(pair, __ATOMIC_ACQUIRE) & CHI_FUTURE_COMPLETE))
			abort(); /* B3: every pair before the done pair */
	}
	if (memcmp(tail, area + room, sizeof(tail)))
		abort(); /* written past the batch */
	return 0;
}
