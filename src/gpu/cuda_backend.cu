// src/gpu/cuda_backend.cu: the CUDA implementation of chi_gpu_ops
// (src/gpu/gpu.h), in libchi_gpu. chi_gpu_cuda_enable() selects it. Every
// CUDA error becomes a negative errno after a message naming the call; no
// device, no driver (cudaErrorNoDevice, cudaErrorInsufficientDriver) are
// normal states: count() reports 0 with the reason.
#include <cuda_runtime.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

extern "C" {
#include "chi/log.h"
#include "gpu/gpu.h"
}

static int fail(const char *what, cudaError_t e)
{
	chi_log(CHI_LOG_ERROR, "%s: %s", what, cudaGetErrorString(e));
	switch (e) {
	case cudaErrorMemoryAllocation: return -ENOMEM;
	case cudaErrorNoDevice:
	case cudaErrorInsufficientDriver: return -ENODEV;
	case cudaErrorInvalidValue: return -EINVAL;
	default: return -EIO;
	}
}

static int cu_count(char *why, size_t len)
{
	int n = 0;
	cudaError_t e = cudaGetDeviceCount(&n);
	if (e != cudaSuccess) {
		snprintf(why, len, "%s (%s)", cudaGetErrorName(e), cudaGetErrorString(e));
		cudaGetLastError();
		return 0;
	}
	if (n == 0)
		snprintf(why, len, "no CUDA device");
	return n;
}

static int cu_register(void *base, uint64_t size, void **dev)
{
	cudaError_t e = cudaHostRegister(base, size, cudaHostRegisterPortable | cudaHostRegisterMapped);
	if (e != cudaSuccess)
		return fail("cudaHostRegister", e);
	e = cudaHostGetDevicePointer(dev, base, 0);
	if (e != cudaSuccess) {
		cudaHostUnregister(base);
		return fail("cudaHostGetDevicePointer", e);
	}
	return 0;
}

static void cu_unregister(void *base)
{
	cudaHostUnregister(base);
}

static int cu_alloc(int gpu, uint64_t bytes, void **dev)
{
	cudaError_t e = cudaSetDevice(gpu);
	if (e == cudaSuccess)
		e = cudaMalloc(dev, bytes);
	if (e == cudaSuccess)
		e = cudaMemset(*dev, 0, bytes);
	if (e == cudaSuccess)
		e = cudaDeviceSynchronize();
	return e == cudaSuccess ? 0 : fail("cudaMalloc", e);
}

static void cu_free(int gpu, void *dev)
{
	cudaSetDevice(gpu);
	cudaFree(dev);
}

static int cu_export(void *dev, uint8_t handle[64])
{
	cudaIpcMemHandle_t h;
	cudaError_t e = cudaIpcGetMemHandle(&h, dev);
	if (e != cudaSuccess)
		return fail("cudaIpcGetMemHandle", e);
	memcpy(handle, &h, sizeof(h) < 64 ? sizeof(h) : 64);
	return 0;
}

static int cu_import(int gpu, const uint8_t handle[64], void **dev)
{
	cudaIpcMemHandle_t h;
	memcpy(&h, handle, sizeof(h) < 64 ? sizeof(h) : 64);
	cudaError_t e = cudaSetDevice(gpu);
	if (e == cudaSuccess)
		e = cudaIpcOpenMemHandle(dev, h, cudaIpcMemLazyEnablePeerAccess);
	return e == cudaSuccess ? 0 : fail("cudaIpcOpenMemHandle", e);
}

static void cu_close(void *dev)
{
	cudaIpcCloseMemHandle(dev);
}

static int cu_copy(void *dst, const void *src, uint64_t n)
{
	cudaError_t e = cudaMemcpy(dst, src, n, cudaMemcpyHostToDevice);
	return e == cudaSuccess ? 0 : fail("cudaMemcpy", e);
}

// The claim counters read back, from the runtime's monitor thread or a
// client's close: on a stream of its own that does not wait for the legacy
// default stream, so a kernel of the same process running there cannot hold
// the monitor (and with it the heartbeat kernels wait on) up.
static int cu_copy_from(int gpu, void *dst, const void *src, uint64_t n)
{
	cudaStream_t s = nullptr;
	cudaError_t e = cudaSetDevice(gpu);
	if (e == cudaSuccess)
		e = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
	if (e == cudaSuccess)
		e = cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, s);
	if (e == cudaSuccess)
		e = cudaStreamSynchronize(s);
	if (s)
		cudaStreamDestroy(s);
	return e == cudaSuccess ? 0 : fail("cudaMemcpyAsync (claim counters)", e);
}

// "0000:3B:00.0": src/numa/ looks it up in sysfs for the GPU's NUMA node
static int cu_pci_bus_id(int gpu, char *buf, size_t len)
{
	if (len < 13)
		return -ENAMETOOLONG;
	cudaError_t e = cudaDeviceGetPCIBusId(buf, (int)(len > 64 ? 64 : len), gpu);
	return e == cudaSuccess ? 0 : fail("cudaDeviceGetPCIBusId", e);
}

// every SM with a block of 128 threads: the kernel shape gpu.queue_depth
// auto is sized for
static uint32_t cu_threads(int gpu)
{
	int sms = 0;
	if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, gpu) != cudaSuccess) {
		cudaGetLastError();
		return 0;
	}
	return sms > 0 ? (uint32_t)sms * 128u : 0;
}

static const chi_gpu_ops cuda_ops = {"cuda",        0,        cu_count, cu_register,
				     cu_unregister, cu_alloc, cu_free,  cu_export,
				     cu_import,     cu_close, cu_copy,  cu_pci_bus_id,
				     cu_copy_from,  cu_threads};

extern "C" int chi_gpu_cuda_enable(void)
{
	chi_gpu_set_ops(&cuda_ops);
	return 0;
}
