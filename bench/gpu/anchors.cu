// bench/gpu/anchors.cu: the GPU anchors of docs/benchmarks.md "Targets" (contract in
// bench/gpu/anchors.h). Self-contained: CUDA runtime + libc only.
//
// Ping-pong floor (chi_gpu_pingpong_floor[_ex])
// ---------------------------------------------
// One pinned block (cudaHostAlloc Mapped|Portable) holds two 16-byte aligned
// pairs {seq, payload}, each on its own 128-byte line:
//   ping: written by the GPU thread (8-byte volatile store of seq),
//         read by the host thread (acquire load of seq);
//   pong: written by the host thread as one aligned 16-byte SSE store of
//         {seq, payload}, read by the GPU thread in one 16-byte volatile load
//         (ld.volatile.global.v2.u64), as chi's completion flag + result.
// Round i (1 .. warmup + n), GPU side, one thread of one block:
//   c0 = clock64(); t0 = %globaltimer
//   ping.seq = i (volatile store); __threadfence_system()
//   spin: load pong (16 bytes) until pong.seq == i
//   t1 = %globaltimer; c1 = clock64()
// One fence, after the store: it pushes the store out of the SM (without it
// the round trip grows) and overlaps with the ping's trip to the host.
// Nothing precedes the ping that needs ordering, so there is no fence before
// it: the cheapest correct shape (a system fence on the path costs ~0.6 us).
// The previous round's sample goes to a device-memory array right after the
// ping is published, while the GPU waits, so it is off the measured path.
// Host side: spin on ping.seq until it equals i, write pong = {i, 0}, then
// read its clock (after the write, so the clock read is not on the path).
//
// Measurement: the round trip is measured on the device, t1 - t0 of each
// recorded round (ping publish -> pong seen), in ns of %globaltimer. Before
// the rounds the kernel probes %globaltimer's update step; if it is coarser
// than CHI_ANCHOR_GT_FINE_NS (some GPUs/drivers update it only every 1 us),
// the samples are SM-cycle deltas (clock64) converted with ns_per_cycle =
// globaltimer span / cycle span over the whole recorded run (exact to well
// under 0.1% for runs of milliseconds). chi_gpu_pingpong_floor_ex also gives
// the host-clock view: the time between the host's pong writes of
// consecutive rounds, which is one full round trip as well.
//
// Watchdog: the host waits at most CHI_ANCHOR_HOST_WAIT_NS for each ping
// (checking its clock only every 4096 spins), then writes pong.payload =
// CHI_ANCHOR_ABORT (the abort word lives in the pong pair, so the GPU sees it
// in the load it spins on anyway, at no extra PCIe read), waits for the
// kernel and returns -ETIMEDOUT. The kernel gives up by itself after
// CHI_ANCHOR_DEV_WAIT_NS per wait (globaltimer, checked every 1024 spins) so
// that nothing hangs even if the host stops writing. If the kernel ends early
// (fault, own deadline) the host sees it through cudaStreamQuery, polled
// rarely from the slow path of its spin.
//
// Launch + host func (chi_gpu_launch_host_func): per iteration, on a
// non-blocking stream: t0; tiny kernel<<<1,1>>>; cudaLaunchHostFunc(callback
// that increments a host counter); cudaStreamSynchronize; t1. 100 warmup
// iterations; the counter is checked every iteration.
#include "anchors.h"

#include <cuda_runtime.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <emmintrin.h>
#define CHI_ANCHOR_SSE 1
#endif

#define CHI_ANCHOR_PP_WARMUP 1000ull
#define CHI_ANCHOR_HF_WARMUP 100u
#define CHI_ANCHOR_HOST_WAIT_NS 10000000000ull /* 10 s per ping */
#define CHI_ANCHOR_DEV_WAIT_NS 15000000000ull  /* 15 s per pong (> host's) */
#define CHI_ANCHOR_GT_FINE_NS 100ull
#define CHI_ANCHOR_ABORT 1ull

// Kernel exit codes (chi_anchor_dev_info.status).
#define CHI_ANCHOR_ST_RUNNING 0ull
#define CHI_ANCHOR_ST_DONE 1ull
#define CHI_ANCHOR_ST_ABORTED 2ull
#define CHI_ANCHOR_ST_DEADLINE 3ull

struct alignas(16) chi_anchor_pair {
	unsigned long long seq;
	unsigned long long payload;
};

