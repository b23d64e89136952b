// bench/gpu/bench_gpu.cu: `chi-bench gpu` (docs/benchmarks.md, Method).
//   pingpong_floor          anchor: 1 GPU thread <-> 1 host thread on a pinned
//                           flag (bench/gpu/anchors.cu)
//   launch_host_func        anchor: kernel launch + cudaLaunchHostFunc + sync
//   gpu_roundtrip_thread/warp/sleeping  bench/gpu/roundtrip.cu
//   gpu_throughput_lanes1/4 all SMs x 128 threads, 1 in flight per thread,
//                           median of 3 timed kernels,
//                           depth >= threads per lane, 1 worker per lane
//   cpu_roundtrip_no_gpu    anchor: in-process CPU round trip, 1 worker, no
//                           GPU lanes
//   cpu_roundtrip_with_gpu_lanes  the same while that worker also polls a GPU lane
//   gpu_throughput_warp_batch_lanes1/2  the same, each warp's 32 tasks in one
//                           lane entry, and 2 lane helpers per lane
//                           (gpu.lane_helpers, src/runtime/handoff.h): the
//                           owner pops, the helpers run most batches
//   gpu_throughput_warp_batch_lanes1/2_nohelp  the same with 1 worker per lane
//   gpu_throughput_pool_*, gpu_throughput_3_processes, memcpy_1mib,
//   gpu_echo_1mib           the pool path, default config: bench/gpu/pool.cu
// Submissions use caller-owned blocks (chi_gpu_make_copy_future_at).
// Quiet host: idle workers sleep after 2 ms (a worker with a GPU lane wakes
// every gpu.max_sleep_us, 100 us, to poll) and the host thread waits for a
// throughput kernel on a blocking-sync event, so the only spinning CPUs are
// the workers with work (bench/gpu/grt.cu): spinning bystanders slowed the
// GPU lanes' workers. CHI_BENCH_DIAG=1 adds each lane's backlog and the
// submit/wait split of the first timed kernel.
// Times on the GPU come from %globaltimer; throughput from CUDA events.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpu/grt.h"
extern "C" {
#include "chi/modules/test.h"
#include "gpu/anchors.h"
#include "gpu/backlog.h"
#include "ipc/client.h"
}

/* One task per thread in flight, into the block the thread owns: a noop,
 * or (dp) test.double_plus of a value unique to (tid, i), its result
 * checked: the task the pool entries send, so that pool / owned compares
 * the submit path alone. acc (CHI_BENCH_DIAG=1, else NULL): summed ns in
 * submit [0] and wait [1]. */
__global__ void throughput_kernel(chi_gpu_ctx g, uint32_t per_thread, unsigned long long *errors,
				  unsigned long long *acc, int dp)
{
	uint32_t tid = blockIdx.x * blockDim.x + threadIdx.x;
	uint64_t ts = 0, tw = 0;
	for (uint32_t i = 0; i < per_thread; i++) {
		chi_test_noop_task t;
		chi_test_double_plus_task d;
		chi_gpu_future f;
		uint64_t t0 = acc ? chi_hd_now_ns() : 0;
		int rc;
		if (dp) {
			chi_test_double_plus_init(&d, CHI_POOL_TEST, ((uint64_t)tid << 20) | i, g.gpu_id);
			rc = chi_gpu_make_copy_future_at(&g, tid, tid / g.nlanes, &d.hdr,
							 chi_test_double_plus_ser_in, &f);
		} else {
			chi_test_noop_init(&t, CHI_POOL_TEST);
			rc = chi_gpu_make_copy_future_at(&g, tid, tid / g.nlanes, &t.hdr,
							 chi_test_noop_ser, &f);
		}
		if (rc) {
			atomicAdd(errors, 1ull);
			return;
		}
		uint64_t t1 = acc ? chi_hd_now_ns() : 0;
		int64_t want = dp ? (int64_t)(d.value * 2 + g.gpu_id) : 0;
		int64_t r = dp ? chi_gpu_future_wait(&g, &f, &d.hdr, chi_test_double_plus_de_out,
						     30000000000ull)
			       : chi_gpu_future_wait(&g, &f, &t.hdr, 0, 30000000000ull);
		if (r != want || (dp && d.result != (uint64_t)want)) {
			atomicAdd(errors, 1ull);
			return;
		}
		if (acc) {
			ts += t1 - t0;
			tw += chi_hd_now_ns() - t1;
		}
	}
	if (acc) {
		atomicAdd(&acc[0], (unsigned long long)ts);
		atomicAdd(&acc[1], (unsigned long long)tw);
	}
}

