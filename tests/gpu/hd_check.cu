// tests/gpu/hd_check.cu: compiles every CHI_HD function of the shared headers
// as device code, with -Werror all-warnings, so that device code cannot rot
// unseen. CI builds it (it needs nvcc, not a GPU); nothing launches it.
#include "chi/proto/archive.h"
#include "chi/proto/atomic.h"
#include "chi/proto/future.h"
#include "chi/proto/lane.h"
#include "chi/proto/offptr.h"
#include "chi/proto/ring.h"
#include "chi/proto/seal.h"
#include "chi/proto/segment.h"
#include "chi/proto/task.h"
#include "chi/modules/test.h"
#include "chi/modules/admin.h"
#include "chi/modules/bdev.h"
#include "chi/gpu/api.h"
#include "chi/gpu/bdev.h"

__global__ void chi_hd_check_kernel(chi_slot *slots, uint64_t *tail, uint64_t *head,
				    uint8_t *buf, uint32_t cap, uint64_t *out)
{
	chi_ring_view r;
	r.slots = slots;
	r.tail = tail;
	r.head = head;
	r.mask = 63;
	r.shift = 6;
	r.pub = NULL;
	uint64_t acc = 0;
	uint64_t t;
	if (chi_ring_try_claim(&r, &t) == 0) {
		chi_ring_mark(&r, t, 1);
		chi_ring_publish(&r, t, chi_offptr_make(CHI_SEG_ID_GPU_BASE, 4096), 1, 1);
	}
	t = chi_ring_claim(&r);
	chi_offptr first = 0;
	acc += chi_ring_pop(&r, &first) + chi_ring_peek(&r, 1) + chi_ring_ready(&r, 0);
	chi_ring_skip(&r);
	/* sealed entries (proto/seal.h) */
	uint32_t pay[CHI_SEAL_WORDS] = {0};
	chi_seal_write((uint64_t *)(void *)buf, pay, 5);
	chi_ring_publish_sealed(&r, t, chi_offptr_make(CHI_SEG_ID_GPU_BASE, 4096), 1);
	uint64_t h;
	if (chi_ring_head(&r, &h))
		chi_ring_take(&r, h);
	acc += chi_seal_read((const uint64_t *)(const void *)buf, pay) + chi_seal_fits(8, 8) +
	       chi_seal_done(t, chi_seal_tag(t, 1));
	acc += chi_slot_lap(t) + chi_slot_state(t) + chi_slot_count(t) + chi_slot_client(t);
	acc += chi_offptr_seg(first) + chi_offptr_off(first) +
	       (uint64_t)(uintptr_t)chi_offptr_resolve(buf, first);
	acc += chi_ld_acq_u32((uint32_t *)buf) + chi_ld_rlx_u32((uint32_t *)buf) +
	       chi_ld_rlx_u64(tail);
	chi_st_rel_u32((uint32_t *)buf, 1);
	chi_st_rlx_u32((uint32_t *)buf, 2);
	chi_st_rlx_u64(head, 3);
	chi_st_rel_u64(head, 4);
	uint64_t e = 4;
	acc += chi_cas_u64(tail, &e, 5) + chi_faa_u64(tail, 1);
	chi_fence_seq();
	chi_cpu_relax();

	chi_ar a;
	chi_ar_init(&a, buf, cap);
	chi_ar_put_u32(&a, 1);
	chi_ar_put_u64(&a, 2);
	chi_ar_put_bytes(&a, buf + 64, 8);
	chi_ar_put_str(&a, "x");
	chi_ar_copy(buf + 128, buf, 16);
	acc += (uint64_t)(uintptr_t)chi_ar_reserve(&a, 4);
	chi_ar_init(&a, buf, cap);
	acc += chi_ar_get_u32(&a) + chi_ar_get_u64(&a);
	uint32_t n;
	acc += (uint64_t)(uintptr_t)chi_ar_get_bytes(&a, &n) + n;
	char s[8];
	chi_ar_get_str(&a, s, sizeof(s));
	acc += (uint64_t)(uintptr_t)chi_ar_take(&a, 1) + (uint64_t)s[0];

	chi_task th;
	chi_task_init(&th, CHI_POOL_TEST, 0, 0);
	acc += chi_task_out_off(12) + chi_task_wire_size(12, 8);
	acc += chi_future_flags((const chi_future_shm *)buf);

	chi_test_noop_task nt;
	chi_test_noop_init(&nt, CHI_POOL_TEST);
	acc += chi_test_noop_ser(&a, &nt.hdr) + chi_test_noop_de(&a, &nt.hdr);
	chi_test_echo_task et;
	chi_test_echo_init(&et, CHI_POOL_TEST, buf, 8, buf + 64, 8);
	acc += chi_test_echo_ser_in(&a, &et.hdr) + chi_test_echo_de_in(&a, &et.hdr) +
	       chi_test_echo_ser_out(&a, &et.hdr) + chi_test_echo_de_out(&a, &et.hdr);
	chi_test_double_plus_task dt;
	chi_test_double_plus_init(&dt, CHI_POOL_TEST, 20, 1);
	acc += chi_test_double_plus_ser_in(&a, &dt.hdr) + chi_test_double_plus_de_in(&a, &dt.hdr) +
	       chi_test_double_plus_ser_out(&a, &dt.hdr) + chi_test_double_plus_de_out(&a, &dt.hdr);
	chi_test_large_task lt;
	chi_test_large_init(&lt, CHI_POOL_TEST, 1, 8, buf);
	acc += chi_test_large_ser_in(&a, &lt.hdr) + chi_test_large_de_in(&a, &lt.hdr) +
	       chi_test_large_ser_out(&a, &lt.hdr) + chi_test_large_de_out(&a, &lt.hdr) +
	       chi_test_pattern(1, 2);
	chi_test_arg_task at;
	chi_test_arg_init(&at, CHI_POOL_TEST, CHI_TEST_SPIN, 1);
	acc += chi_test_arg_ser_in(&a, &at.hdr) + chi_test_arg_de_in(&a, &at.hdr);
	chi_admin_pool_task pt;
	acc += chi_admin_pool_ser_in(&a, &pt.hdr) + chi_admin_pool_de_in(&a, &pt.hdr) +
	       chi_admin_pool_ser_out(&a, &pt.hdr) + chi_admin_pool_de_out(&a, &pt.hdr);
	chi_bdev_alloc_task ba;
	chi_bdev_allocate_init(&ba, CHI_POOL_BDEV, 4096);
	acc += chi_bdev_allocate_ser_in(&a, &ba.hdr) + chi_bdev_allocate_de_in(&a, &ba.hdr) +
	       chi_bdev_allocate_ser_out(&a, &ba.hdr) + chi_bdev_allocate_de_out(&a, &ba.hdr);
	chi_bdev_free_init(&ba, CHI_POOL_BDEV, 0, 4096);
	acc += chi_bdev_free_ser_in(&a, &ba.hdr) + chi_bdev_free_de_in(&a, &ba.hdr);
	chi_bdev_write_task bw;
	chi_bdev_write_init(&bw, CHI_POOL_BDEV, 0, buf, 8);
	acc += chi_bdev_write_ser_in(&a, &bw.hdr) + chi_bdev_write_de_in(&a, &bw.hdr) +
	       chi_bdev_write_ser_out(&a, &bw.hdr) + chi_bdev_write_de_out(&a, &bw.hdr);
	chi_bdev_read_task br;
	chi_bdev_read_init(&br, CHI_POOL_BDEV, 0, buf + 256, 8);
	acc += chi_bdev_read_ser_in(&a, &br.hdr) + chi_bdev_read_de_in(&a, &br.hdr) +
	       chi_bdev_read_ser_out(&a, &br.hdr) + chi_bdev_read_de_out(&a, &br.hdr);
	chi_bdev_stats_task bs;
	chi_bdev_stats_init(&bs, CHI_POOL_BDEV);
	acc += chi_bdev_stats_ser_in(&a, &bs.hdr) + chi_bdev_stats_de_in(&a, &bs.hdr) +
	       chi_bdev_stats_ser_out(&a, &bs.hdr) + chi_bdev_stats_de_out(&a, &bs.hdr);
	out[threadIdx.x] = acc;
}

