// tools/demo_gpu.cu: the GPU part of `chi demo` (built with CUDA): when a GPU
// is present, a kernel on every GPU submits test.double_plus from 64 x 128
// threads (4 in flight each) and checks value * 2 + gpu_id in every thread.
#include <cuda_runtime.h>
#include <stdio.h>

extern "C" {
#include "chi/chi.h"
#include "chi/modules/test.h"
}
#include "chi/gpu/api.h"

__global__ void demo_kernel(chi_gpu_ctx g, unsigned long long *counts)
{
	enum { K = 4 };
	uint32_t tid = blockIdx.x * blockDim.x + threadIdx.x;
	chi_test_double_plus_task t[K];
	chi_gpu_future f[K];
	int ok[K];
	for (int k = 0; k < K; k++) {
		chi_test_double_plus_init(&t[k], CHI_POOL_TEST, ((uint64_t)tid << 8) | k, g.gpu_id);
		ok[k] = chi_gpu_make_copy_future(&g, tid, &t[k].hdr, chi_test_double_plus_ser_in, &f[k]) == 0;
	}
	for (int k = 0; k < K; k++) {
		uint64_t want = t[k].value * 2 + g.gpu_id;
		if (!ok[k] || chi_gpu_future_wait(&g, &f[k], &t[k].hdr, chi_test_double_plus_de_out,
						  20000000000ull) != (int64_t)want ||
		    t[k].result != want)
			atomicAdd(&counts[1], 1ull);
		atomicAdd(&counts[0], 1ull);
	}
}

/* Returns 0 and the task and error counts, or -1 when there is no GPU path. */
extern "C" int chi_demo_gpu(chi_client *c, unsigned long long *tasks, unsigned long long *errors)
{
	uint32_t n = chi_gpu_count(c);
	*tasks = *errors = 0;
	if (!n)
		return -1;
	for (uint32_t g = 0; g < n; g++) {
		chi_gpu_client *gc;
		unsigned long long *d, h[2] = {0, 0};
		if (chi_gpu_client_open(c, g, &gc)) {
			(*errors)++;
			continue;
		}
		if (cudaSetDevice((int)g) != cudaSuccess || cudaMalloc(&d, 16) != cudaSuccess) {
			(*errors)++;
			chi_gpu_client_close(gc);
			continue;
		}
		cudaMemset(d, 0, 16);
		demo_kernel<<<64, 128>>>(*chi_gpu_client_ctx(gc), d);
		if (cudaDeviceSynchronize() != cudaSuccess ||
		    cudaMemcpy(h, d, 16, cudaMemcpyDeviceToHost) != cudaSuccess)
			(*errors)++;
		printf("chi demo: GPU %u: %llu tasks from 8192 kernel threads, %llu wrong\n", g, h[0], h[1]);
		*tasks += h[0];
		*errors += h[1];
		cudaFree(d);
		chi_gpu_client_close(gc);
	}
	return 0;
}
