// tests/gpu/test_gpu_e2e.cu: kernels submitting to chi (label gpu). Needs a
// GPU: main() checks for one first and exits 77 without (fails instead when
// CHI_REQUIRE_GPU=1). Cases:
//   init:      one queue segment per visible GPU, backend id 1000 + gpu
//   many:      64 x 128 threads, 4 futures in flight each, test.double_plus,
//              every thread checks value * 2 + gpu_id
//   sizes:     echo inline, through a 4 KiB and a big data block,
//              large_output, unknown method
//   bdev:      a kernel writes 48 KiB pieces to a file-backed bdev (the bytes
//              travel in the pinned arena; more threads than 64 KiB blocks:
//              -EAGAIN backs off and submits again), reads them back and
//              compares; the host then preads the file and compares too
//   max sizes: one thread echoes memory.max_task_size - 4 bytes (a big data
//              block) and compares them; - 3 is refused (-EMSGSIZE, no pool
//              touched); one thread writes max_task_size - 32 bytes to a RAM
//              bdev in one task and reads them back, then 3 MiB + 5 through
//              chi_gpu_bdev_write/read (include/chi/gpu/bdev.h)
//   xproc:     a kernel in this process submits to a runtime in another
//              process (spawned), through cudaIpc counters and a segment;
//              then two GPU clients of this process (two slices, gpu.clients
//              2) run kernels at once, and a third is refused
//   3 clients: three client processes (spawned) against a runtime here with
//              the default gpu.clients and queue depth, each a kernel of all
//              SMs x 128 threads, 4 futures in flight per thread from the
//              pools (-EAGAIN: wait for the oldest), every result checked
#include <cuda_runtime.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern "C" {
#include "chi/chi.h"
#include "chi/modules/admin.h"
#include "chi/modules/bdev.h"
#include "chi/modules/test.h"
}
#include "chi/gpu/api.h"
#include "chi/gpu/bdev.h"

extern char **environ;
#include "gpu_check.cuh"

static const uint64_t WAIT_NS = 20ull * 1000 * 1000 * 1000;

__global__ void many_kernel(chi_gpu_ctx g, unsigned long long *errors, unsigned long long *done)
{
	enum { K = 4 };
	uint32_t tid = blockIdx.x * blockDim.x + threadIdx.x;
	chi_test_double_plus_task t[K];
	chi_gpu_future f[K];
	for (int k = 0; k < K; k++) {
		chi_test_double_plus_init(&t[k], CHI_POOL_TEST, ((uint64_t)tid << 8) | k, g.gpu_id);
		if (chi_gpu_make_copy_future(&g, tid, &t[k].hdr, chi_test_double_plus_ser_in, &f[k]))
			atomicAdd(errors, 1ull);
	}
	for (int k = 0; k < K; k++) {
		uint64_t want = t[k].value * 2 + g.gpu_id;
		int64_t r = chi_gpu_future_wait(&g, &f[k], &t[k].hdr, chi_test_double_plus_de_out, WAIT_NS);
		if (r != (int64_t)want || t[k].result != want)
			atomicAdd(errors, 1ull);
		atomicAdd(done, 1ull);
	}
}

/* warps submit 32 tasks as one lane entry, and threads with owned blocks */
__global__ void warp_kernel(chi_gpu_ctx g, unsigned long long *errors, unsigned long long *done)
{
	uint32_t tid = blockIdx.x * blockDim.x + threadIdx.x, warp = tid / 32;
	for (int round = 0; round < 3; round++) {
		chi_test_double_plus_task t;
		chi_gpu_future f;
		chi_test_double_plus_init(&t, CHI_POOL_TEST, ((uint64_t)tid << 4) | round, g.gpu_id);
		/* both schemes give this thread the same block: lane warp % nlanes,
		 * index (warp / nlanes) * 32 + its lane in the warp */
		uint32_t base = (warp / g.nlanes) * 32;
		int rc = round == 1
			? chi_gpu_make_copy_future_at(&g, warp, base + (tid & 31u), &t.hdr,
						      chi_test_double_plus_ser_in, &f)
			: chi_gpu_make_copy_future_warp(&g, warp, base, &t.hdr,
							chi_test_double_plus_ser_in, &f);
		uint64_t want = t.value * 2 + g.gpu_id;
		int64_t r = rc ? rc
			: round == 2 ? chi_gpu_future_wait_warp(&g, &f, &t.hdr, chi_test_double_plus_de_out,
								WAIT_NS)
				     : chi_gpu_future_wait(&g, &f, &t.hdr, chi_test_double_plus_de_out,
							   WAIT_NS);
		if (r != (int64_t)want || t.result != want)
			atomicAdd(errors, 1ull);
		atomicAdd(done, 1ull);
		/* a packed batch's blocks are the warp's to reuse once all 32
		 * threads waited (proto/batch.h B3; the warp wait syncs itself) */
		__syncwarp();
	}
}

