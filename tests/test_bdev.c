/* tests/test_bdev.c: the bdev module through an embedded runtime, on a RAM
 * pool and on a file pool (in a mkdtemp directory): allocate/free/-ENOSPC;
 * write then read back, byte for byte, 1 B to 3 MiB (the chunking helpers);
 * the file's own bytes after the runtime stopped (plain pread), and again
 * through a new runtime; out-of-range I/O refused with nothing written; exact
 * stats; concurrent writers to disjoint ranges; a smaller max_task_size; a
 * zero-copy sub-task read/write from inside a worker. */
#include "test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>

#include "chi/module.h"
#include "chi/modules/admin.h"
#include "chi/modules/bdev.h"
#include "chi/modules/test.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define CAP (16 * MiB)

static chi_runtime *rt;
static char dir[64];
static char file[128];

static uint8_t pat(uint64_t seed, uint64_t i)
{
	uint64_t x = (i + seed * 0x9e3779b97f4a7c15ull) * 0xff51afd7ed558ccdull;
	x ^= x >> 29;
	return (uint8_t)(x >> 24);
}
static void fill(uint8_t *p, uint64_t n, uint64_t seed)
{
	for (uint64_t i = 0; i < n; i++)
		p[i] = pat(seed, i);
}
static uint64_t pieces(uint64_t len, uint64_t chunk) { return (len + chunk - 1) / chunk; }

static chi_runtime *start(uint64_t max_task)
{
	chi_config c;
	chi_runtime *r = NULL;
	test_config(&c, 2, 0, 256);
	if (max_task)
		c.max_task_size = max_task;
	assert_int_equal(chi_runtime_start(&c, &r), 0);
	return r;
}

/* A bdev pool on `path` ("" = RAM); returns its id. */
static chi_pool_id make_pool(chi_runtime *r, const char *name, const char *path, uint64_t size)
{
	chi_admin_pool_task p;
	chi_admin_pool_init(&p, CHI_ADMIN_CREATE_POOL, CHI_POOL_ID_ANY, name, "bdev", path, size);
	int64_t id = chi_call(chi_runtime_client(r), &p.hdr, &chi_admin_pool_codec);
	assert_true(id >= 2);
	return (chi_pool_id)id;
}

static chi_bdev_stats_task stats(chi_pool_id pool)
{
	chi_bdev_stats_task s;
	chi_bdev_stats_init(&s, pool);
	assert_int_equal(chi_call(chi_runtime_client(rt), &s.hdr, &chi_bdev_stats_codec), 0);
	return s;
}

static int64_t alloc(chi_pool_id pool, uint64_t size)
{
	chi_bdev_alloc_task t;
	chi_bdev_allocate_init(&t, pool, size);
	int64_t r = chi_call(chi_runtime_client(rt), &t.hdr, &chi_bdev_allocate_codec);
	if (r >= 0)
		assert_int_equal(t.offset, r);
	return r;
}
static int64_t dealloc(chi_pool_id pool, uint64_t off, uint64_t size)
{
	chi_bdev_alloc_task t;
	chi_bdev_free_init(&t, pool, off, size);
	return chi_call(chi_runtime_client(rt), &t.hdr, &chi_bdev_free_codec);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/chi_bdev_XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/disk.img", dir);
	rt = start(0);
	return 0;
}
static int teardown(void **state)
{
	(void)state;
	if (rt)
		chi_runtime_stop(rt);
	rt = NULL;
	unlink(file);
	rmdir(dir);
	return 0;
}