/* Each warp submits its 32 tasks as one lane entry (warp w: lane w % nlanes,
 * blocks (w / nlanes) * 32 ..). */
__global__ void warp_batch_kernel(chi_gpu_ctx g, uint32_t per_thread, unsigned long long *errors)
{
	uint32_t warp = (blockIdx.x * blockDim.x + threadIdx.x) / 32;
	for (uint32_t i = 0; i < per_thread; i++) {
		chi_test_noop_task t;
		chi_test_noop_init(&t, CHI_POOL_TEST);
		chi_gpu_future f;
		if (chi_gpu_make_copy_future_warp(&g, warp, (warp / g.nlanes) * 32, &t.hdr,
						  chi_test_noop_ser, &f) ||
		    chi_gpu_future_wait_warp(&g, &f, &t.hdr, 0, 30000000000ull) != 0) {
			atomicAdd(errors, 1ull);
			return;
		}
	}
}

/* An anchor measured by bench/gpu/anchors.cu: n samples (fewer with --quick). */
static int anchor_entry(const chi_bench_opts *o, chi_bench_result *r,
			int (*fn)(int, uint64_t *, size_t), size_t n, size_t nquick)
{
	if (!dev_count())
		return 77;
	if (o->quick)
		n = nquick;
	uint64_t *s = (uint64_t *)malloc(n * 8);
	int rc = s ? fn(0, s, n) : -ENOMEM;
	if (!rc)
		chi_bench_result_from_samples(r, s, n);
	free(s);
	return rc;
}

static int e_floor(const chi_bench_opts *o, chi_bench_result *r)
{
	return anchor_entry(o, r, chi_gpu_pingpong_floor, 20000, 2000);
}

static int e_hostfunc(const chi_bench_opts *o, chi_bench_result *r)
{
	return anchor_entry(o, r, chi_gpu_launch_host_func, 2000, 200);
}

#define TP_RUNS 3

/* What the throughput kernel sends: a noop per thread, warp batches of
 * noops, or a checked double_plus per thread. */
enum tp_kind { TP_NOOP, TP_WARP, TP_DP };