/* Warp batches and block shapes. mode 0: 2-D blocks of 16 x 4 (a warp is 32
 * consecutive threads of the linearized block, two rows here: the lane id
 * is %laneid, not threadIdx.x & 31), every result checked; mode 1: a block
 * of 48, whose second warp is partial: its 16 threads get -EINVAL, the
 * first warp's results are checked; mode 2: a warp whose threads name
 * different lanes: -EINVAL in every thread. */
__global__ void warp_shapes_kernel(chi_gpu_ctx g, int mode, unsigned long long *errors,
				   unsigned long long *done)
{
	uint32_t lin = threadIdx.y * blockDim.x + threadIdx.x;
	uint32_t tid = blockIdx.x * blockDim.x * blockDim.y + lin, warp = tid / 32;
	chi_test_double_plus_task t;
	chi_gpu_future f;
	chi_test_double_plus_init(&t, CHI_POOL_TEST, 5000 + tid, g.gpu_id);
	uint32_t lane = mode == 2 ? (lin & 1u) : 0;
	int rc = chi_gpu_make_copy_future_warp(&g, lane, warp * 32, &t.hdr,
					       chi_test_double_plus_ser_in, &f);
	int expect_inval = mode == 2 || (mode == 1 && lin >= 32);
	int bad;
	if (expect_inval) {
		bad = rc != -CHI_EINVAL;
	} else {
		uint64_t want = t.value * 2 + g.gpu_id;
		int64_t r = rc ? rc
			       : chi_gpu_future_wait_warp(&g, &f, &t.hdr, chi_test_double_plus_de_out,
							  WAIT_NS);
		bad = r != (int64_t)want || t.result != want;
	}
	if (bad)
		atomicAdd(errors, 1ull);
	atomicAdd(done, 1ull);
}

#include "e2e_sizes.cuh" /* sizes, bdev and max-size kernels and cases */

/* A client process's kernel: every thread submits `tasks` stamped
 * double_plus tasks through the pools, up to 4 in flight; on -EAGAIN it
 * waits for its oldest, or backs off while it holds none (until a
 * deadline: what it did not do is counted wrong). d: wrong, done, -EAGAIN */
__global__ void stream_kernel(chi_gpu_ctx g, uint32_t tasks, uint64_t tag, unsigned long long *d)
{
	enum { K = 4 };
	uint32_t tid = blockIdx.x * blockDim.x + threadIdx.x, head = 0, n = 0, sent = 0, ns = 32;
	chi_test_double_plus_task t[K];
	chi_gpu_future f[K];
	unsigned long long wrong = 0, done = 0, eagain = 0;
	uint64_t start = chi_hd_now_ns();
	while (sent < tasks || n) {
		if (sent < tasks && n < K) {
			uint32_t i = (head + n) % K;
			chi_test_double_plus_init(&t[i], CHI_POOL_TEST,
						  tag << 48 | (uint64_t)tid << 16 | sent, g.gpu_id);
			int rc = chi_gpu_make_copy_future(&g, tid, &t[i].hdr,
							  chi_test_double_plus_ser_in, &f[i]);
			if (rc != -CHI_EAGAIN) {
				wrong += rc != 0;
				n += rc == 0;
				sent++;
				ns = 32;
				continue;
			}
			eagain++;
			if (!n) {
				if (chi_hd_now_ns() - start > 3 * WAIT_NS) {
					wrong += tasks - sent;
					break;
				}
				chi_gpu_backoff(&ns);
				continue;
			}
		}
		uint64_t want = t[head].value * 2 + g.gpu_id;
		int64_t r = chi_gpu_future_wait(&g, &f[head], &t[head].hdr,
						chi_test_double_plus_de_out, WAIT_NS);
		if (r == -CHI_ETIMEDOUT) { /* pending: its blocks are not ours to reuse */
			wrong += n + tasks - sent;
			break;
		}
		wrong += r != (int64_t)want || t[head].result != want;
		done++;
		head = (head + 1) % K;
		n--;
	}
	atomicAdd(d, wrong);
	atomicAdd(d + 1, done);
	atomicAdd(d + 2, eagain);
}