// Pinned, shared by host and GPU. Each pair on its own 128-byte line.
struct chi_anchor_shared {
	alignas(128) chi_anchor_pair ping; // GPU -> host
	alignas(128) chi_anchor_pair pong; // host -> GPU
	alignas(128) unsigned char pad_[128];
};

// Device memory, copied back after the kernel.
struct chi_anchor_dev_info {
	unsigned long long status;
	unsigned long long rounds; // rounds completed
	unsigned long long gt_step; // smallest %globaltimer increment seen
	unsigned long long gt_begin, gt_end, clk_begin, clk_end; // recorded span
};

struct alignas(16) chi_anchor_sample {
	unsigned long long gt_ns;
	unsigned long long cycles;
};

// ---------------------------------------------------------------- errors

static __thread char chi_anchor_err[256];

static void chi_anchor_seterr(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(chi_anchor_err, sizeof(chi_anchor_err), fmt, ap);
	va_end(ap);
}

extern "C" const char *chi_gpu_anchor_last_error(void)
{
	return chi_anchor_err;
}

// Every CUDA call goes through this; on failure: rc = -1000 - err, goto out.
#define CHI_CK(call)                                                                   \
	do {                                                                           \
		cudaError_t e_ = (call);                                               \
		if (e_ != cudaSuccess) {                                               \
			chi_anchor_seterr("%s:%d: %s: %s (%d)", __FILE__, __LINE__,    \
					  #call, cudaGetErrorString(e_), (int)e_);     \
			rc = -1000 - (int)e_;                                          \
			goto out;                                                      \
		}                                                                      \
	} while (0)

#define CHI_FAIL(code, ...)                                                            \
	do {                                                                           \
		chi_anchor_seterr(__VA_ARGS__);                                        \
		rc = (code);                                                           \
		goto out;                                                              \
	} while (0)

// ---------------------------------------------------------------- device

static __device__ __forceinline__ unsigned long long chi_anchor_gtimer(void)
{
	unsigned long long t;
	asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t)::"memory");
	return t;
}

static __device__ __forceinline__ unsigned long long chi_anchor_clock(void)
{
	unsigned long long c;
	asm volatile("mov.u64 %0, %%clock64;" : "=l"(c)::"memory");
	return c;
}

// Flag and payload in one aligned 16-byte load (a second load of
// the result costs another PCIe round trip).
static __device__ __forceinline__ void chi_anchor_ld_pair(const chi_anchor_pair *p,
							  unsigned long long *seq,
							  unsigned long long *payload)
{
	unsigned long long s, v;
	asm volatile("ld.volatile.global.v2.u64 {%0, %1}, [%2];"
		     : "=l"(s), "=l"(v)
		     : "l"((unsigned long long)__cvta_generic_to_global(p))
		     : "memory");
	*seq = s;
	*payload = v;
}

static __device__ __forceinline__ void chi_anchor_st_sample(chi_anchor_sample *p,
							    unsigned long long gt,
							    unsigned long long cyc)
{
	asm volatile("st.global.v2.u64 [%0], {%1, %2};" ::"l"(
			     (unsigned long long)__cvta_generic_to_global(p)),
		     "l"(gt), "l"(cyc)
		     : "memory");
}