static int throughput(const chi_bench_opts *o, chi_bench_result *r, uint32_t lanes,
		      enum tp_kind kind, uint32_t helpers)
{
	if (!dev_count())
		return 77;
	cudaDeviceProp p;
	CUDA_TRY(cudaGetDeviceProperties(&p, 0));
	uint32_t blocks = (uint32_t)p.multiProcessorCount, threads = 128;
	uint32_t total = blocks * threads;
	uint32_t depth = bench_depth((total + lanes - 1) / lanes); /* a block per thread */
	grt g;
	g_helpers = helpers;
	int rc = grt_start(&g, lanes, depth, lanes * (1 + helpers) + 1, 1);
	g_helpers = 0;
	if (rc)
		return rc;
	uint32_t per = o->quick ? 16 : 128;
	unsigned long long *err, herr = 0;
	cudaEvent_t a, b;
	CUDA_TRY(cudaMalloc(&err, 8));
	CUDA_TRY(cudaMemset(err, 0, 8));
	CUDA_TRY(cudaEventCreate(&a));
	CUDA_TRY(cudaEventCreateWithFlags(&b, cudaEventBlockingSync));
	if (kind == TP_WARP)
		warp_batch_kernel<<<blocks, threads>>>(g.ctx, 2, err); /* warm-up */
	else
		throughput_kernel<<<blocks, threads>>>(g.ctx, 2, err, NULL, kind == TP_DP);
	CUDA_TRY(cudaDeviceSynchronize());
	/* TP_RUNS timed kernels (1 with --quick), median reported: one run's
	 * figure moves by up to 2x */
	uint32_t nruns = o->quick ? 1 : TP_RUNS;
	float ms[TP_RUNS];
	for (uint32_t k = 0; k < nruns; k++) {
		int diag = getenv("CHI_BENCH_DIAG") && k == 0;
		unsigned long long *acc = NULL;
		chi_backlog_sampler bs;
		if (diag && kind != TP_WARP) {
			CUDA_TRY(cudaMalloc(&acc, 16));
			CUDA_TRY(cudaMemset(acc, 0, 16));
		}
		if (diag)
			chi_backlog_start(&bs, &g.ctx, lanes);
		CUDA_TRY(cudaEventRecord(a));
		if (kind == TP_WARP)
			warp_batch_kernel<<<blocks, threads>>>(g.ctx, per, err);
		else
			throughput_kernel<<<blocks, threads>>>(g.ctx, per, err, acc, kind == TP_DP);
		CUDA_TRY(cudaEventRecord(b));
		CUDA_TRY(cudaEventSynchronize(b));
		CUDA_TRY(cudaEventElapsedTime(&ms[k], a, b));
		if (diag)
			chi_backlog_stop(&bs, o);
		if (acc) {
			unsigned long long h[2];
			CUDA_TRY(cudaMemcpy(h, acc, 16, cudaMemcpyDeviceToHost));
			double n = (double)blocks * threads * per;
			chi_bench_log(o, "  diag: per task on the GPU: submit %.0f ns, wait %.0f ns\n",
				      h[0] / n, h[1] / n);
			cudaFree(acc);
		}
	}
	CUDA_TRY(cudaMemcpy(&herr, err, 8, cudaMemcpyDeviceToHost));
	if (helpers) { /* who ran the tasks: owners, helpers (handed entries) */
		const chi_client *c = chi_runtime_client(g.rt);
		const chi_worker_shm *ws =
			(const chi_worker_shm *)(const void *)((const char *)c->base + c->dir->workers_off);
		for (uint32_t i = 1; i < c->dir->nworkers; i++)
			chi_bench_log(o, "  worker %u%s: %llu tasks, %llu entries handed to it\n", i,
				      ws[i].helps ? " (helper)" : "", (unsigned long long)ws[i].tasks,
				      (unsigned long long)ws[i].handed);
	}
	grt_stop(&g);
	cudaFree(err);
	if (herr)
		return -EIO;
	float sorted[TP_RUNS];
	memcpy(sorted, ms, sizeof(float) * nruns);
	for (uint32_t i = 1; i < nruns; i++) /* insertion sort of <= 3 */
		for (uint32_t j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
			float t = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	double tasks = (double)total * per, med = sorted[nruns / 2];
	r->ops_per_s = tasks / (med / 1e3);
	r->median_ns = med * 1e6 / tasks;
	r->p99_ns = sorted[nruns - 1] * 1e6 / tasks; /* the slowest run */
	r->lanes = lanes;
	r->depth = depth;
	chi_bench_log(o, "gpu_throughput%s_lanes%u: %u SMs x %u threads x %u tasks, depth %u, "
			 "%u lane helper(s) per lane: median of %u runs %.1f ms (%.1f..%.1f ms)\n",
		      kind == TP_WARP ? "_warp_batch" : kind == TP_DP ? "_dp" : "", lanes, blocks, threads, per, depth, helpers, nruns,
		      med, sorted[0], sorted[nruns - 1]);
	return 0;
}

/* Every GPU at once, 1 lane each, one worker per lane; ops/s summed. */
static int e_all_gpus(const chi_bench_opts *o, chi_bench_result *r)
{
	int n = dev_count();
	if (n < 2)
		return 77; /* the scaling entry needs several GPUs */
	if (n > 16)
		n = 16;
	cudaDeviceProp p;
	CUDA_TRY(cudaGetDeviceProperties(&p, 0));
	uint32_t blocks = (uint32_t)p.multiProcessorCount, threads = 128, total = blocks * threads;
	uint32_t depth = bench_depth(total);
	chi_config c;
	bench_config(&c, 1, depth, (uint32_t)n + 1);
	chi_runtime *rt;
	int rc = chi_runtime_start(&c, &rt);
	if (rc)
		return rc;
	chi_gpu_client *gc[16] = {0};
	unsigned long long *err[16] = {0};
	uint32_t per = o->quick ? 16 : 128;
	for (int g = 0; g < n && !rc; g++) {
		rc = chi_gpu_client_open(chi_runtime_client(rt), (uint32_t)g, &gc[g]);
		if (!rc && (cudaSetDevice(g) != cudaSuccess || cudaMalloc(&err[g], 8) != cudaSuccess ||
			    cudaMemset(err[g], 0, 8) != cudaSuccess))
			rc = -EIO;
	}
	uint64_t t0 = 0, t1 = 0;
	for (int pass = 0; pass < 2 && !rc; pass++) { /* warm-up, then timed */
		uint32_t k = pass ? per : 2;
		if (pass)
			t0 = chi_bench_now_ns();
		for (int g = 0; g < n; g++) {
			cudaSetDevice(g);
			throughput_kernel<<<blocks, threads>>>(*chi_gpu_client_ctx(gc[g]), k, err[g], NULL, 0);
		}
		for (int g = 0; g < n; g++) {
			cudaSetDevice(g);
			if (cudaDeviceSynchronize() != cudaSuccess)
				rc = -EIO;
		}
		if (pass)
			t1 = chi_bench_now_ns();
	}
	unsigned long long herr = 0, e1;
	for (int g = 0; g < n; g++) {
		if (err[g] && cudaSetDevice(g) == cudaSuccess &&
		    cudaMemcpy(&e1, err[g], 8, cudaMemcpyDeviceToHost) == cudaSuccess)
			herr += e1;
		if (err[g])
			cudaFree(err[g]);
		if (gc[g])
			chi_gpu_client_close(gc[g]);
	}
	cudaSetDevice(0);
	chi_runtime_stop(rt);
	if (rc || herr)
		return rc ? rc : -EIO;
	double tasks = (double)total * per * n;
	r->ops_per_s = tasks / ((double)(t1 - t0) / 1e9);
	r->median_ns = (double)(t1 - t0) / tasks;
	r->p99_ns = r->median_ns;
	r->lanes = (uint32_t)n;
	r->depth = depth;
	chi_bench_log(o, "gpu_throughput_all_gpus: %d GPUs x %u SMs x %u threads x %u tasks in %.1f ms\n",
		      n, blocks, threads, per, (double)(t1 - t0) / 1e6);
	return 0;
}

static int e_tp1(const chi_bench_opts *o, chi_bench_result *r) { return throughput(o, r, 1, TP_NOOP, 0); }
static int e_tp4(const chi_bench_opts *o, chi_bench_result *r) { return throughput(o, r, 4, TP_NOOP, 0); }
static int e_dp1(const chi_bench_opts *o, chi_bench_result *r) { return throughput(o, r, 1, TP_DP, 0); }
static int e_dp4(const chi_bench_opts *o, chi_bench_result *r) { return throughput(o, r, 4, TP_DP, 0); }
static int e_wb1(const chi_bench_opts *o, chi_bench_result *r) { return throughput(o, r, 1, TP_WARP, 2); }
static int e_wb2(const chi_bench_opts *o, chi_bench_result *r) { return throughput(o, r, 2, TP_WARP, 2); }
static int e_wb1_nohelp(const chi_bench_opts *o, chi_bench_result *r) { return throughput(o, r, 1, TP_WARP, 0); }
static int e_wb2_nohelp(const chi_bench_opts *o, chi_bench_result *r) { return throughput(o, r, 2, TP_WARP, 0); }

static int cpu_roundtrip(const chi_bench_opts *o, chi_bench_result *r, int gpu_lanes)
{
	if (!dev_count())
		return 77;
	grt g;
	int rc = grt_start(&g, 1, 1024, 1, gpu_lanes); /* 1 worker polls CPU and GPU lanes */
	if (rc)
		return rc;
	chi_client *c = chi_runtime_client(g.rt);
	size_t n = o->quick ? 20000 : 200000;
	uint64_t *s = (uint64_t *)malloc(n * 8);
	for (size_t i = 0; i < n + 2000 && !rc; i++) {
		chi_test_noop_task t;
		chi_test_noop_init(&t, CHI_POOL_TEST);
		chi_future f;
		uint64_t t0 = chi_bench_now_ns();
		rc = chi_make_copy_future(c, &t.hdr, &chi_test_noop_codec, &f);
		if (!rc && chi_future_wait(&f) != 0)
			rc = -EIO;
		if (i >= 2000)
			s[i - 2000] = chi_bench_now_ns() - t0;
	}
	grt_stop(&g);
	if (!rc) {
		chi_bench_result_from_samples(r, s, n);
		r->lanes = 1;
		r->depth = 1024;
	}
	free(s);
	return rc;
}
static int e_cpu_nogpu(const chi_bench_opts *o, chi_bench_result *r) { return cpu_roundtrip(o, r, 0); }
static int e_cpu_gpu(const chi_bench_opts *o, chi_bench_result *r) { return cpu_roundtrip(o, r, 1); }

static const chi_bench_entry entries[] = {
	{"pingpong_floor", CHI_BENCH_ANCHOR, NULL, e_floor, "GPU thread <-> host thread on a pinned flag"},
	{"launch_host_func", CHI_BENCH_ANCHOR, NULL, e_hostfunc, "kernel launch + cudaLaunchHostFunc + sync"},
	{"gpu_roundtrip_thread", CHI_BENCH_LATENCY, "pingpong_floor", e_rt_thread, "1 GPU thread, 1 noop in flight"},
	{"gpu_roundtrip_warp", CHI_BENCH_LATENCY, "pingpong_floor", e_rt_warp, "32 threads, 1 noop in flight each"},
	{"gpu_roundtrip_sleeping", CHI_BENCH_LATENCY, "pingpong_floor", e_rt_sleeping, "1 GPU thread, 1 noop after 20 ms idle (worker asleep)"},
	{"gpu_throughput_lanes1", CHI_BENCH_THROUGHPUT, "pingpong_floor", e_tp1, "all SMs x 128 threads, 1 lane"},
	{"gpu_throughput_all_gpus", CHI_BENCH_THROUGHPUT, "gpu_throughput_lanes1", e_all_gpus, "every GPU at once, 1 lane each (ratio = scaling over 1 GPU)"},
	{"gpu_throughput_lanes4", CHI_BENCH_THROUGHPUT, "pingpong_floor", e_tp4, "all SMs x 128 threads, 4 lanes"},
	{"gpu_throughput_warp_batch_lanes1", CHI_BENCH_THROUGHPUT, "pingpong_floor", e_wb1, "warps submit 32 tasks per lane entry, 1 lane, 2 lane helpers"},
	{"gpu_throughput_warp_batch_lanes2", CHI_BENCH_THROUGHPUT, "pingpong_floor", e_wb2, "warps submit 32 tasks per lane entry, 2 lanes, 2 lane helpers each"},
	{"gpu_throughput_warp_batch_lanes1_nohelp", CHI_BENCH_THROUGHPUT, "pingpong_floor", e_wb1_nohelp, "the same, 1 lane, 1 worker"},
	{"gpu_throughput_warp_batch_lanes2_nohelp", CHI_BENCH_THROUGHPUT, "pingpong_floor", e_wb2_nohelp, "the same, 2 lanes, 1 worker each"},
	{"cpu_roundtrip_no_gpu", CHI_BENCH_ANCHOR, NULL, e_cpu_nogpu, "CPU round trip, 1 worker, no GPU lanes"},
	{"cpu_roundtrip_with_gpu_lanes", CHI_BENCH_LATENCY, "cpu_roundtrip_no_gpu", e_cpu_gpu, "CPU round trip while the worker polls a GPU lane"},
	{"gpu_throughput_dp_lanes1", CHI_BENCH_THROUGHPUT, "gpu_throughput_lanes1", e_dp1, "owned blocks, test.double_plus checked, 1 lane (ratio = double_plus / noop)"},
	{"gpu_throughput_dp_lanes4", CHI_BENCH_THROUGHPUT, "gpu_throughput_lanes4", e_dp4, "the same, 4 lanes"},
	{"gpu_throughput_pool_lanes1", CHI_BENCH_THROUGHPUT, "gpu_throughput_dp_lanes1", e_pool_lanes1, "pool submits (chi_gpu_make_copy_future), default config, 1 lane, 4 in flight per thread, double_plus (ratio = pool / owned, same task)"},
	{"gpu_throughput_pool_lanes4", CHI_BENCH_THROUGHPUT, "gpu_throughput_dp_lanes4", e_pool_lanes4, "the same, 4 lanes (ratio = pool / owned, same task)"},
	{"gpu_throughput_pool_mixed", CHI_BENCH_THROUGHPUT, "gpu_throughput_pool_lanes1", e_pool_mixed, "the same, 1 lane, 1 thread in 7 echoes 1..299 bytes"},
	{"gpu_throughput_3_processes", CHI_BENCH_THROUGHPUT, "gpu_throughput_pool_lanes1", e_pool_3_processes, "3 client processes at once on one GPU, pool submits, 1 lane (ratio over 1 process)"},
	{"memcpy_1mib", CHI_BENCH_ANCHOR, NULL, e_memcpy_1mib, "cudaMemcpy of max_task_size - 4 bytes device -> pinned host -> device"},
	{"gpu_echo_1mib", CHI_BENCH_LATENCY, "memcpy_1mib", e_echo_1mib, "1 GPU thread echoes max_task_size - 4 bytes, device buffers"},
};

/* NUMA nodes this machine has (directories node<N> under sysfs). */
static int numa_nodes(void)
{
	int n = 0;
	char p[64];
	for (int i = 0; i < 1024; i++) {
		snprintf(p, sizeof(p), "/sys/devices/system/node/node%d", i);
		if (access(p, F_OK) == 0)
			n++;
	}
	return n;
}

/* --numa: the round trip and one-lane throughput with the GPU queues placed
 * on their GPU's node (gpu.numa auto) and not placed (off), same run. */
static int numa_compare(const chi_bench_opts *o)
{
	int nodes = numa_nodes();
	if (nodes <= 1) {
		printf("chi-bench gpu --numa: this machine has %d NUMA node%s: NUMA-aware and "
		       "unaware placement are the same here, nothing to compare.\n",
		       nodes, nodes == 1 ? "" : "s");
		return 0;
	}
	chi_bench_result r[2][2];
	const int modes[2] = {CHI_NUMA_AUTO, CHI_NUMA_OFF};
	for (int m = 0; m < 2; m++) {
		g_numa = modes[m];
		chi_bench_result_init(&r[m][0], "gpu_roundtrip_thread");
		chi_bench_result_init(&r[m][1], "gpu_throughput_lanes1");
		if (e_rt_thread(o, &r[m][0]) || throughput(o, &r[m][1], 1, TP_NOOP, 0))
			return 1;
	}
	g_numa = CHI_NUMA_AUTO;
	printf("%d NUMA nodes; gpu.numa auto (placed) vs off (not placed):\n", nodes);
	printf("gpu_roundtrip_thread   %8.0f ns vs %8.0f ns\n", r[0][0].median_ns, r[1][0].median_ns);
	printf("gpu_throughput_lanes1  %8.2f M/s vs %8.2f M/s\n", r[0][1].ops_per_s / 1e6,
	       r[1][1].ops_per_s / 1e6);
	return 0;
}

extern "C" int chi_bench_gpu(int argc, char **argv)
{
	chi_bench_opts o = {0, 0, 0};
	const char *filter = NULL;
	int numa = 0;
	if (argc >= 2 && !strcmp(argv[1], "--pool-client")) /* gpu_throughput_3_processes */
		return chi_bench_gpu_pool_client(argc - 2, argv + 2);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--numa"))
			numa = 1;
		else if (!chi_bench_common_arg(argc, argv, &i, &o, &filter)) {
			fprintf(stderr, "usage: chi-bench gpu [--json] [--quick] [--entries a,b] [--numa]\n");
			return 2;
		}
	}
	if (!dev_count()) {
		fprintf(stderr, "chi-bench gpu: no GPU\n");
		return 77;
	}
	chi_gpu_cuda_enable();
	chi_config d;
	char err[256];
	chi_config_defaults(&d);
	if (chi_config_apply_env(&d, err, sizeof(err))) {
		fprintf(stderr, "chi-bench gpu: %s\n", err);
		return 2;
	}
	g_gpu_sleep_us = d.gpu_max_sleep_us;
	if (numa)
		return numa_compare(&o);
	cudaDeviceProp p;
	cudaGetDeviceProperties(&p, 0);
	char device[640];
	char cpu[256];
	chi_bench_cpu_device(cpu, sizeof(cpu));
	snprintf(device, sizeof(device), "%.200s (%d SMs); %.250s", p.name, p.multiProcessorCount, cpu);
	const chi_bench_entry *e[sizeof(entries) / sizeof(entries[0])];
	for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++)
		e[i] = &entries[i];
	return chi_bench_run(e, sizeof(entries) / sizeof(entries[0]), filter, &o, device);
}
