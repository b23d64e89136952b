// bench/gpu/echo_big.cu: `chi-bench gpu` entries of the largest task a
// kernel sends, against a runtime of the default configuration
// (grt_start_defaults):
//   memcpy_1mib                 anchor: cudaMemcpy of memory.max_task_size - 4
//                               bytes device to pinned host, then back;
//                               median of 20
//   gpu_echo_1mib               one GPU thread echoes memory.max_task_size - 4
//                               bytes (the largest echo: its 4-byte length
//                               counts) from a device buffer into a device
//                               reply buffer (a big data block each way);
//                               median of 20 round trips (5 with --quick);
//                               ratio over memcpy_1mib
// Every result is checked; a wrong one fails the entry with -EIO.
#include <stdlib.h>
#include <string.h>

#include "gpu/grt.h"
extern "C" {
#include "chi/modules/test.h"
}

#define ECHO_WAIT_NS 30000000000ull /* a wait's deadline: 30 s */

/* memory.max_task_size - 4 of the default configuration (and environment):
 * the largest echo payload. 0 on a configuration error. */
static uint32_t echo_big_len(void)
{
	chi_config c;
	if (grt_default_config(&c, 1))
		return 0;
	return (uint32_t)(c.max_task_size - 4);
}

int e_memcpy_1mib(const chi_bench_opts *o, chi_bench_result *r)
{
	if (!dev_count())
		return 77;
	uint32_t len = echo_big_len();
	if (!len)
		return -EINVAL;
	const uint32_t n = 20, warm = 2;
	uint8_t *d, *h;
	uint64_t s[20];
	CUDA_TRY(cudaMalloc(&d, len));
	CUDA_TRY(cudaMallocHost(&h, len));
	memset(h, 0x5a, len);
	for (uint32_t i = 0; i < warm + n; i++) {
		uint64_t t0 = chi_bench_now_ns();
		CUDA_TRY(cudaMemcpy(h, d, len, cudaMemcpyDeviceToHost));
		CUDA_TRY(cudaMemcpy(d, h, len, cudaMemcpyHostToDevice));
		if (i >= warm)
			s[i - warm] = chi_bench_now_ns() - t0;
	}
	cudaFreeHost(h);
	cudaFree(d);
	chi_bench_result_from_samples(r, s, n);
	r->ops_per_s = 1e9 / r->median_ns;
	chi_bench_log(o, "memcpy_1mib: %u bytes device -> pinned host -> device: median %.1f us, "
			 "%.2f GB/s (bytes / round trip)\n",
		      len, r->median_ns / 1e3, len / r->median_ns);
	return 0;
}

/* One thread (threadIdx 0) echoes len bytes from src into reply, n + warm
 * times; the block stamps src with round i's pattern before and checks the
 * reply after each. samples: n round trips (submit to wait's end), ns. */
__global__ void echo_big_kernel(chi_gpu_ctx g, uint8_t *src, uint8_t *reply, uint32_t len,
				uint32_t n, uint32_t warm, uint64_t *samples,
				unsigned long long *wrong)
{
	__shared__ int ok;
	for (uint32_t i = 0; i < warm + n; i++) {
		for (uint32_t j = threadIdx.x; j < len; j += blockDim.x)
			src[j] = chi_test_pattern(i, j);
		__syncthreads();
		if (threadIdx.x == 0) {
			chi_test_echo_task t;
			chi_test_echo_init(&t, CHI_POOL_TEST, src, len, reply, len);
			chi_gpu_future f;
			uint32_t ns = 32;
			uint64_t t0 = chi_hd_now_ns();
			int64_t rc;
			while ((rc = chi_gpu_make_copy_future(&g, 0, &t.hdr, chi_test_echo_ser_in, &f)) ==
				       -CHI_EAGAIN &&
			       chi_hd_now_ns() - t0 < ECHO_WAIT_NS)
				chi_gpu_backoff(&ns);
			if (!rc)
				rc = chi_gpu_future_wait(&g, &f, &t.hdr, chi_test_echo_de_out, ECHO_WAIT_NS);
			if (i >= warm)
				samples[i - warm] = chi_hd_now_ns() - t0;
			ok = rc == (int64_t)len && t.reply_len == len;
		}
		__syncthreads();
		if (!ok) { /* the same for every thread */
			if (threadIdx.x == 0)
				atomicAdd(wrong, 1ull);
			return;
		}
		unsigned long long bad = 0;
		for (uint32_t j = threadIdx.x; j < len; j += blockDim.x)
			bad += reply[j] != chi_test_pattern(i, j);
		if (bad)
			atomicAdd(wrong, bad);
		__syncthreads(); /* checked before the next round writes reply */
	}
}

static int echo_big_run(const chi_bench_opts *o, chi_bench_result *r, const grt *g)
{
	uint32_t len = (uint32_t)(g->ctx.max_task - 4), n = o->quick ? 5 : 20, warm = 2;
	uint8_t *src, *reply;
	uint64_t *d, s[20];
	unsigned long long *wrong, herr = 0;
	CUDA_TRY(cudaMalloc(&src, len));
	CUDA_TRY(cudaMalloc(&reply, len));
	CUDA_TRY(cudaMalloc(&d, n * 8));
	CUDA_TRY(cudaMalloc(&wrong, 8));
	CUDA_TRY(cudaMemset(wrong, 0, 8));
	echo_big_kernel<<<1, 256>>>(g->ctx, src, reply, len, n, warm, d, wrong);
	CUDA_TRY(cudaGetLastError());
	CUDA_TRY(cudaDeviceSynchronize());
	CUDA_TRY(cudaMemcpy(s, d, n * 8, cudaMemcpyDeviceToHost));
	CUDA_TRY(cudaMemcpy(&herr, wrong, 8, cudaMemcpyDeviceToHost));
	cudaFree(src);
	cudaFree(reply);
	cudaFree(d);
	cudaFree(wrong);
	if (herr) {
		fprintf(stderr, "chi-bench gpu: gpu_echo_1mib: %llu wrong (a failed round trip, "
				"or bytes that differ)\n", herr);
		return -EIO;
	}
	chi_bench_result_from_samples(r, s, n);
	r->ops_per_s = 1e9 / r->median_ns; /* round trips per second */
	r->lanes = g->ctx.nlanes;
	r->depth = g->ctx.depth;
	chi_bench_log(o, "gpu_echo_1mib: %u bytes each way, 1 GPU thread: median %.1f us "
			 "(p99 %.1f us) per round trip, %.2f GB/s (bytes / round trip)\n",
		      len, r->median_ns / 1e3, r->p99_ns / 1e3, len / r->median_ns);
	return 0;
}

int e_echo_1mib(const chi_bench_opts *o, chi_bench_result *r)
{
	if (!dev_count())
		return 77;
	grt g;
	int rc = grt_start_defaults(&g, 1);
	if (rc)
		return rc;
	rc = echo_big_run(o, r, &g);
	grt_stop(&g);
	return rc;
}