static void test_allocate_free(void **state)
{
	(void)state;
	for (int file_backed = 0; file_backed < 2; file_backed++) {
		/* 16 whole blocks and a tail that allocate never hands out */
		chi_pool_id p = make_pool(rt, file_backed ? "af_file" : "af_ram",
					  file_backed ? file : "", 16 * 4096 + 100);
		assert_int_equal(alloc(p, 0), -EINVAL);
		assert_int_equal(alloc(p, 17 * 4096), -ENOSPC);
		assert_int_equal(alloc(p, 1), 0);           /* block 0 */
		assert_int_equal(alloc(p, 4097), 4096);     /* blocks 1-2 */
		assert_int_equal(alloc(p, 4096), 3 * 4096); /* block 3 */
		assert_int_equal(stats(p).allocated, 4 * 4096);
		assert_int_equal(stats(p).capacity, 16 * 4096 + 100);
		/* free: unaligned, unallocated, out of range refused */
		assert_int_equal(dealloc(p, 100, 4096), -EINVAL);
		assert_int_equal(dealloc(p, 4 * 4096, 4096), -EINVAL);
		assert_int_equal(dealloc(p, 3 * 4096, 2 * 4096), -EINVAL); /* block 4 is free */
		assert_int_equal(dealloc(p, 16 * 4096, 4096), -ERANGE);
		assert_int_equal(dealloc(p, 4096, 0), -EINVAL);
		assert_int_equal(stats(p).allocated, 4 * 4096);
		/* first fit reuses the hole of blocks 1-2 */
		assert_int_equal(dealloc(p, 4096, 4097), 0);
		assert_int_equal(stats(p).allocated, 2 * 4096);
		assert_int_equal(alloc(p, 3 * 4096), 4 * 4096); /* does not fit the hole */
		assert_int_equal(alloc(p, 8192), 4096);          /* fits it */
		/* fill up: blocks 7..15 remain */
		assert_int_equal(alloc(p, 9 * 4096), 7 * 4096);
		assert_int_equal(alloc(p, 1), -ENOSPC);
		assert_int_equal(stats(p).allocated, 16 * 4096);
		/* everything back, then the whole device in one run */
		assert_int_equal(dealloc(p, 0, 16 * 4096), 0);
		assert_int_equal(stats(p).allocated, 0);
		assert_int_equal(alloc(p, 16 * 4096), 0);
		assert_int_equal(alloc(p, 1), -ENOSPC);
	}
}

static const uint64_t sizes[] = {1, 4 * KiB, 100 * KiB, 3 * MiB};
static const uint64_t offs[] = {7, 8 * KiB, 1 * MiB + 3, 5 * MiB};

/* Write each size at its offset through the helper, read back, compare; then
 * the same with one task of each kind by hand. */
static void roundtrip(chi_pool_id p, uint64_t seed)
{
	chi_client *c = chi_runtime_client(rt);
	uint8_t *w = malloc(3 * MiB), *r = malloc(3 * MiB + 1);
	for (unsigned k = 0; k < 4; k++) {
		fill(w, sizes[k], seed + k);
		assert_int_equal(chi_bdev_write(c, p, offs[k], w, sizes[k]), sizes[k]);
	}
	for (unsigned k = 0; k < 4; k++) {
		fill(w, sizes[k], seed + k);
		memset(r, 0xee, sizes[k] + 1);
		assert_int_equal(chi_bdev_read(c, p, offs[k], r, sizes[k]), sizes[k]);
		assert_memory_equal(r, w, sizes[k]);
		assert_int_equal(r[sizes[k]], 0xee); /* nothing past the end */
	}
	/* one task each, by hand */
	fill(w, 1000, seed + 99);
	chi_bdev_write_task wt;
	chi_bdev_write_init(&wt, p, 9 * MiB + 1, w, 1000);
	assert_int_equal(chi_call(c, &wt.hdr, &chi_bdev_write_codec), 1000);
	assert_int_equal(wt.written, 1000);
	chi_bdev_read_task rt_;
	memset(r, 0, 1000);
	chi_bdev_read_init(&rt_, p, 9 * MiB + 1, r, 1000);
	assert_int_equal(chi_call(c, &rt_.hdr, &chi_bdev_read_codec), 1000);
	assert_int_equal(rt_.got, 1000);
	assert_memory_equal(r, w, 1000);
	/* empty transfers */
	assert_int_equal(chi_bdev_write(c, p, 0, w, 0), 0);
	assert_int_equal(chi_bdev_read(c, p, CAP, r, 0), 0);
	free(w);
	free(r);
}

static void test_roundtrip_ram(void **state)
{
	(void)state;
	roundtrip(make_pool(rt, "ram", "", CAP), 10);
}
static void test_roundtrip_file(void **state)
{
	(void)state;
	roundtrip(make_pool(rt, "disk", file, CAP), 20);
}

