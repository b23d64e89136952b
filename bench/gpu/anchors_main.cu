// bench/gpu/anchors_main.cu: standalone driver for the GPU anchors of
// bench/gpu/anchors.cu, for the device machine.
//
//   nvcc -std=c++17 -arch=sm_90 -O2 -o chi-gpu-anchors
//        bench/gpu/anchors_main.cu bench/gpu/anchors.cu   (one line)
//   ./chi-gpu-anchors [device=0] [n_pingpong=20000] [n_hostfunc=2000] [runs=1]
//
// Each run measures the ping-pong floor then launch + cudaLaunchHostFunc and
// prints median / p99 (nearest rank) / min / max of each, the host-clock view
// of the ping-pong, and how the device clock was read. Exit status 0 on
// success, 1 on any failure.
#include "anchors.h"

#include <cuda_runtime.h>

#include <stdio.h>
#include <stdlib.h>

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

struct stats {
	double median, p99;
	uint64_t min, max;
};

static stats summarize(uint64_t *v, size_t n)
{
	stats s;
	qsort(v, n, sizeof(*v), cmp_u64);
	s.median = (n & 1) ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2.0;
	size_t rank = (size_t)((double)n * 0.99);
	if ((double)rank < (double)n * 0.99)
		++rank; // ceil
	if (rank < 1)
		rank = 1;
	s.p99 = (double)v[rank - 1];
	s.min = v[0];
	s.max = v[n - 1];
	return s;
}

static void print_stats(const char *name, size_t n, stats s)
{
	printf("  %-26s n=%-6zu median %9.0f ns  p99 %9.0f ns  min %8llu  max %9llu\n", name, n,
	       s.median, s.p99, (unsigned long long)s.min, (unsigned long long)s.max);
}

static size_t arg_size(int argc, char **argv, int i, size_t dflt)
{
	if (argc <= i)
		return dflt;
	char *end = nullptr;
	unsigned long long v = strtoull(argv[i], &end, 10);
	if (!end || *end || v == 0) {
		fprintf(stderr, "bad argument '%s'\n", argv[i]);
		exit(2);
	}
	return (size_t)v;
}

int main(int argc, char **argv)
{
	const int device = argc > 1 ? atoi(argv[1]) : 0;
	const size_t n_pp = arg_size(argc, argv, 2, 20000);
	const size_t n_hf = arg_size(argc, argv, 3, 2000);
	const size_t runs = arg_size(argc, argv, 4, 1);

	cudaDeviceProp prop;
	cudaError_t e = cudaGetDeviceProperties(&prop, device);
	if (e != cudaSuccess) {
		fprintf(stderr, "cudaGetDeviceProperties(%d): %s\n", device, cudaGetErrorString(e));
		return 1;
	}
	printf("device %d: %s, sm_%d%d, %d SMs, PCI %04x:%02x:%02x\n", device, prop.name,
	       prop.major, prop.minor, prop.multiProcessorCount, prop.pciDomainID, prop.pciBusID,
	       prop.pciDeviceID);

	uint64_t *pp = (uint64_t *)malloc(n_pp * sizeof(uint64_t));
	uint64_t *pp_host = (uint64_t *)malloc(n_pp * sizeof(uint64_t));
	uint64_t *hf = (uint64_t *)malloc(n_hf * sizeof(uint64_t));
	if (!pp || !pp_host || !hf) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	int status = 0;
	for (size_t r = 0; r < runs; ++r) {
		chi_gpu_pingpong_info info;
		int rc = chi_gpu_pingpong_floor_ex(device, pp, pp_host, n_pp, &info);
		if (rc) {
			fprintf(stderr, "chi_gpu_pingpong_floor: %d (%s)\n", rc,
				chi_gpu_anchor_last_error());
			status = 1;
			break;
		}
		rc = chi_gpu_launch_host_func(device, hf, n_hf);
		if (rc) {
			fprintf(stderr, "chi_gpu_launch_host_func: %d (%s)\n", rc,
				chi_gpu_anchor_last_error());
			status = 1;
			break;
		}
		stats s_pp = summarize(pp, n_pp);
		stats s_ph = summarize(pp_host, n_pp);
		stats s_hf = summarize(hf, n_hf);
		printf("run %zu/%zu (device clock: %s, globaltimer step %llu ns, %.4f ns/cycle, "
		       "warmup %llu)\n",
		       r + 1, runs,
		       info.clock_source == CHI_GPU_CLOCK_GLOBALTIMER ? "globaltimer" : "SM cycles",
		       (unsigned long long)info.globaltimer_step_ns, info.ns_per_cycle,
		       (unsigned long long)info.warmup);
		print_stats("gpu_pingpong_floor", n_pp, s_pp);
		print_stats("  (host clock view)", n_pp, s_ph);
		print_stats("gpu_launch_host_func", n_hf, s_hf);
		printf("  launch_host_func / floor (medians): %.1fx\n", s_hf.median / s_pp.median);
		fflush(stdout);
	}
	free(pp);
	free(pp_host);
	free(hf);
	return status;
}
