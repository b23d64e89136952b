/* src/modules/bdev.c: the bdev module (docs/design.md, Block device): a
 * block device on a file (pool path, opened O_RDWR|O_CREAT 0600 and grown
 * to the pool size) or on RAM (path "", `size` bytes calloc'd). Methods
 * allocate, free, write, read, stats; serializers are the CHI_HD functions
 * of include/chi/modules/bdev.h.
 *
 * Several workers may run methods of one pool at once: the block bitmap
 * (first fit over 4096-byte blocks) is guarded by a mutex, the counters are
 * atomics, and I/O is pread/pwrite (or memcpy on RAM), which needs no lock.
 * Writes go from the archive (zero copy); a read of a RAM pool is copied by
 * ser_out straight from the RAM, a read of a file is pread straight into the
 * future's output area (chi_ctx_output), 64-byte aligned in arena blocks, so
 * each block is copied once, as by a plain pread. A pointer future
 * (a sub-task from another method) carries the caller's buffer: the read goes
 * straight into it. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chi/log.h"
#include "chi/module.h"
#include "chi/modules/bdev.h"
#include "ipc/client.h"

const chi_codec chi_bdev_allocate_codec = CHI_CODEC_TABLE(chi_bdev_allocate, chi_bdev_alloc_task);
const chi_codec chi_bdev_free_codec = CHI_CODEC_TABLE_IN(chi_bdev_free, chi_bdev_alloc_task);
const chi_codec chi_bdev_write_codec = CHI_CODEC_TABLE(chi_bdev_write, chi_bdev_write_task);
const chi_codec chi_bdev_read_codec = CHI_CODEC_TABLE(chi_bdev_read, chi_bdev_read_task);
const chi_codec chi_bdev_stats_codec = CHI_CODEC_TABLE(chi_bdev_stats, chi_bdev_stats_task);

typedef struct bdev {
	int fd;            /* -1: RAM */
	uint8_t *ram;
	uint64_t capacity; /* bytes addressable by read/write */
	uint64_t nblocks;  /* whole blocks that allocate hands out */
	uint64_t *bitmap;  /* bit set = block allocated; under lock */
	uint64_t allocated;
	pthread_mutex_t lock;
	uint64_t reads, writes, bytes_read, bytes_written; /* __atomic, relaxed */
} bdev;

