/* src/ipc/chunk.c: per-client arena chunks.
 *
 * A client in another process allocates its future and data blocks inside
 * chunks it takes from the main arena, so that when it dies (or closes) the
 * runtime can give everything it held back at once, without knowing which
 * blocks were live.
 *
 * Chunk layout: [chi_chunk (256 B)][blocks ...]
 *   next   offset of the client's previous chunk (0: none)
 *   size   chunk bytes (a main-arena size class)
 *   alloc  a chi_alloc_hdr over the chunk's blocks (src/shm/alloc.c), so
 *          the client's threads allocate and free inside it lock-free
 * The client-table entry's `chunks` is the head of a list that only grows
 * while the client lives. K5: the runtime, not the client, takes a chunk
 * from the arena and pushes it on the list, in one step of its monitor
 * thread, so no kill of the client falls between the two (a client that
 * took its own chunks, killed between the arena's CAS and its push, leaked
 * the chunk whole, and K4 could not see a chunk in that window):
 *   R1 client: store entry.chunk_req = the chunk's size in MiB (release),
 *      one request at a time per client (chunk_busy, process-local)
 *   R2 client: bump the segment header's chunk_wake, FUTEX_WAKE it
 *   S1 runtime (chi_chunk_serve, from its monitor thread): for a LIVE
 *      entry with chunk_req != 0 (acquire, pairs with R1) take a chunk of
 *      that size if it is a size class of at least CHI_CHUNK_MIN, build its
 *      header with next = the list's head, store entry.chunks = it (K1,
 *      release)
 *   S2 runtime: store chunk_got (the chunk, 0: no room or a bad size), then
 *      chunk_req = 0 (release), FUTEX_WAKE chunk_req
 *   R3 client: wait until chunk_req is 0 (acquire, pairs with S2; futex
 *      waits of 10 ms, asking about the runtime between them: a dead or
 *      stopping runtime ends the wait with no chunk), then read chunk_got.
 * K1b, the client's current chunk (cur_chunk, process-local) is stored with
 * release once R3 saw the chunk and loaded with acquire, so threads sharing
 * the client allocate from a chunk another one just got; K2, the runtime
 * reads the list with acquire only after the client is DEAD or CLOSED and
 * every lane has moved past what the client could have published
 * (src/runtime/reaper.c), then frees each chunk whole, checking every link
 * first (K3, at chi_chunks_release). The embedded runtime's own client
 * allocates from the arena directly (it never dies). */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "chi/log.h"
#include "ipc/client.h"
#include "task/future_ops.h"

#define CHI_CHUNK_HDR 256u
#define CHI_CHUNK_MIN (1ull << 20)

typedef struct chi_chunk {
	uint64_t next;
	uint64_t size;
	chi_alloc_hdr alloc;
} chi_chunk;
_Static_assert(sizeof(chi_chunk) <= CHI_CHUNK_HDR, "chunk header fits");

static chi_chunk *chunk_at(const chi_client *c, uint64_t off)
{
	return (chi_chunk *)((char *)c->base + off);
}

/* The chunk size a block of `size` needs (a size class), 0 if none. */
static uint64_t chunk_size_for(uint64_t size)
{
	uint64_t block = chi_alloc_class_size(size); /* what the block takes inside */
	uint64_t want = block ? chi_alloc_class_size(block + CHI_CHUNK_HDR) : 0;
	return want && want < CHI_CHUNK_MIN ? CHI_CHUNK_MIN : want;
}

/* R1-R3: ask the runtime for a chunk of `want` bytes; its offset or 0. */
static uint64_t request_chunk(chi_client *c, uint64_t want)
{
	chi_client_shm *e = c->slot;
	uint32_t mib = (uint32_t)(want >> 20);
	__atomic_store_n(&e->chunk_req, mib, __ATOMIC_RELEASE); /* R1 */
	__atomic_fetch_add(&c->hdr->chunk_wake, 1, __ATOMIC_RELEASE); /* R2 */
	chi_futex_wake(&c->hdr->chunk_wake, 1);
	for (;;) { /* R3 */
		uint32_t r = __atomic_load_n(&e->chunk_req, __ATOMIC_ACQUIRE);
		if (!r)
			return __atomic_load_n(&e->chunk_got, __ATOMIC_RELAXED);
		if (chi_client_check_runtime(c))
			return 0; /* the runtime is gone or stopping: no chunk */
		chi_futex_wait(&e->chunk_req, r, 10ull * 1000 * 1000);
	}
}

/* A block of `size` in one of this client's chunks (K1b: the current one
 * first), or 0. */
static uint64_t alloc_in_chunks(chi_client *c, uint64_t size)
{
	uint64_t cur = __atomic_load_n(&c->cur_chunk, __ATOMIC_ACQUIRE), off;
	if (cur && (off = chi_alloc(c->base, &chunk_at(c, cur)->alloc, size)))
		return off;
	/* the current chunk is full: an older one may have room again */
	for (uint64_t k = __atomic_load_n(&c->slot->chunks, __ATOMIC_ACQUIRE); k;
	     k = chunk_at(c, k)->next)
		if (k != cur && (off = chi_alloc(c->base, &chunk_at(c, k)->alloc, size))) {
			__atomic_store_n(&c->cur_chunk, k, __ATOMIC_RELEASE); /* K1b */
			return off;
		}
	return 0;
}