/* The file holds what was written, read with plain pread once the runtime
 * stopped; a new runtime on the same file reads it back too. */
static void test_file_contents(void **state)
{
	(void)state;
	chi_pool_id p = make_pool(rt, "disk", file, CAP);
	roundtrip(p, 30);
	chi_runtime_stop(rt);
	rt = NULL;

	int fd = open(file, O_RDONLY);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, CAP);
	assert_int_equal(st.st_mode & 0777, 0600);
	uint8_t *w = malloc(3 * MiB), *r = malloc(3 * MiB);
	for (unsigned k = 0; k < 4; k++) {
		fill(w, sizes[k], 30 + k);
		assert_int_equal(pread(fd, r, sizes[k], (off_t)offs[k]), (ssize_t)sizes[k]);
		assert_memory_equal(r, w, sizes[k]);
	}
	fill(w, 1000, 30 + 99);
	assert_int_equal(pread(fd, r, 1000, 9 * MiB + 1), 1000);
	assert_memory_equal(r, w, 1000);
	/* untouched bytes stay zero: between the 4 KiB and 100 KiB pieces */
	assert_int_equal(pread(fd, r, 4096, 12 * KiB), 4096);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(r[i], 0);
	close(fd);

	rt = start(0);
	p = make_pool(rt, "disk_again", file, CAP);
	fill(w, 3 * MiB, 30 + 3);
	memset(r, 0, 3 * MiB);
	assert_int_equal(chi_bdev_read(chi_runtime_client(rt), p, 5 * MiB, r, 3 * MiB), 3 * MiB);
	assert_memory_equal(r, w, 3 * MiB);
	free(w);
	free(r);
}

static void out_of_range(chi_pool_id p, const char *path)
{
	chi_client *c = chi_runtime_client(rt);
	uint8_t buf[64], zero[64] = {0};
	memset(buf, 0x5a, sizeof(buf));
	chi_bdev_write_task wt;
	chi_bdev_read_task rd;
	const uint64_t bad[][2] = {{CAP - 10, 20}, {CAP, 1}, {CAP + 4096, 1}, {UINT64_MAX - 3, 8}};
	for (unsigned k = 0; k < 4; k++) {
		chi_bdev_write_init(&wt, p, bad[k][0], buf, (uint32_t)bad[k][1]);
		assert_int_equal(chi_call(c, &wt.hdr, &chi_bdev_write_codec), -ERANGE);
		chi_bdev_read_init(&rd, p, bad[k][0], buf, (uint32_t)bad[k][1]);
		assert_int_equal(chi_call(c, &rd.hdr, &chi_bdev_read_codec), -ERANGE);
		assert_int_equal(rd.got, 0);
		assert_int_equal(chi_bdev_write(c, p, bad[k][0], buf, bad[k][1]), -ERANGE);
		assert_int_equal(chi_bdev_read(c, p, bad[k][0], buf, bad[k][1]), -ERANGE);
	}
	/* the last bytes were not touched, the whole device is still readable */
	chi_bdev_stats_task s = stats(p);
	assert_int_equal(s.writes, 0);
	assert_int_equal(s.reads, 0);
	assert_int_equal(chi_bdev_read(c, p, CAP - 64, buf, 64), 64);
	assert_memory_equal(buf, zero, 64);
	if (path[0]) { /* the file did not grow */
		struct stat st;
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_size, CAP);
	}
}

static void test_out_of_range(void **state)
{
	(void)state;
	out_of_range(make_pool(rt, "ram", "", CAP), "");
	out_of_range(make_pool(rt, "disk", file, CAP), file);
}

