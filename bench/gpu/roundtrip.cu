// bench/gpu/roundtrip.cu: the round-trip entries of `chi-bench gpu`:
//   gpu_roundtrip_thread    1 GPU thread, 1 test.noop in flight; 5 runs
//                           interleaved with the floor and with launch +
//                           host func, median of medians (its log line gives
//                           the ratio to host func, the 10x target, and the
//                           fenced path's round trip, interleaved too: what
//                           sealing saves, include/chi/proto/seal.h)
//   gpu_roundtrip_warp      32 threads of one warp, 1 in flight each
//   gpu_roundtrip_sleeping  1 GPU thread, 1 noop per kernel, each after 20 ms
//                           of idle (the lane's worker asleep)
// Times come from %globaltimer on the GPU. CHI_BENCH_DIAG=1 prints
// percentiles of each run's samples (floor and chi).
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpu/grt.h"
extern "C" {
#include "chi/modules/test.h"
#include "gpu/anchors.h"
}

/* seal 0: every task on the fenced path (chi_gpu_submit_owned), to show
 * what sealing saves */
__global__ void roundtrip_kernel(chi_gpu_ctx g, uint32_t n, uint32_t warm, uint64_t *samples,
				 unsigned long long *errors, int seal)
{
	uint32_t tid = threadIdx.x;
	for (uint32_t i = 0; i < n + warm; i++) {
		chi_test_noop_task t;
		chi_test_noop_init(&t, CHI_POOL_TEST);
		chi_gpu_future f;
		uint64_t t0 = chi_hd_now_ns();
		if (chi_gpu_submit_owned(&g, 0, tid, &t.hdr, chi_test_noop_ser, &f, seal)) {
			atomicAdd(errors, 1ull);
			return;
		}
		if (chi_gpu_future_wait(&g, &f, &t.hdr, 0, 10000000000ull) != 0) {
			atomicAdd(errors, 1ull);
			return;
		}
		uint64_t t1 = chi_hd_now_ns();
		if (i >= warm)
			samples[(uint64_t)(i - warm) * blockDim.x + tid] = t1 - t0;
	}
}

/* n round trips per thread of one block of `threads` threads. idle_ms 0:
 * one kernel, after n / 10 + 10 warm-up round trips. Otherwise one round
 * trip per kernel, each launched after the host idled idle_ms, so the GPU
 * lane's worker is asleep when the task arrives (it sleeps after
 * first_busy_wait_us, 2 ms here). */
static int roundtrip_run(const grt *g, uint32_t threads, uint32_t n, uint32_t idle_ms,
			 uint64_t *host, int seal)
{
	uint64_t *d;
	unsigned long long *err, herr = 0;
	CUDA_TRY(cudaMalloc(&d, (size_t)n * threads * 8));
	CUDA_TRY(cudaMalloc(&err, 8));
	CUDA_TRY(cudaMemset(err, 0, 8));
	if (!idle_ms)
		roundtrip_kernel<<<1, threads>>>(g->ctx, n, n / 10 + 10, d, err, seal);
	for (uint32_t k = 0; idle_ms && k < n; k++) {
		usleep(idle_ms * 1000);
		roundtrip_kernel<<<1, threads>>>(g->ctx, 1, 0, d + (size_t)k * threads, err, seal);
		CUDA_TRY(cudaDeviceSynchronize());
	}
	CUDA_TRY(cudaGetLastError());
	CUDA_TRY(cudaDeviceSynchronize());
	CUDA_TRY(cudaMemcpy(host, d, (size_t)n * threads * 8, cudaMemcpyDeviceToHost));
	CUDA_TRY(cudaMemcpy(&herr, err, 8, cudaMemcpyDeviceToHost));
	cudaFree(d);
	cudaFree(err);
	return herr ? -EIO : 0;
}

/* n round trips of one thread after 20 ms idle each, on a runtime of its own
 * (started with g_gpu_sleep_us as it is now). */