__global__ void __launch_bounds__(1, 1)
	chi_anchor_pingpong_kernel(chi_anchor_shared *sh, chi_anchor_sample *samples,
				   chi_anchor_dev_info *info, unsigned long long n,
				   unsigned long long warmup, unsigned long long wait_ns)
{
	// %globaltimer step probe: 32 observed increments (bounded, in case the
	// timer does not move at all).
	unsigned long long step = ~0ull;
	{
		unsigned long long prev = chi_anchor_gtimer();
		unsigned seen = 0;
		for (unsigned k = 0; k < (1u << 24) && seen < 32; ++k) {
			unsigned long long t = chi_anchor_gtimer();
			if (t != prev) {
				if (t - prev < step)
					step = t - prev;
				prev = t;
				++seen;
			}
		}
	}

	volatile unsigned long long *ping = &sh->ping.seq;
	const unsigned long long total = warmup + n;
	unsigned long long status = CHI_ANCHOR_ST_DONE;
	unsigned long long done = 0;
	unsigned long long gt_begin = 0, clk_begin = 0, gt_end = 0, clk_end = 0;
	// Sample of the previous recorded round, written while waiting.
	bool have_pending = false;
	unsigned long long pend_idx = 0, pend_gt = 0, pend_cyc = 0;

	for (unsigned long long i = 1; i <= total; ++i) {
		const unsigned long long c0 = chi_anchor_clock();
		const unsigned long long t0 = chi_anchor_gtimer();
		*ping = i;
		__threadfence_system(); // push the store out
		if (have_pending) {
			chi_anchor_st_sample(&samples[pend_idx], pend_gt, pend_cyc);
			have_pending = false;
		}
		unsigned long long seq, payload;
		unsigned spins = 0;
		for (;;) {
			chi_anchor_ld_pair(&sh->pong, &seq, &payload);
			if (seq == i || (payload & CHI_ANCHOR_ABORT))
				break;
			if ((++spins & 1023u) == 0 && chi_anchor_gtimer() - t0 > wait_ns) {
				status = CHI_ANCHOR_ST_DEADLINE;
				goto out;
			}
		}
		{
			const unsigned long long t1 = chi_anchor_gtimer();
			const unsigned long long c1 = chi_anchor_clock();
			if (payload & CHI_ANCHOR_ABORT) {
				status = CHI_ANCHOR_ST_ABORTED;
				goto out;
			}
			done = i;
			if (i > warmup) {
				pend_idx = i - warmup - 1;
				pend_gt = t1 - t0;
				pend_cyc = c1 - c0;
				have_pending = true;
				if (pend_idx == 0) {
					gt_begin = t0;
					clk_begin = c0;
				}
				gt_end = t1;
				clk_end = c1;
			}
		}
	}
out:
	if (have_pending)
		chi_anchor_st_sample(&samples[pend_idx], pend_gt, pend_cyc);
	info->rounds = done;
	info->gt_step = step;
	info->gt_begin = gt_begin;
	info->gt_end = gt_end;
	info->clk_begin = clk_begin;
	info->clk_end = clk_end;
	info->status = status;
}

__global__ void chi_anchor_tiny_kernel(unsigned long long *p, unsigned long long v)
{
	*p = v;
}

// ---------------------------------------------------------------- host

static inline unsigned long long chi_anchor_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

// Host write of a pair the GPU reads in one 16-byte load: one aligned SSE
// store (single-copy atomic on CPUs with AVX), never a 16-byte __atomic.
static inline void chi_anchor_st_pair(chi_anchor_pair *p, unsigned long long seq,
				      unsigned long long payload)
{
#ifdef CHI_ANCHOR_SSE
	__atomic_signal_fence(__ATOMIC_RELEASE);
	_mm_store_si128((__m128i *)(void *)p, _mm_set_epi64x((long long)payload, (long long)seq));
#else
	__atomic_store_n(&p->payload, payload, __ATOMIC_RELAXED);
	__atomic_store_n(&p->seq, seq, __ATOMIC_RELEASE);
#endif
}

// Selects `device` for the call; *prev gets the device to restore.
static int chi_anchor_enter(int device, int *prev)
{
	int rc = 0, count = 0;
	*prev = -1;
	CHI_CK(cudaGetDeviceCount(&count));
	if (device < 0 || device >= count)
		CHI_FAIL(-EINVAL, "device %d out of range (%d devices)", device, count);
	CHI_CK(cudaGetDevice(prev));
	CHI_CK(cudaSetDevice(device));
out:
	return rc;
}

static void chi_anchor_leave(int prev)
{
	if (prev >= 0)
		(void)cudaSetDevice(prev);
}

