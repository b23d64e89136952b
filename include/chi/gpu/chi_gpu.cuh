// chi/gpu/chi_gpu.cuh: the device-side API for CUDA C kernels. Include it in
// a .cu file; host code attaches with chi_gpu_client_open (chi/chi.h) and
// passes chi_gpu_client_ctx(...) to kernels by value. The functions are the
// CHI_HD ones of chi/gpu/api.h (the same text CPU tests run) plus the
// warp-batched submit. Link with chi::chi_gpu (CMake) and call
// chi_gpu_cuda_enable() before starting or attaching.
#ifndef CHI_GPU_CHI_GPU_CUH
#define CHI_GPU_CHI_GPU_CUH
#include "chi/chi.h"
#include "chi/gpu/api.h"
#endif