uint64_t chi_client_alloc(chi_client *c, uint64_t size)
{
	if (c->embedded || !c->slot) /* the runtime's own client never dies */
		return chi_alloc(c->base, &c->dir->alloc, size);
	uint64_t want = chunk_size_for(size), off;
	if (!want)
		return 0;
	for (;;) {
		if ((off = alloc_in_chunks(c, size)))
			return off;
		if (__atomic_exchange_n(&c->chunk_busy, 1, __ATOMIC_ACQUIRE)) {
			/* another thread asks: try its chunk once it has it */
			while (__atomic_load_n(&c->chunk_busy, __ATOMIC_ACQUIRE))
				sched_yield();
			continue;
		}
		uint64_t k = request_chunk(c, want);
		if (k)
			__atomic_store_n(&c->cur_chunk, k, __ATOMIC_RELEASE); /* K1b */
		__atomic_store_n(&c->chunk_busy, 0, __ATOMIC_RELEASE);
		if (!k)
			return 0;
		if ((off = chi_alloc(c->base, &chunk_at(c, k)->alloc, size)))
			return off;
		/* the client's other threads filled it first: look again */
	}
}

uint64_t chi_chunk_serve(void *base, chi_alloc_hdr *main, chi_client_shm *e)
{
	uint32_t mib = __atomic_load_n(&e->chunk_req, __ATOMIC_ACQUIRE); /* S1 */
	if (!mib)
		return 0;
	uint64_t want = (uint64_t)mib << 20, off = 0;
	if (want >= CHI_CHUNK_MIN && chi_alloc_class_size(want) == want &&
	    (off = chi_alloc(base, main, want))) {
		chi_chunk *k = (chi_chunk *)((char *)base + off);
		k->size = want;
		chi_alloc_init(&k->alloc, off + CHI_CHUNK_HDR, off + want);
		k->next = __atomic_load_n(&e->chunks, __ATOMIC_RELAXED);
		__atomic_store_n(&e->chunks, off, __ATOMIC_RELEASE); /* K1 */
	}
	__atomic_store_n(&e->chunk_got, off, __ATOMIC_RELAXED); /* S2 */
	__atomic_store_n(&e->chunk_req, 0, __ATOMIC_RELEASE);
	chi_futex_wake(&e->chunk_req, 1);
	return off;
}

void chi_client_free(chi_client *c, uint64_t off, uint64_t size)
{
	if (c->embedded || !c->slot) {
		chi_free(c->base, &c->dir->alloc, off, size);
		return;
	}
	for (uint64_t k = __atomic_load_n(&c->slot->chunks, __ATOMIC_ACQUIRE); k;
	     k = chunk_at(c, k)->next) {
		chi_chunk *ch = chunk_at(c, k);
		if (off >= k + CHI_CHUNK_HDR && off < k + ch->size) {
			chi_free(c->base, &ch->alloc, off, size);
			return;
		}
	}
}

/* K3: the list is the client's writing, and the runtime must survive any
 * list (docs/reliability.md). Every link is checked before it is followed:
 * the offset lies in the arena (in [lo, hi), the caller's own record of
 * it, and below the allocator's bump and end), is 256-byte aligned,
 * and the chunk's size is a size class of at least CHI_CHUNK_MIN that ends
 * inside those bounds; the walk stops after as many links as the arena has
 * room for chunks (a cycle), and a chunk that overlaps one listed before it
 * (a repeat, or a cycle) ends the list too. The chunks before the first bad
 * link are freed, each once; the bad link and everything after it are
 * logged and leaked: a leak costs arena space, a wrong free corrupts it.
 * Each header word is read once, so a list rewritten meanwhile cannot pass
 * the check and then be followed with other values.
 * K4: a list may also run into another client's chunks (a buggy client's
 * link to a chunk it does not own): before a release the runtime collects
 * the chunks of every other entry that is not FREE (each list walked with
 * K3's checks, read only), and the walk stops at the first link that
 * overlaps one of them. That chunk and the rest stay with whoever else
 * lists them; an honest client's memory is never freed under it. */
static const char no_memory[] = "no memory to check it";

static int span_by_off(const void *a, const void *b)
{
	const chi_chunk_span *x = a, *y = b;
	return x->off < y->off ? -1 : x->off > y->off;
}

void chi_chunk_spans_sort(chi_chunk_span *s, uint64_t n)
{
	if (n > 1)
		qsort(s, n, sizeof(*s), span_by_off);
}

/* Do any two of the first m links overlap? (sorted by offset, an overlap
 * shows between neighbours) */
