/* chi/gpu/bdev.h: bdev transfers of any length from one GPU thread (or a
 * CPU thread standing in for one), the device twin of chi_bdev_write /
 * chi_bdev_read: split into pieces of memory.max_task_size less the
 * framing, up to CHI_GPU_BDEV_INFLIGHT pieces in flight through the
 * client's block pools of `lane`.
 *
 * A piece the pools refuse (-EAGAIN: every block of its class is in flight)
 * waits for this call's oldest piece and is tried again; with none of its
 * own in flight the thread backs off and tries again until the deadline
 * (timeout_ns, 0: none), then returns -EAGAIN. So a call never waits for
 * blocks while holding them, but blocks held by other futures of the same
 * thread can starve it: call it with none of yours in flight on that lane,
 * or with a deadline. */
#ifndef CHI_GPU_BDEV_H
#define CHI_GPU_BDEV_H

#include "chi/gpu/api.h"
#include "chi/modules/bdev.h"

#define CHI_GPU_BDEV_INFLIGHT 4u

/* Bytes one piece carries under this client's limits: the largest of
 * memory.max_task_size less the read framing (the larger one) that fits a
 * data block of the client, or 0. */
CHI_INLINE uint32_t chi_gpu_bdev_chunk(const chi_gpu_ctx *g)
{
	uint64_t c = g->max_task > CHI_BDEV_READ_HDR ? g->max_task - CHI_BDEV_READ_HDR : 0;
	if (c > 0x7fffffffu)
		c = 0x7fffffffu;
	while (c && (chi_gpu_data_class(g, chi_task_wire_size((uint32_t)c + 12u, 8u)) < 0 ||
		     chi_gpu_data_class(g, chi_task_wire_size(12u, (uint32_t)c + CHI_BDEV_READ_HDR)) < 0))
		c /= 2; /* the piece's write and read must each fit a data block */
	return (uint32_t)c;
}

/* Write (read) len bytes at `off` of bdev pool `pool` from (into) buf.
 * Returns len, or the first error (-EMSGSIZE when no piece fits this
 * client's blocks, -EAGAIN at the deadline with no block free, -EIO for a
 * short piece, or the method's error); pieces already submitted are waited
 * for, some may have been done. */
CHI_INLINE int64_t chi_gpu_bdev_transfer(const chi_gpu_ctx *g, uint32_t lane, chi_pool_id pool,
					 uint64_t off, uint8_t *buf, uint64_t len, int write,
					 uint64_t timeout_ns)
{
	union {
		chi_bdev_write_task w;
		chi_bdev_read_task r;
	} t[CHI_GPU_BDEV_INFLIGHT];
	chi_gpu_future f[CHI_GPU_BDEV_INFLIGHT];
	uint32_t want[CHI_GPU_BDEV_INFLIGHT];
	uint64_t chunk = chi_gpu_bdev_chunk(g), done = 0;
	if (!chunk)
		return -CHI_EMSGSIZE;
	uint64_t start = timeout_ns ? chi_hd_now_ns() : 0;
	uint32_t head = 0, n = 0, ns = 32;
	int64_t err = 0;
	while ((done < len && !err) || n) {
		if (done < len && !err && n < CHI_GPU_BDEV_INFLIGHT) {
			uint32_t i = (head + n) % CHI_GPU_BDEV_INFLIGHT;
			uint32_t k = (uint32_t)(len - done < chunk ? len - done : chunk);
			int rc;
			if (write) {
				chi_bdev_write_init(&t[i].w, pool, off + done, buf + done, k);
				rc = chi_gpu_make_copy_future(g, lane, &t[i].w.hdr,
							      chi_bdev_write_ser_in, &f[i]);
			} else {
				chi_bdev_read_init(&t[i].r, pool, off + done, buf + done, k);
				rc = chi_gpu_make_copy_future(g, lane, &t[i].r.hdr,
							      chi_bdev_read_ser_in, &f[i]);
			}
			if (!rc) {
				want[i] = k;
				done += k;
				n++;
				ns = 32;
				continue;
			}
			if (rc != -CHI_EAGAIN) {
				err = rc;
				continue;
			}
			if (!n) { /* nothing of ours to wait for: back off, then again */
				if (timeout_ns && chi_hd_now_ns() - start >= timeout_ns)
					err = -CHI_EAGAIN;
				else
					chi_gpu_backoff(&ns);
				continue;
			}
		}
		int64_t r = write ? chi_gpu_future_wait(g, &f[head], &t[head].w.hdr,
							chi_bdev_write_de_out, timeout_ns)
				  : chi_gpu_future_wait(g, &f[head], &t[head].r.hdr,
							chi_bdev_read_de_out, timeout_ns);
		if (r >= 0 && ((uint64_t)r != want[head] || (!write && t[head].r.got != want[head])))
			r = -CHI_EIO; /* a short piece */
		if (r < 0 && !err)
			err = r;
		if (r == -CHI_ETIMEDOUT || r == -CHI_EOWNERDEAD)
			return r; /* the piece stays pending: its blocks are not ours to reuse */
		head = (head + 1) % CHI_GPU_BDEV_INFLIGHT;
		n--;
	}
	return err ? err : (int64_t)len;
}

CHI_INLINE int64_t chi_gpu_bdev_write(const chi_gpu_ctx *g, uint32_t lane, chi_pool_id pool,
				      uint64_t off, const void *buf, uint64_t len,
				      uint64_t timeout_ns)
{
	return chi_gpu_bdev_transfer(g, lane, pool, off, (uint8_t *)(uintptr_t)buf, len, 1,
				     timeout_ns);
}

CHI_INLINE int64_t chi_gpu_bdev_read(const chi_gpu_ctx *g, uint32_t lane, chi_pool_id pool,
				     uint64_t off, void *buf, uint64_t len, uint64_t timeout_ns)
{
	return chi_gpu_bdev_transfer(g, lane, pool, off, (uint8_t *)buf, len, 0, timeout_ns);
}

#endif
