/* fuzz/fuzz_batch.c: libFuzzer target for the worker's side of packed warp
 * batches (include/chi/proto/batch.h): arbitrary bytes as a batch's header
 * line, pairs and wires (a GPU client may write anything there), published
 * on a simulated GPU lane of a real embedded runtime with one worker, so
 * that worker runs them (src/runtime/run_task.c, run_batch). Must never
 * crash or write out of the batch's blocks, and must complete every pair
 * and then the done pair (fuzz/batch_input.h: the input's shape and the
 * checks). fuzz_handoff.c runs the same batches through a lane helper. */
#include "batch_input.h"

static const chi_gpu_ctx *x;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	if (!x)
		x = fuzz_batch_runtime("fb", 1, 0);
	uint32_t n = 2 + data[0] % 31;
	uint8_t *area = fuzz_batch_area(x, 0), tail[64];
	fuzz_batch_fill(area, n, data[1], data[2], data + 3, size - 3);
	memcpy(tail, area + (size_t)n * CHI_FUTURE_BLOCK, sizeof(tail));
	chi_gpu_publish(x, 0, 0, (uint64_t)(area - x->base), n);
	fuzz_batch_check(x, area, n, tail);
	return 0;
}
