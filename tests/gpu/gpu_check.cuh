// tests/gpu/gpu_check.cuh: the host-side checks of the GPU tests run on the
// device (test_gpu_e2e, test_gpu_cluster): a failed CHECK is printed with
// its line and counted in `failures`, and the test goes on; main returns
// nonzero when any failed.
#ifndef CHI_TESTS_GPU_CHECK_CUH
#define CHI_TESTS_GPU_CHECK_CUH

#include <stdio.h>

static int failures;
#define CHECK(c)                                                                       \
	do {                                                                           \
		if (!(c)) {                                                            \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
			failures++;                                                    \
		}                                                                      \
	} while (0)
#define CUDA_OK(x) CHECK((x) == cudaSuccess)

#endif