static void count(uint64_t *ops, uint64_t *bytes, uint64_t n)
{
	__atomic_fetch_add(ops, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(bytes, n, __ATOMIC_RELAXED);
}


/* ---- I/O ---- */
static int range_ok(const bdev *d, uint64_t off, uint64_t len)
{
	return off <= d->capacity && len <= d->capacity - off;
}

static int pwrite_all(int fd, const uint8_t *p, uint64_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (uint64_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int pread_all(int fd, uint8_t *p, uint64_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) { /* the file was shortened behind our back: a hole */
			memset(p, 0, len);
			return 0;
		}
		p += n;
		len -= (uint64_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* ---- block bitmap (under d->lock) ---- */
static int bit_get(const bdev *d, uint64_t b) { return (d->bitmap[b / 64] >> (b % 64)) & 1; }

static void bits_set(bdev *d, uint64_t b, uint64_t n, int v)
{
	for (uint64_t i = b; i < b + n; i++) {
		if (v)
			d->bitmap[i / 64] |= 1ull << (i % 64);
		else
			d->bitmap[i / 64] &= ~(1ull << (i % 64));
	}
}

/* First fit: the lowest run of n free blocks, UINT64_MAX if none. */
static uint64_t first_fit(const bdev *d, uint64_t n)
{
	uint64_t i = 0;
	while (i + n <= d->nblocks) {
		if (i % 64 == 0 && d->bitmap[i / 64] == UINT64_MAX) {
			i += 64;
			continue;
		}
		if (bit_get(d, i)) {
			i++;
			continue;
		}
		uint64_t j = i;
		while (j < i + n && !bit_get(d, j))
			j++;
		if (j == i + n)
			return i;
		i = j + 1; /* j is allocated */
	}
	return UINT64_MAX;
}

/* ---- methods ---- */
static int64_t run_allocate(chi_ctx *ctx, chi_task *h)
{
	chi_bdev_alloc_task *t = (chi_bdev_alloc_task *)h;
	bdev *d = chi_ctx_pool_state(ctx);
	if (!t->size)
		return -EINVAL;
	if (t->size > d->nblocks * CHI_BDEV_BLOCK)
		return -ENOSPC;
	uint64_t n = (t->size + CHI_BDEV_BLOCK - 1) / CHI_BDEV_BLOCK;
	pthread_mutex_lock(&d->lock);
	uint64_t b = first_fit(d, n);
	if (b != UINT64_MAX) {
		bits_set(d, b, n, 1);
		d->allocated += n * CHI_BDEV_BLOCK;
	}
	pthread_mutex_unlock(&d->lock);
	if (b == UINT64_MAX)
		return -ENOSPC;
	t->offset = b * CHI_BDEV_BLOCK;
	return (int64_t)t->offset;
}

/* Frees whole blocks [offset, offset + size rounded up); each must be
 * allocated (-EINVAL otherwise, nothing freed). */
static int64_t run_free(chi_ctx *ctx, chi_task *h)
{
	chi_bdev_alloc_task *t = (chi_bdev_alloc_task *)h;
	bdev *d = chi_ctx_pool_state(ctx);
	if (!t->size || t->offset % CHI_BDEV_BLOCK)
		return -EINVAL;
	uint64_t all = d->nblocks * CHI_BDEV_BLOCK;
	if (t->offset > all || t->size > all - t->offset)
		return -ERANGE;
	uint64_t b = t->offset / CHI_BDEV_BLOCK, n = (t->size + CHI_BDEV_BLOCK - 1) / CHI_BDEV_BLOCK;
	int64_t rc = 0;
	pthread_mutex_lock(&d->lock);
	for (uint64_t i = b; i < b + n && !rc; i++)
		if (!bit_get(d, i))
			rc = -EINVAL;
	if (!rc) {
		bits_set(d, b, n, 0);
		d->allocated -= n * CHI_BDEV_BLOCK;
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

static int64_t run_write(chi_ctx *ctx, chi_task *h)
{
	chi_bdev_write_task *t = (chi_bdev_write_task *)h;
	bdev *d = chi_ctx_pool_state(ctx);
	if (!range_ok(d, t->offset, t->len))
		return -ERANGE;
	if (t->len && !t->data)
		return -EINVAL;
	if (d->fd < 0) {
		if (t->len)
			memcpy(d->ram + t->offset, t->data, t->len);
	} else {
		int rc = pwrite_all(d->fd, t->data, t->len, t->offset);
		if (rc)
			return rc;
	}
	count(&d->writes, &d->bytes_written, t->len);
	t->written = t->len;
	return t->len;
}

static int64_t run_read(chi_ctx *ctx, chi_task *h)
{
	chi_bdev_read_task *t = (chi_bdev_read_task *)h;
	bdev *d = chi_ctx_pool_state(ctx);
	if ((uint64_t)t->len + CHI_BDEV_READ_HDR > t->hdr.out_size)
		return -EMSGSIZE; /* the submitter reserved too little room */
	if (!range_ok(d, t->offset, t->len))
		return -ERANGE;
	if (t->buf) { /* pointer future: the caller's own buffer, no ser_out */
		if (d->fd < 0)
			memcpy(t->buf, d->ram + t->offset, t->len);
		else if (t->len) {
			int rc = pread_all(d->fd, t->buf, t->len, t->offset);
			if (rc)
				return rc;
		}
	} else if (d->fd < 0) {
		t->src = d->ram + t->offset; /* ser_out copies from the RAM */
	} else if (t->len) {
		/* pread straight into the output area, where ser_out would put
		 * the bytes: one copy per block, as a plain pread has */
		uint32_t cap;
		uint8_t *out = chi_ctx_output(ctx, &cap);
		if (!out || cap < CHI_BDEV_READ_HDR + (uint64_t)t->len)
			return -EINVAL;
		int rc = pread_all(d->fd, out + CHI_BDEV_READ_HDR, t->len, t->offset);
		if (rc)
			return rc;
		t->src = out + CHI_BDEV_READ_HDR;
	}
	count(&d->reads, &d->bytes_read, t->len);
	t->got = t->len;
	return t->len;
}

static int64_t run_stats(chi_ctx *ctx, chi_task *h)
{
	chi_bdev_stats_task *t = (chi_bdev_stats_task *)h;
	bdev *d = chi_ctx_pool_state(ctx);
	t->capacity = d->capacity;
	pthread_mutex_lock(&d->lock);
	t->allocated = d->allocated;
	pthread_mutex_unlock(&d->lock);
	t->reads = __atomic_load_n(&d->reads, __ATOMIC_RELAXED);
	t->writes = __atomic_load_n(&d->writes, __ATOMIC_RELAXED);
	t->bytes_read = __atomic_load_n(&d->bytes_read, __ATOMIC_RELAXED);
	t->bytes_written = __atomic_load_n(&d->bytes_written, __ATOMIC_RELAXED);
	return 0;
}

/* ---- pools ---- */
static void bdev_destroy(void *state)
{
	bdev *d = state;
	if (!d)
		return;
	if (d->fd >= 0)
		close(d->fd);
	free(d->ram);
	free(d->bitmap);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static int bdev_create(chi_ctx *ctx, const chi_pool_conf *conf, void **state)
{
	(void)ctx;
	if (!conf || !conf->size)
		return -EINVAL;
	bdev *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->fd = -1;
	d->capacity = conf->size;
	d->nblocks = conf->size / CHI_BDEV_BLOCK;
	pthread_mutex_init(&d->lock, NULL);
	int rc = 0;
	d->bitmap = calloc(d->nblocks / 64 + 1, sizeof(uint64_t));
	if (!d->bitmap) {
		rc = -ENOMEM;
	} else if (!conf->path[0]) {
		if ((uint64_t)(size_t)conf->size != conf->size || !(d->ram = calloc(1, (size_t)conf->size)))
			rc = -ENOMEM;
	} else {
		struct stat st;
		d->fd = open(conf->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (d->fd < 0 || fstat(d->fd, &st))
			rc = -errno;
		else if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < conf->size &&
			 ftruncate(d->fd, (off_t)conf->size))
			rc = -errno;
		if (rc)
			chi_log(CHI_LOG_ERROR, "bdev pool '%s': %s: %s", conf->name, conf->path,
				strerror(-rc));
	}
	if (rc) {
		bdev_destroy(d);
		return rc;
	}
	*state = d;
	return 0;
}

static const chi_method bdev_methods[CHI_BDEV_NMETHODS] = {
	[CHI_BDEV_ALLOCATE] = {"allocate", &chi_bdev_allocate_codec, run_allocate},
	[CHI_BDEV_FREE] = {"free", &chi_bdev_free_codec, run_free},
	[CHI_BDEV_WRITE] = {"write", &chi_bdev_write_codec, run_write},
	[CHI_BDEV_READ] = {"read", &chi_bdev_read_codec, run_read},
	[CHI_BDEV_STATS] = {"stats", &chi_bdev_stats_codec, run_stats},
};

const chi_module chi_bdev_module = {"bdev", CHI_BDEV_NMETHODS, bdev_methods, bdev_create,
				    bdev_destroy};

/* ---- client helpers: large transfers in pieces, up to 8 in flight ---- */
#define BDEV_INFLIGHT 8

static int64_t transfer(chi_client *c, chi_pool_id pool, uint64_t off, uint8_t *buf,
			uint64_t len, int write)
{
	if (!c || (!buf && len) || len > INT64_MAX)
		return -EINVAL;
	uint64_t max = c->max_task_size, chunk = CHI_BDEV_CHUNK;
	if (max < chunk + CHI_BDEV_READ_HDR) /* the larger framing: a read's output */
		chunk = max > CHI_BDEV_READ_HDR ? max - CHI_BDEV_READ_HDR : 0;
	if (!chunk)
		return -EMSGSIZE;
	union {
		chi_bdev_write_task w;
		chi_bdev_read_task r;
	} t[BDEV_INFLIGHT];
	chi_future f[BDEV_INFLIGHT];
	uint32_t want[BDEV_INFLIGHT];
	uint64_t done = 0;
	unsigned head = 0, n = 0;
	int64_t err = 0;
	while ((done < len && !err) || n) {
		if (done < len && !err && n < BDEV_INFLIGHT) {
			unsigned i = (head + n) % BDEV_INFLIGHT;
			uint32_t k = (uint32_t)(len - done < chunk ? len - done : chunk);
			int rc;
			if (write) {
				chi_bdev_write_init(&t[i].w, pool, off + done, buf + done, k);
				rc = chi_make_copy_future(c, &t[i].w.hdr, &chi_bdev_write_codec, &f[i]);
			} else {
				chi_bdev_read_init(&t[i].r, pool, off + done, buf + done, k);
				rc = chi_make_copy_future(c, &t[i].r.hdr, &chi_bdev_read_codec, &f[i]);
			}
			if (rc) {
				err = rc;
			} else {
				want[i] = k;
				done += k;
				n++;
			}
			continue;
		}
		int64_t r = chi_future_wait(&f[head]);
		if (r >= 0 && (r != want[head] || (!write && t[head].r.got != want[head])))
			r = -EIO; /* a short piece */
		if (r < 0 && !err)
			err = r;
		head = (head + 1) % BDEV_INFLIGHT;
		n--;
	}
	return err ? err : (int64_t)len;
}

int64_t chi_bdev_write(chi_client *c, chi_pool_id pool, uint64_t off, const void *buf,
		       uint64_t len)
{
	return transfer(c, pool, off, (uint8_t *)(uintptr_t)buf, len, 1);
}

int64_t chi_bdev_read(chi_client *c, chi_pool_id pool, uint64_t off, void *buf, uint64_t len)
{
	return transfer(c, pool, off, buf, len, 0);
}