static int overlap(const chi_chunk_span *e, uint64_t m, chi_chunk_span *tmp)
{
	memcpy(tmp, e, m * sizeof(*tmp));
	chi_chunk_spans_sort(tmp, m);
	for (uint64_t i = 1; i < m; i++)
		if (tmp[i].off < tmp[i - 1].off + tmp[i - 1].size)
			return 1;
	return 0;
}

static uint64_t ld_once(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* K4: does [k, k + size) overlap a chunk of others (sorted by offset)? */
static int overlaps_any(const chi_chunk_span *o, uint64_t no, uint64_t k, uint64_t size)
{
	uint64_t lo = 0, hi = no; /* the first other ending after k */
	while (lo < hi) {
		uint64_t m = lo + (hi - lo) / 2;
		if (o[m].off + o[m].size <= k)
			lo = m + 1;
		else
			hi = m;
	}
	for (uint64_t i = lo; i < no && o[i].off < k + size; i++)
		if (o[i].off + o[i].size > k)
			return 1;
	return 0;
}

/* K3's walk from link k: the good links appended to *e (*n, *cap); the
 * reason it stopped early, or NULL at the list's end. K4: a link that
 * overlaps one of others[0..nothers) (sorted) stops it too. */
static const char *walk(const void *base, const chi_alloc_hdr *main, uint64_t k, uint64_t lo,
			uint64_t hi, const chi_chunk_span *others, uint64_t nothers, chi_chunk_span **e,
			uint64_t *n, uint64_t *cap)
{
	uint64_t end = ld_once(&main->end), bump = ld_once(&main->bump);
	if (end < hi)
		hi = end;
	if (bump < hi)
		hi = bump;
	uint64_t max_links = hi > lo ? (hi - lo) / CHI_CHUNK_MIN : 0;
	for (uint64_t links = 0; k; links++) {
		if (links >= max_links)
			return "longer than the arena holds chunks (a cycle?)";
		if (k < lo || k >= hi || (k & 255u))
			return "a chunk offset outside the arena or misaligned";
		const chi_chunk *ch = (const chi_chunk *)(const void *)((const char *)base + k);
		uint64_t size = ld_once(&ch->size), next = ld_once(&ch->next);
		if (size < CHI_CHUNK_MIN || chi_alloc_class_size(size) != size || size > hi - k)
			return "a chunk of an impossible size";
		if (overlaps_any(others, nothers, k, size))
			return "a chunk of another client's list (K4)";
		if (*n == *cap) {
			uint64_t nc = *cap ? 2 * *cap : 64;
			chi_chunk_span *ne = realloc(*e, nc * sizeof(*ne));
			if (!ne)
				return no_memory;
			*e = ne;
			*cap = nc;
		}
		(*e)[(*n)++] = (chi_chunk_span){k, size};
		k = next;
	}
	return NULL;
}

int chi_chunks_collect(const void *base, const chi_alloc_hdr *main, const uint64_t *head,
		       uint64_t lo, uint64_t hi, chi_chunk_span **spans, uint64_t *n, uint64_t *cap)
{
	const char *why = walk(base, main, __atomic_load_n(head, __ATOMIC_ACQUIRE), lo, hi, NULL, 0,
			       spans, n, cap);
	return why == no_memory ? -ENOMEM : 0;
}

uint64_t chi_chunks_release(void *base, chi_alloc_hdr *main, uint64_t *head, uint64_t lo,
			    uint64_t hi, const chi_chunk_span *others, uint64_t nothers)
{
	uint64_t k = __atomic_exchange_n(head, 0, __ATOMIC_ACQ_REL); /* K2 */
	if (!k)
		return 0;
	chi_chunk_span *e = NULL;
	uint64_t n = 0, cap = 0, bad = 0;
	const char *why = walk(base, main, k, lo, hi, others, nothers, &e, &n, &cap);
	bad = n; /* links [0, bad) are good so far */
	if (n > 1) {
		chi_chunk_span *tmp = malloc(n * sizeof(*tmp));
		if (!tmp) {
			why = no_memory;
			bad = 0;
		} else if (overlap(e, n, tmp)) {
			/* the first link that overlaps one before it: the
			 * smallest m whose prefix [0, m) overlaps, less one */
			uint64_t ok = 1, no = n; /* [0, ok) is clean, [0, no) is not */
			while (no - ok > 1) {
				uint64_t m = ok + (no - ok) / 2;
				if (overlap(e, m, tmp))
					no = m;
				else
					ok = m;
			}
			bad = ok;
			why = "a chunk listed twice or overlapping another (a cycle?)";
		}
		free(tmp);
	}
	for (uint64_t i = 0; i < bad; i++)
		chi_free(base, main, e[i].off, e[i].size);
	if (why)
		chi_log(CHI_LOG_ERROR,
			"a client's arena chunk list is corrupt at link %llu (%s): %llu chunks "
			"freed, the rest leaked",
			(unsigned long long)bad, why, (unsigned long long)bad);
	free(e);
	return bad;
}
