/* tests/test_shm.c: named segments (naming, create/open/refuse, header
 * validation) and the lock-free allocator (no two live blocks overlap under
 * concurrent alloc/free; out of memory returns 0; freed blocks are reused). */
#include "test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "shm/shm.h"

static void test_names(void **state)
{
	(void)state;
	char n[CHI_SEG_NAME_MAX];
	assert_int_equal(chi_shm_name(n, sizeof(n), "rt1", "main", -1), 0);
	char want[64];
	snprintf(want, sizeof(want), "/chi.%u.rt1.main", (unsigned)getuid());
	assert_string_equal(n, want);
	assert_int_equal(chi_shm_name(n, sizeof(n), "rt1", "gpu", 3), 0);
	snprintf(want, sizeof(want), "/chi.%u.rt1.gpu.3", (unsigned)getuid());
	assert_string_equal(n, want);
	assert_int_equal(chi_shm_name(n, sizeof(n), "a/b", "main", -1), -EINVAL);
	assert_int_equal(chi_shm_name(n, sizeof(n), "a.b", "main", -1), -EINVAL);
	assert_int_equal(chi_shm_name(n, 8, "rt1", "main", -1), -ENAMETOOLONG);
}

static void test_create_open(void **state)
{
	(void)state;
	char n[CHI_SEG_NAME_MAX];
	chi_shm_name(n, sizeof(n), "tshm", "main", getpid());
	shm_unlink(n);
	chi_seg a, b, c;
	assert_int_equal(chi_seg_create(&a, n, 1 << 20, 1, CHI_SEG_KIND_MAIN, 0xabcdef, "tshm"), 0);
	assert_int_equal(chi_seg_create(&c, n, 1 << 20, 1, CHI_SEG_KIND_MAIN, 1, "tshm"), -EEXIST);
	assert_int_equal(chi_seg_open(&b, n), 0);
	chi_seg_hdr *h = chi_seg_hdr_of(&b);
	assert_int_equal(h->epoch, 0xabcdef);
	assert_int_equal(h->owner_pid, getpid());
	assert_int_equal(h->size, 1 << 20);
	assert_string_equal(h->name, "tshm");
	assert_true(chi_seg_owner_alive(h));
	/* writes through one mapping are seen through the other */
	((char *)a.base)[4096] = 0x5a;
	assert_int_equal(((char *)b.base)[4096], 0x5a);
	chi_seg_close(&b);
	chi_seg_close(&a); /* creator unlinks */
	assert_int_equal(chi_seg_open(&b, n), -ENOENT);
}

static void test_bad_header(void **state)
{
	(void)state;
	char n[CHI_SEG_NAME_MAX];
	chi_shm_name(n, sizeof(n), "tbad", "main", getpid());
	int fd = shm_open(n, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 8192), 0);
	char junk[256];
	memset(junk, 0x77, sizeof(junk));
	assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	chi_seg s;
	assert_int_equal(chi_seg_open(&s, n), -EPROTO);
	shm_unlink(n);
}

#define ARENA (8u << 20)
static char *arena_base;
static chi_alloc_hdr *arena_hdr;

struct athr {
	int id;
	int errors;
};

static void *alloc_worker(void *arg)
{
	struct athr *t = arg;
	uint64_t offs[64];
	uint64_t sizes[64];
	unsigned seed = (unsigned)t->id * 7919u + 1;
	for (int round = 0; round < 2000; round++) {
		int n = 0;
		for (int i = 0; i < 64; i++) {
			seed = seed * 1103515245u + 12345u;
			uint64_t sz = 1 + (seed >> 8) % 5000;
			uint64_t off = chi_alloc(arena_base, arena_hdr, sz);
			if (!off)
				continue;
			/* stamp every byte with our id and round */
			memset(arena_base + off, (t->id * 31 + round) & 0xff, sz);
			offs[n] = off;
			sizes[n++] = sz;
		}
		for (int i = 0; i < n; i++) {
			unsigned char want = (unsigned char)((t->id * 31 + round) & 0xff);
			for (uint64_t k = 0; k < sizes[i]; k += 61)
				if ((unsigned char)arena_base[offs[i] + k] != want)
					t->errors++;
			chi_free(arena_base, arena_hdr, offs[i], sizes[i]);
		}
	}
	return NULL;
}

static void test_alloc_concurrent(void **state)
{
	(void)state;
	arena_base = aligned_alloc(4096, ARENA);
	assert_non_null(arena_base);
	arena_hdr = (chi_alloc_hdr *)arena_base;
	chi_alloc_init(arena_hdr, 4096, ARENA);
	enum { N = 4 };
	pthread_t th[N];
	struct athr a[N];
	for (int i = 0; i < N; i++) {
		a[i].id = i;
		a[i].errors = 0;
		pthread_create(&th[i], NULL, alloc_worker, &a[i]);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(a[i].errors, 0);
	}
	assert_int_equal(arena_hdr->in_use, 0);
	free(arena_base);
}

static void test_alloc_limits(void **state)
{
	(void)state;
	char *base = aligned_alloc(4096, 1 << 20);
	chi_alloc_hdr *h = (chi_alloc_hdr *)base;
	chi_alloc_init(h, 4096, 1 << 20);
	assert_int_equal(chi_alloc_class_size(1), 256);
	assert_int_equal(chi_alloc_class_size(257), 512);
	assert_int_equal(chi_alloc_class_size(2u << 20), 2u << 20);
	assert_int_equal(chi_alloc_class_size((2u << 20) + 1), 4u << 20);
	assert_int_equal(chi_alloc_class_size((2ull << 30) + 1), 0);
	uint64_t a = chi_alloc(base, h, 256);
	assert_true(a >= 4096 && a % 256 == 0);
	chi_free(base, h, a, 256);
	assert_int_equal(chi_alloc(base, h, 200), a); /* reused from the free list */
	/* exhaust: 512 KiB blocks in a 1 MiB segment minus the header page */
	uint64_t b = chi_alloc(base, h, 512 << 10);
	assert_true(b != 0);
	assert_int_equal(chi_alloc(base, h, 512 << 10), 0);
	free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_create_open),
		cmocka_unit_test(test_bad_header),
		cmocka_unit_test(test_alloc_concurrent),
		cmocka_unit_test(test_alloc_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