static chi_config gpu_config(const char *name)
{
	chi_config c;
	chi_config_defaults(&c);
	snprintf(c.name, sizeof(c.name), "%s", name);
	int ndev = 0;
	cudaGetDeviceCount(&ndev);
	c.num_workers = 1 + 2 * (uint32_t)(ndev > 0 ? ndev : 1); /* a worker per GPU lane */
	/* CHI_TEST_LANE_HELPERS=n: every case again with n lane helpers per GPU
	 * lane (gpu.lane_helpers, src/runtime/handoff.h), their workers added */
	const char *h = getenv("CHI_TEST_LANE_HELPERS");
	if (h && *h) {
		c.gpu_lane_helpers = (uint32_t)strtoul(h, NULL, 0);
		c.num_workers += 2 * (uint32_t)(ndev > 0 ? ndev : 1) * c.gpu_lane_helpers;
	}
	c.gpu_lanes = 2;
	c.gpu_queue_depth = 16384;
	c.gpu_clients = 1; /* one GPU client at a time here, with every block */
	c.npools = 2;
	return c;
}

/* `blocks` x 128 threads, 4 futures in flight each (from the pools: the
 * client's blocks must cover them) */
static void case_many_n(const chi_gpu_ctx *g, uint32_t blocks)
{
	unsigned long long *d;
	CUDA_OK(cudaMalloc(&d, 16));
	CUDA_OK(cudaMemset(d, 0, 16));
	many_kernel<<<blocks, 128>>>(*g, d, d + 1);
	CUDA_OK(cudaGetLastError());
	CUDA_OK(cudaDeviceSynchronize());
	unsigned long long h[2];
	CUDA_OK(cudaMemcpy(h, d, 16, cudaMemcpyDeviceToHost));
	printf("many: %llu tasks from %u GPU threads, %llu wrong\n", h[1], blocks * 128, h[0]);
	CHECK(h[0] == 0 && h[1] == (unsigned long long)blocks * 128 * 4);
	cudaFree(d);
}

static void case_many(const chi_gpu_ctx *g) { case_many_n(g, 64); }

static void case_warp(const chi_gpu_ctx *g)
{
	unsigned long long *d;
	CUDA_OK(cudaMalloc(&d, 16));
	CUDA_OK(cudaMemset(d, 0, 16));
	warp_kernel<<<64, 128>>>(*g, d, d + 1);
	CUDA_OK(cudaGetLastError());
	CUDA_OK(cudaDeviceSynchronize());
	unsigned long long h[2];
	CUDA_OK(cudaMemcpy(h, d, 16, cudaMemcpyDeviceToHost));
	printf("warp: %llu tasks (warp batches of 32 and owned blocks), %llu wrong\n", h[1], h[0]);
	CHECK(h[0] == 0 && h[1] == 64 * 128 * 3);
	cudaFree(d);
}

