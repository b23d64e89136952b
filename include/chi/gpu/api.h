/* chi/gpu/api.h: the GPU client's device-side API, run by kernels and by CPU
 * threads standing in for one (the gpu_protocol tests): the very same
 * CHI_HD text.
 *
 *   chi_gpu_future f;
 *   chi_test_double_plus_task t;
 *   chi_test_double_plus_init(&t, CHI_POOL_TEST, v, gpu_id);
 *   chi_gpu_make_copy_future(&ctx, lane, &t.hdr, chi_test_double_plus_ser_in, &f);
 *   ...                                    // keep working, or submit more
 *   int64_t r = chi_gpu_future_wait(&ctx, &f, &t.hdr, chi_test_double_plus_de_out, 0);
 *
 *   chi/gpu/pool.h    block pools (admission, A1-A3)
 *   chi/gpu/submit.h  one task: pool or owned block, sealed or fenced
 *   chi/gpu/wait.h    poll, finish, wait, test, release
 *   chi/gpu/warp.h    a warp's 32 tasks as one packed lane entry
 * (chi/gpu/future.h: the future type and block offsets they share.) */
#ifndef CHI_GPU_API_H
#define CHI_GPU_API_H

#include "chi/gpu/pool.h"
#include "chi/gpu/submit.h"
#include "chi/gpu/wait.h"
#include "chi/gpu/warp.h"

#endif
