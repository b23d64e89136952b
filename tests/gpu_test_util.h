/* tests/gpu_test_util.h: helpers of the gpu_protocol tests (CPU threads
 * running the CHI_HD submit code on a simulated GPU). */
#ifndef CHI_TESTS_GPU_TEST_UTIL_H
#define CHI_TESTS_GPU_TEST_UTIL_H

#include <string.h>
#include <time.h>

#include "chi/gpu/api.h"
#include "chi/modules/test.h"

static inline void test_nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Z1 (proto/seal.h): the payload words of test.double_plus(v, id 0), into
 * pay[CHI_SEAL_WORDS]; returns their count. */
static inline uint32_t test_seal_payload(chi_test_double_plus_task *t, int64_t v, uint32_t *pay)
{
	chi_test_double_plus_init(t, CHI_POOL_TEST, v, 0);
	memcpy(pay, &t->hdr, sizeof(chi_task));
	chi_ar a;
	chi_ar_init(&a, (uint8_t *)pay + sizeof(chi_task), t->hdr.in_size);
	if (chi_test_double_plus_ser_in(&a, &t->hdr))
		return 0;
	return 4 + (t->hdr.in_size + 3) / 4;
}

/* The header of GPU lane `lane` (its counters) in x's segment. */
static inline chi_lane_shm *test_gpu_lane(const chi_gpu_ctx *x, uint32_t lane)
{
	const chi_gpu_dir *d = (const chi_gpu_dir *)(const void *)(x->base + x->hdr->dir_off);
	return (chi_lane_shm *)(void *)(x->base + d->lanes_off) + lane;
}

/* One test.double_plus(v, id 0) through the block pool of lane 0, waited
 * for up to 5 s: v * 2, or the submit's or the wait's error. */
static inline int64_t test_gpu_double_plus(const chi_gpu_ctx *x, int64_t v)
{
	chi_test_double_plus_task t;
	chi_gpu_future f;
	memset(&f, 0, sizeof(f));
	chi_test_double_plus_init(&t, CHI_POOL_TEST, v, 0);
	int rc = chi_gpu_make_copy_future(x, 0, &t.hdr, chi_test_double_plus_ser_in, &f);
	if (rc)
		return rc;
	return chi_gpu_future_wait(x, &f, &t.hdr, chi_test_double_plus_de_out, 5000000000ull);
}

#endif