static void case_warp_shapes(const chi_gpu_ctx *g)
{
	unsigned long long *d, h[2];
	CUDA_OK(cudaMalloc(&d, 16));
	const char *what[3] = {"2-D blocks 16x4", "a partial warp", "lanes that differ"};
	for (int mode = 0; mode < 3; mode++) {
		CUDA_OK(cudaMemset(d, 0, 16));
		if (mode == 0)
			warp_shapes_kernel<<<8, dim3(16, 4)>>>(*g, mode, d, d + 1);
		else
			warp_shapes_kernel<<<1, mode == 1 ? 48 : 32>>>(*g, mode, d, d + 1);
		CUDA_OK(cudaGetLastError());
		CUDA_OK(cudaDeviceSynchronize());
		CUDA_OK(cudaMemcpy(h, d, 16, cudaMemcpyDeviceToHost));
		printf("warp shapes: %s: %llu threads, %llu wrong\n", what[mode], h[1], h[0]);
		CHECK(h[0] == 0 && h[1] == (mode == 0 ? 512u : mode == 1 ? 48u : 32u));
	}
	cudaFree(d);
}

/* Every GPU at once: one client context per GPU, the same kernel on each
 * device concurrently; results tagged value * 2 + gpu_id checked per GPU. */
static void case_all_gpus(chi_client *c, int n)
{
	chi_gpu_client *gc[16];
	unsigned long long *d[16];
	int m = n < 16 ? n : 16;
	for (int g = 0; g < m; g++) {
		CHECK(chi_gpu_client_open(c, (uint32_t)g, &gc[g]) == 0);
		CUDA_OK(cudaSetDevice(g));
		CUDA_OK(cudaMalloc(&d[g], 16));
		CUDA_OK(cudaMemset(d[g], 0, 16));
	}
	for (int g = 0; g < m; g++) {
		CUDA_OK(cudaSetDevice(g));
		many_kernel<<<64, 128>>>(*chi_gpu_client_ctx(gc[g]), d[g], d[g] + 1);
		CUDA_OK(cudaGetLastError());
	}
	for (int g = 0; g < m; g++) {
		CUDA_OK(cudaSetDevice(g));
		CUDA_OK(cudaDeviceSynchronize());
		unsigned long long h[2];
		CUDA_OK(cudaMemcpy(h, d[g], 16, cudaMemcpyDeviceToHost));
		printf("all gpus: gpu %d (segment id %u): %llu tasks, %llu wrong\n", g,
		       chi_gpu_client_ctx(gc[g])->seg_id, h[1], h[0]);
		CHECK(h[0] == 0 && h[1] == 64 * 128 * 4);
		CHECK(chi_gpu_client_ctx(gc[g])->seg_id == CHI_SEG_ID_GPU_BASE + (uint32_t)g);
		cudaFree(d[g]);
		chi_gpu_client_close(gc[g]);
	}
	CUDA_OK(cudaSetDevice(0));
}

/* Two GPU clients (two slices of the arena) submitting at once, on two
 * streams: owned blocks, 3 rounds of 1 task in flight per thread, results
 * tagged per client. */
__global__ void slice_kernel(chi_gpu_ctx g, uint64_t tag, unsigned long long *errors,
			     unsigned long long *done)
{
	uint32_t tid = blockIdx.x * blockDim.x + threadIdx.x;
	for (uint32_t round = 0; round < 3; round++) {
		chi_test_double_plus_task t;
		chi_gpu_future f;
		chi_test_double_plus_init(&t, CHI_POOL_TEST, (tag << 40) | ((uint64_t)tid << 4) | round,
					  g.gpu_id);
		uint64_t want = t.value * 2 + g.gpu_id;
		int64_t r = chi_gpu_make_copy_future_at(&g, tid, tid / g.nlanes, &t.hdr,
						       chi_test_double_plus_ser_in, &f);
		if (!r)
			r = chi_gpu_future_wait(&g, &f, &t.hdr, chi_test_double_plus_de_out, WAIT_NS);
		if (r != (int64_t)want || t.result != want)
			atomicAdd(errors, 1ull);
		atomicAdd(done, 1ull);
	}
}

