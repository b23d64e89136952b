/* src/shm/alloc.c: the lock-free allocator inside a segment.
 *
 * Size classes are powers of two from 256 B to 2 GiB. Each class is a Treiber
 * stack whose head word packs (tag << 32) | (offset >> 8): the tag grows on
 * every pop so a stale CAS fails (ABA). A free block's first 8 bytes hold the
 * packed offset of the next free block; a popper may read it while another
 * thread already reuses the block (that read is then discarded because the
 * CAS fails, see peek_next).
 *   AL1  push: next = head (relaxed); CAS head -> block (release; pairs AL2)
 *   AL2  pop:  head load (acquire; pairs AL1), read next, CAS head -> next
 * Empty classes are fed by a CAS-advanced bump pointer; offsets stay 256-byte
 * aligned because every class size is a multiple of 256. */
#include "shm.h"

/* AL2's read of `next`: the block may already be reused by the thread that
 * won the race (the tag then fails our CAS). That read is benign by design,
 * so it is kept out of ThreadSanitizer's view. */
#if defined(__SANITIZE_THREAD__)
#define CHI_NO_TSAN __attribute__((no_sanitize("thread")))
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CHI_NO_TSAN __attribute__((no_sanitize("thread")))
#endif
#endif
#ifndef CHI_NO_TSAN
#define CHI_NO_TSAN
#endif
CHI_NO_TSAN static uint64_t peek_next(const uint64_t *p)
{
	return *(const volatile uint64_t *)p;
}

uint64_t chi_alloc_class_size(uint64_t size)
{
	uint64_t c = CHI_FUTURE_BLOCK_MIN;
	while (c < size && c < CHI_ALLOC_MAX)
		c <<= 1;
	return c >= size ? c : 0;
}

static unsigned class_of(uint64_t csize)
{
	unsigned k = 0;
	while (((uint64_t)CHI_FUTURE_BLOCK_MIN << k) < csize)
		k++;
	return k;
}

void chi_alloc_init(chi_alloc_hdr *a, uint64_t start, uint64_t end)
{
	a->bump = (start + 255) & ~255ull;
	a->end = end;
	for (unsigned i = 0; i < CHI_ALLOC_CLASSES; i++)
		a->free_head[i] = 0;
	a->in_use = 0;
}

uint64_t chi_alloc(void *base, chi_alloc_hdr *a, uint64_t size)
{
	uint64_t csize = chi_alloc_class_size(size ? size : 1);
	if (!csize)
		return 0;
	unsigned k = class_of(csize);
	uint64_t *headp = &a->free_head[k];
	uint64_t h = __atomic_load_n(headp, __ATOMIC_ACQUIRE); /* AL2 */
	while ((uint32_t)h != 0) {
		uint64_t off = (uint64_t)(uint32_t)h << 8;
		uint64_t next = peek_next((const uint64_t *)((char *)base + off));
		uint64_t nh = ((h >> 32) + 1) << 32 | (uint32_t)next;
		if (__atomic_compare_exchange_n(headp, &h, nh, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			__atomic_fetch_add(&a->in_use, csize, __ATOMIC_RELAXED);
			return off;
		}
	}
	uint64_t b = __atomic_load_n(&a->bump, __ATOMIC_RELAXED);
	do {
		if (b + csize > a->end || ((b + csize) >> 8) > 0xffffffffull)
			return 0;
	} while (!__atomic_compare_exchange_n(&a->bump, &b, b + csize, 0, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	__atomic_fetch_add(&a->in_use, csize, __ATOMIC_RELAXED);
	return b;
}

void chi_free(void *base, chi_alloc_hdr *a, uint64_t off, uint64_t size)
{
	uint64_t csize = chi_alloc_class_size(size ? size : 1);
	if (!off || !csize)
		return;
	unsigned k = class_of(csize);
	uint64_t *headp = &a->free_head[k];
	uint64_t *nextp = (uint64_t *)((char *)base + off);
	uint64_t h = __atomic_load_n(headp, __ATOMIC_RELAXED);
	do {
		*(volatile uint64_t *)nextp = (uint64_t)(uint32_t)h;
		/* AL1: release; pairs with AL2 */
	} while (!__atomic_compare_exchange_n(headp, &h, (h & 0xffffffff00000000ull) | (off >> 8),
					      0, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
	__atomic_fetch_sub(&a->in_use, csize, __ATOMIC_RELAXED);
}
