/* fuzz/fuzz_handoff.c: libFuzzer target for lane helpers
 * (src/runtime/handoff.h). The runtime's GPU lane owner has one helper;
 * each input becomes two identical packed batches on consecutive tickets,
 * the second published first, so the owner, finding the second behind the
 * first, hands the first to the helper (H1). Both must pass fuzz_batch's checks
 * (fuzz/batch_input.h) and end the same way, pair by pair, whichever
 * worker ran them: every pair of a batch whose header lies, and the pairs
 * of test-pool tasks (their results depend on their inputs alone; an admin
 * task's may not: a stats call, or a pool created by the first batch that
 * the second then finds existing). Slower than fuzz_batch (three workers and the fuzzer on
 * CI's two cores), so fuzz_batch keeps the single-worker runs. */
#include "batch_input.h"

static const chi_gpu_ctx *x;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	if (!x) /* CPU lanes, the helper, the GPU lane's owner */
		x = fuzz_batch_runtime("fh", 3, 1);
	uint32_t n = 2 + data[0] % 31;
	uint8_t *area[2], tail[2][64], same[32];
	for (int i = 0; i < 2; i++) {
		area[i] = fuzz_batch_area(x, i);
		fuzz_batch_fill(area[i], n, data[1], data[2], data + 3, size - 3);
		memcpy(tail[i], area[i] + (size_t)n * CHI_FUTURE_BLOCK, 64);
	}
	uint32_t stride = chi_batch_check(*(const uint64_t *)(const void *)area[0], n);
	for (uint32_t k = 0; k < n; k++) {
		chi_pool_id pool = CHI_POOL_TEST;
		if (stride)
			memcpy(&pool, area[0] + chi_batch_wire_off(n, stride, k), sizeof(pool));
		same[k] = pool == CHI_POOL_TEST;
	}
	/* two tickets, the second published first: when the owner finds the
	 * first, the second already waits behind it, so the first is handed on */
	chi_ring_view v;
	chi_gpu_ring(x, 0, 0, &v);
	uint64_t t = chi_faa_u64(v.tail, 2);
	for (int i = 2; i-- > 0;)
		chi_ring_publish(&v, t + (uint64_t)i,
				 chi_offptr_make(x->seg_id, (uint64_t)(area[i] - x->base)), n, x->client);
	for (int i = 0; i < 2; i++)
		fuzz_batch_check(x, area[i], n, tail[i]);
	/* the same bytes: the same outcome, pair by pair */
	for (uint32_t k = 0; k < n; k++)
		if (same[k] &&
		    memcmp(area[0] + chi_batch_pair_off(k), area[1] + chi_batch_pair_off(k), 16))
			abort();
	return 0;
}