static void case_slices(chi_client *c)
{
	chi_gpu_client *gc[3] = {NULL, NULL, NULL};
	CHECK(chi_gpu_client_open(c, 0, &gc[0]) == 0);
	CHECK(chi_gpu_client_open(c, 0, &gc[1]) == 0);
	CHECK(chi_gpu_client_open(c, 0, &gc[2]) == -EBUSY); /* gpu.clients 2 */
	if (!gc[0] || !gc[1])
		return;
	unsigned long long *d;
	cudaStream_t s[2];
	CUDA_OK(cudaMalloc(&d, 32));
	CUDA_OK(cudaMemset(d, 0, 32));
	for (int k = 0; k < 2; k++) {
		CUDA_OK(cudaStreamCreate(&s[k]));
		slice_kernel<<<64, 128, 0, s[k]>>>(*chi_gpu_client_ctx(gc[k]), (uint64_t)k + 1, d + 2 * k,
						   d + 2 * k + 1);
		CUDA_OK(cudaGetLastError());
	}
	CUDA_OK(cudaDeviceSynchronize());
	unsigned long long h[4];
	CUDA_OK(cudaMemcpy(h, d, 32, cudaMemcpyDeviceToHost));
	for (int k = 0; k < 2; k++) {
		const chi_gpu_ctx *x = chi_gpu_client_ctx(gc[k]);
		printf("slices: client %d (blocks %u..%u of each lane): %llu tasks, %llu wrong\n", k,
		       x->blk_base, x->blk_base + x->blk_count - 1, h[2 * k + 1], h[2 * k]);
		CHECK(h[2 * k] == 0 && h[2 * k + 1] == 64 * 128 * 3);
		cudaStreamDestroy(s[k]);
	}
	CHECK(chi_gpu_client_ctx(gc[0])->blk_base != chi_gpu_client_ctx(gc[1])->blk_base);
	cudaFree(d);
	chi_gpu_client_close(gc[0]);
	chi_gpu_client_close(gc[1]);
}

static int runtime_child(const char *name)
{
	chi_gpu_cuda_enable();
	chi_config cfg = gpu_config(name);
	cfg.gpu_clients = 2; /* case_xproc: two GPU clients of the other process at once */
	chi_runtime *rt;
	if (chi_runtime_start(&cfg, &rt))
		return 2;
	while (!chi_runtime_stop_requested(rt)) {
		struct timespec ts = {0, 5000000};
		nanosleep(&ts, NULL);
	}
	chi_runtime_stop(rt);
	return 0;
}

/* A client process of case_three_clients: its kernel on every SM, 128
 * threads each, 16 tasks per thread; exits 0 when all are right. */
static int client_child(const char *name, const char *tag)
{
	chi_gpu_cuda_enable();
	chi_client *c;
	chi_gpu_client *gc;
	if (chi_client_connect(name, &c) || chi_gpu_client_open(c, 0, &gc))
		return 2;
	const chi_gpu_ctx *g = chi_gpu_client_ctx(gc);
	int sms = 0;
	CUDA_OK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
	const uint32_t tasks = 16;
	unsigned long long *d, h[3] = {1, 0, 0};
	CUDA_OK(cudaMalloc(&d, sizeof(h)));
	CUDA_OK(cudaMemset(d, 0, sizeof(h)));
	stream_kernel<<<sms, 128>>>(*g, tasks, strtoull(tag, NULL, 0), d);
	CUDA_OK(cudaGetLastError());
	CUDA_OK(cudaDeviceSynchronize());
	CUDA_OK(cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost));
	printf("3 clients: client %s (slice %u, %u blocks per lane): %llu tasks from %d x 128 "
	       "threads, %llu wrong, %llu -EAGAIN\n", tag, g->slice, g->blk_count, h[1], sms, h[0],
	       h[2]);
	CHECK(h[0] == 0 && h[1] == (unsigned long long)sms * 128 * tasks);
	cudaFree(d);
	chi_gpu_client_close(gc);
	chi_client_close(c);
	return failures ? 1 : 0;
}

/* Three client processes against a runtime of this process with the
 * default gpu.clients (4) and gpu.queue_depth (auto: SMs x 128 per lane) */
