/* chi/modules/bdev.h: the bdev module's tasks and their serializers, CHI_HD
 * so that host clients, the runtime and GPU kernels share one text.
 *
 * A bdev pool is a block device on a real file (pool path) or on RAM (path
 * "") of `size` bytes (the pool's capacity). Methods:
 *   allocate  size -> offset of a run of 4096-byte blocks (size rounded up);
 *             -ENOSPC when no run is free
 *   free      offset, size: give an allocated run back (-EINVAL if it is not)
 *   write     offset + bytes -> bytes written; the bytes travel in the future's
 *             copy space or arena block (pinned memory for GPU submitters) and
 *             the worker writes from there, zero copy
 *   read      offset, len -> bytes, decoded into the client's buffer
 *   stats     capacity, allocated bytes, reads, writes, bytes read, written
 * Reads and writes are bounds-checked against the capacity (-ERANGE, nothing
 * done) and need no allocation: allocate/free only manage space. One task
 * moves at most memory.max_task_size bytes (less framing); chi_bdev_write and
 * chi_bdev_read (host) split larger transfers.
 *
 * Each task's wire fields are listed once (chi/proto/codec.h), right after
 * its struct; the codec functions and in_size / out_size come from the list.
 * read's output half has a special layout and is hand-written. */
#ifndef CHI_MODULES_BDEV_H
#define CHI_MODULES_BDEV_H

#include "chi/proto/archive.h"
#include "chi/proto/codec.h"
#include "chi/proto/task.h"

#define CHI_BDEV_ALLOCATE 0
#define CHI_BDEV_FREE 1
#define CHI_BDEV_WRITE 2
#define CHI_BDEV_READ 3
#define CHI_BDEV_STATS 4
#define CHI_BDEV_NMETHODS 5

#define CHI_BDEV_BLOCK 4096u

/* ---- allocate / free ---- */
typedef struct chi_bdev_alloc_task {
	chi_task hdr;
	uint64_t size;   /* in: bytes wanted (allocate), bytes to free (free) */
	uint64_t offset; /* out (allocate) / in (free): start of the run */
} chi_bdev_alloc_task;
#define CHI_BDEV_ALLOCATE_IN(X) X(U64, size)
#define CHI_BDEV_ALLOCATE_OUT(X) X(U64, offset)
CHI_CODEC(chi_bdev_allocate, chi_bdev_alloc_task, CHI_BDEV_ALLOCATE_IN, CHI_BDEV_ALLOCATE_OUT)
#define CHI_BDEV_FREE_IN(X) \
	X(U64, offset)      \
	X(U64, size)
CHI_CODEC_IN(chi_bdev_free, chi_bdev_alloc_task, CHI_BDEV_FREE_IN)

CHI_INLINE void chi_bdev_allocate_init(chi_bdev_alloc_task *t, chi_pool_id pool, uint64_t size)
{
	chi_task_init(&t->hdr, pool, CHI_BDEV_ALLOCATE, 0);
	t->size = size;
	t->offset = 0;
	t->hdr.in_size = chi_bdev_allocate_in_size(t);
	t->hdr.out_size = chi_bdev_allocate_out_size(t);
}
CHI_INLINE void chi_bdev_free_init(chi_bdev_alloc_task *t, chi_pool_id pool, uint64_t offset,
				   uint64_t size)
{
	chi_task_init(&t->hdr, pool, CHI_BDEV_FREE, 0);
	t->size = size;
	t->offset = offset;
	t->hdr.in_size = chi_bdev_free_in_size(t);
}

/* ---- write ---- */
typedef struct chi_bdev_write_task {
	chi_task hdr;
	uint64_t offset;     /* in */
	const uint8_t *data; /* in: the bytes (runtime side: points into the archive) */
	uint32_t len;        /* in */
	uint32_t pad;
	uint64_t written;    /* out */
} chi_bdev_write_task;
/* in: data is decoded zero copy (points into the archive): the worker
 * writes from there */
#define CHI_BDEV_WRITE_IN(X) \
	X(U64, offset)       \
	X(BYTES, data, len)
#define CHI_BDEV_WRITE_OUT(X) X(U64, written)
CHI_CODEC(chi_bdev_write, chi_bdev_write_task, CHI_BDEV_WRITE_IN, CHI_BDEV_WRITE_OUT)
CHI_INLINE void chi_bdev_write_init(chi_bdev_write_task *t, chi_pool_id pool, uint64_t offset,
				    const void *data, uint32_t len)
{
	chi_task_init(&t->hdr, pool, CHI_BDEV_WRITE, 0);
	t->offset = offset;
	t->data = (const uint8_t *)data;
	t->len = len;
	t->pad = 0;
	t->written = 0;
	t->hdr.in_size = chi_bdev_write_in_size(t);
	t->hdr.out_size = chi_bdev_write_out_size(t);
}

/* ---- read ---- */
/* Read output: [u32 got][28 bytes of zero padding][got bytes]. The padding
 * puts the data 64-byte aligned in an arena block (the output area starts 32
 * bytes into it), which the kernel's copy into it needs to run at full speed,
 * and lets the runtime pread straight into place. */
#define CHI_BDEV_READ_HDR 32u