static void test_stats_exact(void **state)
{
	(void)state;
	chi_client *c = chi_runtime_client(rt);
	for (int file_backed = 0; file_backed < 2; file_backed++) {
		chi_pool_id p = make_pool(rt, file_backed ? "disk" : "ram", file_backed ? file : "",
					  CAP);
		chi_bdev_stats_task s = stats(p);
		assert_int_equal(s.capacity, CAP);
		assert_int_equal(s.allocated + s.reads + s.writes + s.bytes_read + s.bytes_written,
				 0);
		roundtrip(p, 40);
		uint64_t ops = 1, bytes = 1000; /* the hand-made task */
		for (unsigned k = 0; k < 4; k++) {
			ops += pieces(sizes[k], CHI_BDEV_CHUNK);
			bytes += sizes[k];
		}
		assert_int_equal(ops, 1 + 1 + 1 + 1 + 6);
		s = stats(p);
		assert_int_equal(s.writes, ops);
		assert_int_equal(s.reads, ops);
		assert_int_equal(s.bytes_written, bytes);
		assert_int_equal(s.bytes_read, bytes);
		/* failed I/O counts nothing */
		uint8_t b[8];
		assert_int_equal(chi_bdev_read(c, p, CAP, b, 8), -ERANGE);
		assert_int_equal(alloc(p, 10000), 0);
		s = stats(p);
		assert_int_equal(s.reads, ops);
		assert_int_equal(s.bytes_read, bytes);
		assert_int_equal(s.allocated, 3 * 4096);
	}
}

/* ---- concurrent writers to disjoint ranges ---- */
#define NTHR 3
#define RANGE (4 * MiB)
struct writer {
	chi_pool_id pool;
	int id;
	int bad;
};
static void *writer_main(void *arg)
{
	struct writer *w = arg;
	chi_client *c = chi_runtime_client(rt);
	uint8_t *buf = malloc(RANGE);
	/* pieces of varied sizes covering [id*RANGE, (id+1)*RANGE) */
	uint64_t off = 0, len = 4096 - 17;
	while (off < RANGE) {
		uint64_t n = len < RANGE - off ? len : RANGE - off;
		fill(buf, n, 1000 + (uint64_t)w->id * 64 + off);
		if (chi_bdev_write(c, w->pool, (uint64_t)w->id * RANGE + off, buf, n) != (int64_t)n)
			w->bad++;
		off += n;
		len = len * 3 + 1;
	}
	free(buf);
	return NULL;
}

static void concurrent(chi_pool_id p)
{
	pthread_t th[NTHR];
	struct writer w[NTHR];
	for (int i = 0; i < NTHR; i++) {
		w[i] = (struct writer){p, i, 0};
		assert_int_equal(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
	}
	for (int i = 0; i < NTHR; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].bad, 0);
	}
	uint8_t *r = malloc(RANGE), *want = malloc(RANGE);
	for (int i = 0; i < NTHR; i++) {
		uint64_t off = 0, len = 4096 - 17;
		while (off < RANGE) {
			uint64_t n = len < RANGE - off ? len : RANGE - off;
			fill(want + off, n, 1000 + (uint64_t)i * 64 + off);
			off += n;
			len = len * 3 + 1;
		}
		assert_int_equal(chi_bdev_read(chi_runtime_client(rt), p, (uint64_t)i * RANGE, r,
					       RANGE),
				 RANGE);
		assert_memory_equal(r, want, RANGE);
	}
	assert_int_equal(stats(p).bytes_written, NTHR * RANGE);
	free(r);
	free(want);
}

static void test_concurrent_writers(void **state)
{
	(void)state;
	concurrent(make_pool(rt, "ram", "", CAP));
	concurrent(make_pool(rt, "disk", file, CAP));
}

/* With max_task_size 64 KiB the helpers use pieces of 64 KiB - 12. */
static void test_small_max_task(void **state)
{
	(void)state;
	chi_runtime_stop(rt);
	rt = start(64 * KiB);
	chi_pool_id p = make_pool(rt, "ram", "", CAP);
	chi_client *c = chi_runtime_client(rt);
	uint8_t *w = malloc(3 * MiB), *r = malloc(3 * MiB);
	fill(w, 3 * MiB, 77);
	assert_int_equal(chi_bdev_write(c, p, 123, w, 3 * MiB), 3 * MiB);
	assert_int_equal(chi_bdev_read(c, p, 123, r, 3 * MiB), 3 * MiB);
	assert_memory_equal(r, w, 3 * MiB);
	chi_bdev_stats_task s = stats(p);
	assert_int_equal(s.writes, pieces(3 * MiB, 64 * KiB - 12));
	assert_int_equal(s.reads, pieces(3 * MiB, 64 * KiB - 12));
	/* one task larger than max_task_size: refused before it is sent */
	chi_bdev_write_task wt;
	chi_bdev_write_init(&wt, p, 0, w, 64 * KiB);
	assert_int_equal(chi_call(c, &wt.hdr, &chi_bdev_write_codec), -EMSGSIZE);
	free(w);
	free(r);
}