static int sleeping_run(uint32_t n, uint64_t *host)
{
	grt g;
	int rc = grt_start(&g, 1, 1024, 2, 1);
	if (rc)
		return rc;
	rc = roundtrip_run(&g, 1, n, 20, host, 1);
	grt_stop(&g);
	return rc;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* CHI_BENCH_DIAG: percentiles of one run's samples (sorts them) */
static void diag_shape(const chi_bench_opts *o, const char *what, int k, uint64_t *v, uint32_t n)
{
	chi_bench_sort_u64(v, n);
	chi_bench_log(o, "  diag run %d %s: p10 %llu p25 %llu p50 %llu p75 %llu p90 %llu ns\n", k,
		      what, (unsigned long long)v[n / 10], (unsigned long long)v[n / 4],
		      (unsigned long long)v[n / 2], (unsigned long long)v[3 * n / 4],
		      (unsigned long long)v[9 * n / 10]);
}

int e_rt_thread(const chi_bench_opts *o, chi_bench_result *r)
{
	if (!dev_count())
		return 77;
	grt g;
	int rc = grt_start(&g, 1, 1024, 2, 1);
	if (rc)
		return rc;
	uint32_t n = o->quick ? 2000 : 20000, nh = o->quick ? 200 : 1000;
	uint64_t *s = (uint64_t *)malloc((size_t)n * 8), *fs = (uint64_t *)malloc((size_t)n * 8);
	double med[5], fmed[5], hmed[5], umed[5];
	chi_bench_result tmp;
	chi_bench_result_init(&tmp, "");
	/* interleaved with the floor and with launch + host func (the 10x
	 * target), so all three see the same state of the machine */
	for (int k = 0; k < 5 && !rc; k++) {
		rc = chi_gpu_pingpong_floor(0, fs, n);
		if (!rc && getenv("CHI_BENCH_DIAG"))
			diag_shape(o, "floor", k, fs, n);
		if (!rc) {
			chi_bench_result_from_samples(&tmp, fs, n);
			fmed[k] = tmp.median_ns;
			rc = chi_gpu_launch_host_func(0, fs, nh);
		}
		if (!rc) {
			chi_bench_result_from_samples(&tmp, fs, nh);
			hmed[k] = tmp.median_ns;
			rc = roundtrip_run(&g, 1, n, 0, s, 1);
		}
		if (!rc && getenv("CHI_BENCH_DIAG")) /* the shape: one mode or two */
			diag_shape(o, "chi", k, s, n);
		if (!rc) {
			chi_bench_result_from_samples(&tmp, s, n);
			med[k] = tmp.median_ns;
			if (k == 4)
				*r = tmp;
			rc = roundtrip_run(&g, 1, n, 0, fs, 0); /* the fenced path, same blocks */
		}
		if (!rc) {
			chi_bench_result_from_samples(&tmp, fs, n);
			umed[k] = tmp.median_ns;
		}
	}
	grt_stop(&g);
	if (!rc) {
		qsort(med, 5, sizeof(double), cmp_d);
		qsort(fmed, 5, sizeof(double), cmp_d);
		qsort(hmed, 5, sizeof(double), cmp_d);
		qsort(umed, 5, sizeof(double), cmp_d);
		snprintf(r->name, sizeof(r->name), "gpu_roundtrip_thread");
		r->median_ns = med[2];
		r->ops_per_s = 1e9 / med[2];
		r->anchor_median_ns = fmed[2]; /* the ratio is against the interleaved floor */
		chi_bench_log(o, "gpu_roundtrip_thread: 5 runs interleaved with the floor: "
				 "chi median of medians %.0f ns, floor %.0f ns, ratio %.2f "
				 "(chi runs %.0f..%.0f, floor runs %.0f..%.0f)\n",
			      med[2], fmed[2], med[2] / fmed[2], med[0], med[4], fmed[0], fmed[4]);
		chi_bench_log(o, "gpu_roundtrip_thread: launch + host func interleaved the same way: "
				 "median of medians %.2f us (runs %.2f..%.2f): the round trip is "
				 "%.1fx faster (target >= 10x)\n",
			      hmed[2] / 1e3, hmed[0] / 1e3, hmed[4] / 1e3, hmed[2] / med[2]);
		chi_bench_log(o, "gpu_roundtrip_thread: the fenced path (chi_gpu_submit_owned, seal 0) "
				 "interleaved the same way: median of medians %.0f ns (runs "
				 "%.0f..%.0f), ratio to the floor %.2f; sealed saves %.0f ns\n",
			      umed[2], umed[0], umed[4], umed[2] / fmed[2], umed[2] - med[2]);
	}
	free(s);
	free(fs);
	return rc;
}

int e_rt_warp(const chi_bench_opts *o, chi_bench_result *r)
{
	if (!dev_count())
		return 77;
	grt g;
	int rc = grt_start(&g, 1, 1024, 2, 1);
	if (rc)
		return rc;
	uint32_t n = o->quick ? 500 : 5000;
	uint64_t *s = (uint64_t *)malloc((size_t)n * 32 * 8);
	rc = roundtrip_run(&g, 32, n, 0, s, 1);
	if (!rc) {
		chi_bench_result_from_samples(r, s, (size_t)n * 32);
		r->ops_per_s = 32e9 / r->median_ns; /* 32 round trips in flight */
		r->lanes = 1;
		r->depth = 1024;
	}
	grt_stop(&g);
	free(s);
	return rc;
}

/* gpu_roundtrip_sleeping: with gpu.max_sleep_us at its default, then (for
 * the log) at runtime.max_sleep_us's default, the bound GPU workers had
 * before gpu.max_sleep_us. */
int e_rt_sleeping(const chi_bench_opts *o, chi_bench_result *r)
{
	if (!dev_count())
		return 77;
	uint32_t n = o->quick ? 8 : 40;
	uint64_t *s = (uint64_t *)malloc((size_t)n * 8);
	if (!s)
		return -ENOMEM;
	int rc = sleeping_run(n, s);
	uint64_t mine = g_gpu_sleep_us;
	if (!rc) {
		chi_bench_result_from_samples(r, s, n);
		chi_config d;
		chi_config_defaults(&d);
		g_gpu_sleep_us = d.max_sleep_us;
		rc = sleeping_run(n, s);
		g_gpu_sleep_us = mine;
	}
	if (!rc) {
		chi_bench_result old;
		chi_bench_result_init(&old, "");
		chi_bench_result_from_samples(&old, s, n);
		chi_bench_log(o, "gpu_roundtrip_sleeping: %u round trips, each after 20 ms idle: "
				 "median %.1f us (p99 %.1f) with gpu.max_sleep_us %llu; %.1f us "
				 "(p99 %.1f) when GPU workers slept up to runtime.max_sleep_us\n",
			      n, r->median_ns / 1e3, r->p99_ns / 1e3,
			      (unsigned long long)g_gpu_sleep_us, old.median_ns / 1e3, old.p99_ns / 1e3);
	}
	free(s);
	return rc;
}