typedef struct chi_bdev_read_task {
	chi_task hdr;
	uint64_t offset;    /* in */
	uint32_t len;       /* in: bytes wanted; buf holds len bytes */
	uint32_t got;       /* out: bytes received */
	uint8_t *buf;       /* out: the client's buffer */
	const uint8_t *src; /* runtime side: where ser_out copies the bytes from */
} chi_bdev_read_task;
#define CHI_BDEV_READ_IN(X) \
	X(U64, offset)      \
	X(U32, len)
CHI_CODEC_IN(chi_bdev_read, chi_bdev_read_task, CHI_BDEV_READ_IN)
CHI_INLINE void chi_bdev_read_init(chi_bdev_read_task *t, chi_pool_id pool, uint64_t offset,
				   void *buf, uint32_t len)
{
	chi_task_init(&t->hdr, pool, CHI_BDEV_READ, 0);
	t->offset = offset;
	t->len = len;
	t->got = 0;
	t->buf = (uint8_t *)buf;
	t->src = (const uint8_t *)0;
	t->hdr.in_size = chi_bdev_read_in_size(t);
	t->hdr.out_size = CHI_BDEV_READ_HDR + len;
}
/* Output, hand-written: the padded header above (no field list has padding),
 * bytes that come from src or are already in place (the method may pread
 * into the output area), and a decode that copies into the client's buf,
 * bounded by len. */
CHI_INLINE int chi_bdev_read_ser_out(chi_ar *a, const chi_task *h)
{
	const chi_bdev_read_task *t = (const chi_bdev_read_task *)h;
	chi_ar_put_u32(a, t->got);
	uint8_t *pad = chi_ar_reserve(a, CHI_BDEV_READ_HDR - 4);
	if (pad)
		for (uint32_t i = 0; i < CHI_BDEV_READ_HDR - 4; i++)
			pad[i] = 0;
	uint8_t *p = chi_ar_reserve(a, t->got);
	if (p && t->got) {
		if (!t->src)
			a->err = -CHI_EINVAL;
		else if (t->src != p) /* already in place when the method read into it */
			chi_ar_copy(p, t->src, t->got);
	}
	return a->err;
}
CHI_INLINE int chi_bdev_read_de_out(chi_ar *a, chi_task *h)
{
	chi_bdev_read_task *t = (chi_bdev_read_task *)h;
	uint32_t n = chi_ar_get_u32(a);
	chi_ar_take(a, CHI_BDEV_READ_HDR - 4);
	const uint8_t *p = n <= t->len ? chi_ar_take(a, n) : (const uint8_t *)0;
	if (p) {
		if (n)
			chi_ar_copy(t->buf, p, n);
		t->got = n;
	} else if (!a->err) {
		a->err = -CHI_EBADMSG;
	}
	return a->err;
}

/* ---- stats ---- */
typedef struct chi_bdev_stats_task {
	chi_task hdr;
	uint64_t capacity;      /* out: bytes */
	uint64_t allocated;     /* out: bytes in allocated blocks */
	uint64_t reads;         /* out: successful read tasks */
	uint64_t writes;        /* out: successful write tasks */
	uint64_t bytes_read;    /* out */
	uint64_t bytes_written; /* out */
} chi_bdev_stats_task;
#define CHI_BDEV_STATS_IN(X) /* none */
#define CHI_BDEV_STATS_OUT(X) \
	X(U64, capacity)      \
	X(U64, allocated)     \
	X(U64, reads)         \
	X(U64, writes)        \
	X(U64, bytes_read)    \
	X(U64, bytes_written)
CHI_CODEC(chi_bdev_stats, chi_bdev_stats_task, CHI_BDEV_STATS_IN, CHI_BDEV_STATS_OUT)
CHI_INLINE void chi_bdev_stats_init(chi_bdev_stats_task *t, chi_pool_id pool)
{
	chi_task_init(&t->hdr, pool, CHI_BDEV_STATS, 0);
	t->capacity = t->allocated = t->reads = t->writes = 0;
	t->bytes_read = t->bytes_written = 0;
	t->hdr.out_size = chi_bdev_stats_out_size(t);
}

/* host-side declarations (nvcc sees them in both passes; device code
 * uses only the CHI_HD functions above) */
#include "chi/chi.h"
#ifdef __cplusplus
extern "C" {
#endif
extern const chi_codec chi_bdev_allocate_codec;
extern const chi_codec chi_bdev_free_codec;
extern const chi_codec chi_bdev_write_codec;
extern const chi_codec chi_bdev_read_codec;
extern const chi_codec chi_bdev_stats_codec;

/* Bytes one task of chi_bdev_write / chi_bdev_read carries: 512 KiB, below
 * the 1 MiB memory.max_task_size default; smaller when the runtime's
 * max_task_size is smaller (then max_task_size less the write framing). */
#define CHI_BDEV_CHUNK (512u * 1024u)
/* Write (read) len bytes at off, any length: split into pieces of at most
 * CHI_BDEV_CHUNK bytes with up to 8 pieces in flight. Returns len, or the
 * first negative error (pieces already submitted are waited for; some may have
 * been done). */
int64_t chi_bdev_write(chi_client *c, chi_pool_id pool, uint64_t off, const void *buf,
		       uint64_t len);
int64_t chi_bdev_read(chi_client *c, chi_pool_id pool, uint64_t off, void *buf, uint64_t len);
#ifdef __cplusplus
}
#endif

#endif