__global__ void chi_hd_check_gpu_api(chi_gpu_ctx g, long long *out)
{
	chi_test_double_plus_task t;
	chi_test_double_plus_init(&t, CHI_POOL_TEST, 1, g.gpu_id);
	chi_gpu_future f;
	uint64_t fl0;
	int64_t r0;
	long long acc = chi_gpu_make_copy_future(&g, 0, &t.hdr, chi_test_double_plus_ser_in, &f);
	acc += chi_gpu_future_test(&f);
	acc += chi_gpu_future_wait(&g, &f, &t.hdr, chi_test_double_plus_de_out, 1000);
	acc += chi_gpu_make_copy_future_at(&g, 0, threadIdx.x, &t.hdr, chi_test_double_plus_ser_in, &f);
	chi_gpu_future_release(&g, &f);
	acc += chi_gpu_make_copy_future_warp(&g, 0, 0, &t.hdr, chi_test_double_plus_ser_in, &f);
	acc += chi_gpu_future_wait_warp(&g, &f, &t.hdr, chi_test_double_plus_de_out, 1000);
	acc += chi_gpu_future_poll(&g, &f, 1000, &fl0, &r0);
	uint32_t idx = 0;
	if (!chi_gpu_pool_try_take(&g.pools[0], &idx))
		chi_gpu_pool_give(&g.pools[0], idx);
	uint8_t bytes[64];
	acc += chi_gpu_bdev_write(&g, 0, CHI_POOL_BDEV, 0, bytes, sizeof(bytes), 1000);
	acc += chi_gpu_bdev_read(&g, 0, CHI_POOL_BDEV, 0, bytes, sizeof(bytes), 1000);
	uint64_t fl;
	int64_t r;
	chi_future_pair(f.shm, &fl, &r);
	acc += (long long)(fl + (uint64_t)r + chi_hd_now_ns());
	out[threadIdx.x] = acc;
}