static void case_three_clients(const char *self)
{
	char name[32];
	snprintf(name, sizeof(name), "g3%d", (int)getpid());
	chi_config cfg = gpu_config(name), def;
	chi_config_defaults(&def);
	cfg.gpu_clients = def.gpu_clients;
	cfg.gpu_queue_depth = def.gpu_queue_depth;
	chi_runtime *rt;
	int rc = chi_runtime_start(&cfg, &rt);
	CHECK(rc == 0);
	if (rc)
		return;
	pid_t pid[3];
	for (int k = 0; k < 3; k++) {
		char tag[8];
		snprintf(tag, sizeof(tag), "%d", k + 1);
		char *argv[] = {(char *)self, (char *)"--client", name, tag, NULL};
		CHECK(posix_spawn(&pid[k], self, NULL, NULL, argv, environ) == 0);
	}
	for (int k = 0; k < 3; k++) {
		int st;
		CHECK(waitpid(pid[k], &st, 0) == pid[k] && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	chi_runtime_stop(rt);
}

static void case_xproc(const char *self)
{
	char name[32];
	snprintf(name, sizeof(name), "gx%d", (int)getpid());
	pid_t pid;
	char *argv[] = {(char *)self, (char *)"--runtime", name, NULL};
	CHECK(posix_spawn(&pid, self, NULL, NULL, argv, environ) == 0);
	chi_client *c = NULL;
	for (int i = 0; i < 1000 && chi_client_connect(name, &c); i++) {
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	CHECK(c != NULL);
	if (!c)
		return;
	CHECK(chi_gpu_count(c) >= 1);
	chi_gpu_client *gc = NULL;
	int rc = chi_gpu_client_open(c, 0, &gc);
	CHECK(rc == 0);
	if (!rc) {
		printf("xproc: ");
		case_many_n(chi_gpu_client_ctx(gc), 32); /* a half-arena slice */
		chi_gpu_client_close(gc);
		case_slices(c);
	}
	chi_task stop;
	chi_task_init(&stop, CHI_POOL_ADMIN, CHI_ADMIN_STOP, 0);
	CHECK(chi_call(c, &stop, &chi_admin_stop_codec) == 0);
	chi_client_close(c);
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--runtime"))
		return runtime_child(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "--client"))
		return client_child(argv[2], argv[3]);
	int n = 0;
	cudaError_t e = cudaGetDeviceCount(&n);
	if (e != cudaSuccess || n == 0) {
		const char *req = getenv("CHI_REQUIRE_GPU");
		fprintf(stderr, "test_gpu_e2e: no GPU (%s)\n", e ? cudaGetErrorString(e) : "0 devices");
		return req && !strcmp(req, "1") ? 1 : 77;
	}
	chi_gpu_cuda_enable();
	char name[32];
	snprintf(name, sizeof(name), "ge%d", (int)getpid());
	chi_config cfg = gpu_config(name);
	chi_runtime *rt;
	if (chi_runtime_start(&cfg, &rt)) {
		fprintf(stderr, "cannot start runtime\n");
		return 1;
	}
	chi_client *c = chi_runtime_client(rt);
	printf("init: %d GPU(s) visible, %u queue segment(s)\n", n, chi_gpu_count(c));
	CHECK(chi_gpu_count(c) == (uint32_t)n);
	char seg[96];
	snprintf(seg, sizeof(seg), "/dev/shm/chi.%u.%s.gpu.0", (unsigned)getuid(), name);
	CHECK(access(seg, F_OK) == 0);
	chi_gpu_client *gc;
	CHECK(chi_gpu_client_open(c, 0, &gc) == 0);
	const chi_gpu_ctx *g = chi_gpu_client_ctx(gc);
	CHECK(g->seg_id == CHI_SEG_ID_GPU_BASE);
	case_many(g);
	case_warp(g);
	case_warp_shapes(g);
	case_sizes(g);
	case_bdev(c, g);
	case_max_sizes(c, g);
	chi_gpu_client_close(gc);
	if (n >= 2)
		case_all_gpus(c, n);
	else
		printf("all gpus: 1 GPU here, the several-GPU case needs 2 or more\n");
	chi_runtime_stop(rt);
	char self[4096];
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (sl > 0) {
		self[sl] = 0;
		case_xproc(self);
		case_three_clients(self);
	}
	printf("test_gpu_e2e: %s (%d failed checks)\n", failures ? "FAILED" : "OK", failures);
	return failures ? 1 : 0;
}