extern "C" int chi_gpu_pingpong_floor_ex(int device, uint64_t *samples_ns,
					 uint64_t *host_samples_ns, size_t n,
					 chi_gpu_pingpong_info *pinfo)
{
	int rc = 0, prev = -1, can_map = 0;
	bool launched = false;
	cudaStream_t stream = nullptr;
	chi_anchor_shared *sh = nullptr, *sh_dev = nullptr;
	chi_anchor_sample *d_samples = nullptr, *h_samples = nullptr;
	chi_anchor_dev_info *d_info = nullptr;
	chi_anchor_dev_info info;
	const unsigned long long warmup = CHI_ANCHOR_PP_WARMUP;
	const unsigned long long total = warmup + (unsigned long long)n;
	unsigned long long t_prev = 0, deadline = 0;
	double ns_per_cycle = 0.0;
	int source = CHI_GPU_CLOCK_GLOBALTIMER;

	chi_anchor_err[0] = '\0';
	memset(&info, 0, sizeof(info));
	if (n == 0 || !samples_ns)
		CHI_FAIL(-EINVAL, "pingpong: n == 0 or samples_ns == NULL");
	rc = chi_anchor_enter(device, &prev);
	if (rc)
		goto out;
	CHI_CK(cudaDeviceGetAttribute(&can_map, cudaDevAttrCanMapHostMemory, device));
	if (!can_map)
		CHI_FAIL(-ENOTSUP, "device %d cannot map host memory", device);

	h_samples = (chi_anchor_sample *)malloc(n * sizeof(*h_samples));
	if (!h_samples)
		CHI_FAIL(-ENOMEM, "pingpong: malloc of %zu samples", n);
	CHI_CK(cudaHostAlloc((void **)&sh, sizeof(*sh), cudaHostAllocMapped | cudaHostAllocPortable));
	memset((void *)sh, 0, sizeof(*sh));
	CHI_CK(cudaHostGetDevicePointer((void **)&sh_dev, (void *)sh, 0));
	CHI_CK(cudaMalloc((void **)&d_samples, n * sizeof(*d_samples)));
	CHI_CK(cudaMalloc((void **)&d_info, sizeof(*d_info)));
	CHI_CK(cudaMemset(d_samples, 0, n * sizeof(*d_samples)));
	CHI_CK(cudaMemset(d_info, 0, sizeof(*d_info)));
	CHI_CK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
	CHI_CK(cudaDeviceSynchronize());

	chi_anchor_pingpong_kernel<<<1, 1, 0, stream>>>(sh_dev, d_samples, d_info,
							  (unsigned long long)n, warmup,
							  CHI_ANCHOR_DEV_WAIT_NS);
	CHI_CK(cudaGetLastError());
	launched = true;

	deadline = chi_anchor_now_ns() + CHI_ANCHOR_HOST_WAIT_NS;
	for (unsigned long long i = 1; i <= total; ++i) {
		unsigned spins = 0, checks = 0;
		while (__atomic_load_n(&sh->ping.seq, __ATOMIC_ACQUIRE) != i) {
			if (++spins < 4096)
				continue;
			spins = 0;
			if (chi_anchor_now_ns() > deadline) {
				chi_anchor_st_pair(&sh->pong, i - 1, CHI_ANCHOR_ABORT);
				CHI_CK(cudaStreamSynchronize(stream));
				launched = false;
				CHI_FAIL(-ETIMEDOUT, "pingpong: no ping %llu within 10 s", i);
			}
			if ((++checks & 63u) == 0) {
				cudaError_t q = cudaStreamQuery(stream);
				if (q != cudaErrorNotReady) {
					// The kernel ended without sending ping i.
					launched = false;
					CHI_CK(q);
					CHI_CK(cudaMemcpy(&info, d_info, sizeof(info),
							  cudaMemcpyDeviceToHost));
					CHI_FAIL(-EIO,
						 "pingpong: kernel ended at round %llu/%llu "
						 "(status %llu)",
						 info.rounds, total, info.status);
				}
			}
		}
#ifdef CHI_ANCHOR_TEST_STALL_AT // watchdog test hook: stop answering
		if (i == (unsigned long long)(CHI_ANCHOR_TEST_STALL_AT))
			continue;
#endif
		chi_anchor_st_pair(&sh->pong, i, 0);
		const unsigned long long t = chi_anchor_now_ns();
		if (host_samples_ns && i > warmup)
			host_samples_ns[i - warmup - 1] = t - t_prev;
		t_prev = t;
		deadline = t + CHI_ANCHOR_HOST_WAIT_NS;
	}

	CHI_CK(cudaStreamSynchronize(stream));
	launched = false;
	CHI_CK(cudaMemcpy(&info, d_info, sizeof(info), cudaMemcpyDeviceToHost));
	if (info.status != CHI_ANCHOR_ST_DONE || info.rounds != total)
		CHI_FAIL(-EIO, "pingpong: kernel status %llu after %llu/%llu rounds", info.status,
			 info.rounds, total);
	CHI_CK(cudaMemcpy(h_samples, d_samples, n * sizeof(*h_samples), cudaMemcpyDeviceToHost));

	if (info.clk_end <= info.clk_begin || info.gt_end <= info.gt_begin)
		CHI_FAIL(-EIO, "pingpong: empty recorded span (gt %llu..%llu, clk %llu..%llu)",
			 info.gt_begin, info.gt_end, info.clk_begin, info.clk_end);
	ns_per_cycle = (double)(info.gt_end - info.gt_begin) /
		       (double)(info.clk_end - info.clk_begin);
	source = info.gt_step <= CHI_ANCHOR_GT_FINE_NS ? CHI_GPU_CLOCK_GLOBALTIMER
						       : CHI_GPU_CLOCK_SM_CYCLES;
	for (size_t k = 0; k < n; ++k)
		samples_ns[k] = source == CHI_GPU_CLOCK_GLOBALTIMER
					? (uint64_t)h_samples[k].gt_ns
					: (uint64_t)((double)h_samples[k].cycles * ns_per_cycle + 0.5);
	if (pinfo) {
		pinfo->globaltimer_step_ns = info.gt_step;
		pinfo->clock_source = source;
		pinfo->ns_per_cycle = ns_per_cycle;
		pinfo->warmup = warmup;
	}

out:
	if (launched && sh) {
		// Error path with the kernel possibly still spinning: abort it.
		chi_anchor_st_pair(&sh->pong, 0, CHI_ANCHOR_ABORT);
		(void)cudaStreamSynchronize(stream);
	}
	if (stream)
		(void)cudaStreamDestroy(stream);
	if (d_info)
		(void)cudaFree(d_info);
	if (d_samples)
		(void)cudaFree(d_samples);
	if (sh)
		(void)cudaFreeHost(sh);
	free(h_samples);
	chi_anchor_leave(prev);
	return rc;
}