/* ---- sub-tasks: a method that copies 8 KiB from offset 0 to 64 KiB of the
 * bdev pool given as its argument, through zero-copy pointer futures ---- */
static int64_t run_copy(chi_ctx *ctx, chi_task *h)
{
	chi_pool_id pool = (chi_pool_id)((chi_test_arg_task *)h)->arg;
	uint8_t buf[8192];
	chi_bdev_read_task rd;
	chi_bdev_read_init(&rd, pool, 0, buf, sizeof(buf));
	chi_future f;
	int rc = chi_make_pointer_future(ctx, &rd.hdr, &f);
	int64_t r = rc ? rc : chi_future_wait(&f);
	if (r < 0)
		return r;
	if (rd.got != sizeof(buf))
		return -EIO;
	chi_bdev_write_task wt;
	chi_bdev_write_init(&wt, pool, 64 * KiB, buf, sizeof(buf));
	rc = chi_make_pointer_future(ctx, &wt.hdr, &f);
	r = rc ? rc : chi_future_wait(&f);
	return r < 0 ? r : (int64_t)wt.written;
}
static const chi_method copy_methods[] = {{"copy", &chi_test_arg_codec, run_copy}};
static const chi_module copy_module = {"bdev_copy", 1, copy_methods, NULL, NULL};

static void test_subtask(void **state)
{
	(void)state;
	chi_client *c = chi_runtime_client(rt);
	chi_admin_pool_task ap;
	chi_admin_pool_init(&ap, CHI_ADMIN_CREATE_POOL, CHI_POOL_ID_ANY, "copier", "bdev_copy", "",
			    0);
	int64_t cp = chi_call(c, &ap.hdr, &chi_admin_pool_codec);
	assert_true(cp >= 2);
	for (int file_backed = 0; file_backed < 2; file_backed++) {
		chi_pool_id p = make_pool(rt, file_backed ? "disk" : "ram", file_backed ? file : "",
					  CAP);
		uint8_t w[8192], r[8192];
		fill(w, sizeof(w), 5 + (uint64_t)file_backed);
		assert_int_equal(chi_bdev_write(c, p, 0, w, sizeof(w)), sizeof(w));
		chi_test_arg_task t;
		chi_test_arg_init(&t, (chi_pool_id)cp, 0, p);
		assert_int_equal(chi_call(c, &t.hdr, &chi_test_arg_codec), sizeof(w));
		assert_int_equal(chi_bdev_read(c, p, 64 * KiB, r, sizeof(r)), sizeof(r));
		assert_memory_equal(r, w, sizeof(w));
	}
}

/* A file that cannot be opened: create_pool fails, the runtime goes on. */
static void test_bad_path(void **state)
{
	(void)state;
	chi_admin_pool_task p;
	char path[192];
	snprintf(path, sizeof(path), "%s/no/such/dir/x.img", dir);
	chi_admin_pool_init(&p, CHI_ADMIN_CREATE_POOL, CHI_POOL_ID_ANY, "bad", "bdev", path, CAP);
	assert_int_equal(chi_call(chi_runtime_client(rt), &p.hdr, &chi_admin_pool_codec), -ENOENT);
	chi_admin_pool_init(&p, CHI_ADMIN_CREATE_POOL, CHI_POOL_ID_ANY, "zero", "bdev", "", 0);
	assert_int_equal(chi_call(chi_runtime_client(rt), &p.hdr, &chi_admin_pool_codec), -EINVAL);
	(void)make_pool(rt, "ok", "", CAP);
}

int main(void)
{
	if (chi_module_register(&copy_module))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_allocate_free, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_contents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_max_task, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subtask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_path, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
