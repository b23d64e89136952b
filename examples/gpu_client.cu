// examples/gpu_client.cu: submitting tasks from a CUDA kernel, in plain
// CUDA C. With a name it connects to that running runtime (`chi start`),
// else it embeds one. Each thread keeps up to 4 futures in flight from its
// slice's block pool and handles -EAGAIN (all blocks in flight) by waiting on
// its oldest future; then each warp submits its 32 tasks as one lane entry
// and waits for them with one poller. Every result is checked.
//
//   example_gpu_client [runtime-name]      exit 0 ok, 1 wrong, 77 no GPU
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern "C" {
#include "chi/chi.h"
#include "chi/config.h"
#include "chi/modules/test.h"
}
#include "chi/gpu/api.h"

#define INFLIGHT 4
#define PER_THREAD 16
#define WAIT_NS 20000000000ull /* 20 s: ends with -EOWNERDEAD sooner if the runtime dies */

/* Wait for one future, check value * 2 + gpu_id, count it. */
__device__ static void finish(const chi_gpu_ctx *g, chi_gpu_future *f, chi_test_double_plus_task *t,
			      unsigned long long *wrong, unsigned long long *done)
{
	uint64_t want = t->value * 2 + g->gpu_id;
	if (chi_gpu_future_wait(g, f, &t->hdr, chi_test_double_plus_de_out, WAIT_NS) != (int64_t)want)
		atomicAdd(wrong, 1ull);
	atomicAdd(done, 1ull);
}

__global__ void pool_kernel(chi_gpu_ctx g, unsigned long long *wrong, unsigned long long *done)
{
	uint32_t tid = blockIdx.x * blockDim.x + threadIdx.x;
	chi_test_double_plus_task t[INFLIGHT];
	chi_gpu_future f[INFLIGHT];
	int busy[INFLIGHT] = {0};
	for (uint32_t i = 0; i < PER_THREAD; i++) {
		uint32_t k = i % INFLIGHT;
		if (busy[k]) { /* the oldest future of this slot first */
			finish(&g, &f[k], &t[k], wrong, done);
			busy[k] = 0;
		}
		chi_test_double_plus_init(&t[k], CHI_POOL_TEST, ((uint64_t)tid << 16) | i, g.gpu_id);
		int rc;
		while ((rc = chi_gpu_make_copy_future(&g, tid, &t[k].hdr, chi_test_double_plus_ser_in,
						      &f[k])) == -CHI_EAGAIN) {
			/* every block of the lane is in flight: finish one of ours
			 * (never spin while holding blocks: all could end up held by
			 * spinners) */
			uint32_t o = 0;
			while (o < INFLIGHT && !busy[o])
				o++;
			if (o < INFLIGHT) {
				finish(&g, &f[o], &t[o], wrong, done);
				busy[o] = 0;
			} else {
				__nanosleep(1000); /* we hold none: others will give some back */
			}
		}
		if (rc)
			atomicAdd(wrong, 1ull);
		else
			busy[k] = 1;
	}
	for (uint32_t k = 0; k < INFLIGHT; k++)
		if (busy[k])
			finish(&g, &f[k], &t[k], wrong, done);
}

/* One lane entry per warp: thread i uses block (warp's base) + i of its
 * slice, so the launch must not have more warps than blk_count / 32. */
__global__ void warp_kernel(chi_gpu_ctx g, unsigned long long *wrong, unsigned long long *done)
{
	uint32_t warp = (blockIdx.x * blockDim.x + threadIdx.x) / 32;
	chi_test_double_plus_task t;
	chi_gpu_future f;
	chi_test_double_plus_init(&t, CHI_POOL_TEST, 1000000 + blockIdx.x * blockDim.x + threadIdx.x,
				  g.gpu_id);
	int64_t r = chi_gpu_make_copy_future_warp(&g, warp, (warp / g.nlanes) * 32, &t.hdr,
						  chi_test_double_plus_ser_in, &f);
	if (!r)
		r = chi_gpu_future_wait_warp(&g, &f, &t.hdr, chi_test_double_plus_de_out, WAIT_NS);
	if (r != (int64_t)(t.value * 2 + g.gpu_id))
		atomicAdd(wrong, 1ull);
	atomicAdd(done, 1ull);
}

int main(int argc, char **argv)
{
	int ndev = 0;
	if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
		fprintf(stderr, "example_gpu_client: no GPU\n");
		const char *req = getenv("CHI_REQUIRE_GPU");
		return req && !strcmp(req, "1") ? 1 : 77;
	}
	chi_gpu_cuda_enable(); /* before the runtime starts and before any GPU client */
	chi_runtime *rt = NULL;
	chi_client *c = NULL;
	int rc;
	if (argc > 1) {
		rc = chi_client_connect(argv[1], &c);
	} else {
		chi_config cfg;
		chi_config_defaults(&cfg);
		snprintf(cfg.name, sizeof(cfg.name), "gpuex%d", (int)getpid());
		cfg.num_workers = 2;
		rc = chi_runtime_start(&cfg, &rt);
		if (!rc)
			c = chi_runtime_client(rt);
	}
	if (rc) {
		fprintf(stderr, "example_gpu_client: %s\n", chi_strerror(rc));
		return 1;
	}
	chi_gpu_client *gc;
	rc = chi_gpu_client_open(c, 0, &gc);
	if (rc) {
		fprintf(stderr, "example_gpu_client: GPU 0: %s\n", chi_strerror(rc));
		return 1;
	}
	const chi_gpu_ctx *g = chi_gpu_client_ctx(gc);
	unsigned long long *d, h[4];
	cudaMalloc(&d, 32);
	cudaMemset(d, 0, 32);
	pool_kernel<<<32, 128>>>(*g, d, d + 1);
	uint32_t warps = g->blk_count / 32 * g->nlanes; /* one entry per warp, owned blocks */
	if (warps > 64)
		warps = 64;
	warp_kernel<<<warps, 32>>>(*g, d + 2, d + 3);
	cudaError_t e = cudaDeviceSynchronize();
	cudaMemcpy(h, d, 32, cudaMemcpyDeviceToHost);
	printf("pool: %llu tasks from %d threads, %llu wrong; warp batches: %llu tasks, %llu wrong "
	       "(slice: blocks %u..%u of each lane)\n",
	       h[1], 32 * 128, h[0], h[3], h[2], g->blk_base, g->blk_base + g->blk_count - 1);
	int ok = e == cudaSuccess && h[0] == 0 && h[2] == 0 && h[1] == 32ull * 128 * PER_THREAD &&
		 h[3] == 32ull * warps;
	cudaFree(d);
	chi_gpu_client_close(gc);
	if (rt)
		chi_runtime_stop(rt);
	else
		chi_client_close(c);
	printf("example_gpu_client: %s\n", ok ? "OK" : "FAILED");
	return ok ? 0 : 1;
}