extern "C" int chi_gpu_pingpong_floor(int device, uint64_t *samples_ns, size_t n)
{
	return chi_gpu_pingpong_floor_ex(device, samples_ns, nullptr, n, nullptr);
}

struct chi_anchor_hf_ctx {
	unsigned long long counter; // written only by the callback thread
};

static void CUDART_CB chi_anchor_host_cb(void *arg)
{
	chi_anchor_hf_ctx *c = (chi_anchor_hf_ctx *)arg;
	__atomic_store_n(&c->counter, __atomic_load_n(&c->counter, __ATOMIC_RELAXED) + 1,
			 __ATOMIC_RELEASE);
}

extern "C" int chi_gpu_launch_host_func(int device, uint64_t *samples_ns, size_t n)
{
	int rc = 0, prev = -1;
	cudaStream_t stream = nullptr;
	unsigned long long *d_word = nullptr;
	chi_anchor_hf_ctx ctx;
	const unsigned long long total = CHI_ANCHOR_HF_WARMUP + (unsigned long long)n;

	chi_anchor_err[0] = '\0';
	ctx.counter = 0;
	if (n == 0 || !samples_ns)
		CHI_FAIL(-EINVAL, "launch_host_func: n == 0 or samples_ns == NULL");
	rc = chi_anchor_enter(device, &prev);
	if (rc)
		goto out;
	CHI_CK(cudaMalloc((void **)&d_word, sizeof(*d_word)));
	CHI_CK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
	CHI_CK(cudaDeviceSynchronize());

	for (unsigned long long i = 1; i <= total; ++i) {
		const unsigned long long t0 = chi_anchor_now_ns();
		chi_anchor_tiny_kernel<<<1, 1, 0, stream>>>(d_word, i);
		CHI_CK(cudaGetLastError());
		CHI_CK(cudaLaunchHostFunc(stream, chi_anchor_host_cb, &ctx));
		CHI_CK(cudaStreamSynchronize(stream));
		const unsigned long long t1 = chi_anchor_now_ns();
		if (__atomic_load_n(&ctx.counter, __ATOMIC_ACQUIRE) != i)
			CHI_FAIL(-EIO, "launch_host_func: counter %llu after call %llu",
				 __atomic_load_n(&ctx.counter, __ATOMIC_ACQUIRE), i);
		if (i > CHI_ANCHOR_HF_WARMUP)
			samples_ns[i - CHI_ANCHOR_HF_WARMUP - 1] = t1 - t0;
	}

out:
	if (stream) {
		(void)cudaStreamSynchronize(stream); // no callback may outlive ctx
		(void)cudaStreamDestroy(stream);
	}
	if (d_word)
		(void)cudaFree(d_word);
	chi_anchor_leave(prev);
	return rc;
}
