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
 * while the client lives: K1, a thread that made a chunk pushes it with a
 * release CAS; K1b, the client's current chunk (cur_chunk, process-local)
 * is stored with release once the chunk's header is built and loaded with
 * acquire, so threads sharing the client allocate from a chunk another one
 * just made; K2, the runtime reads the list with acquire only after the
 * client is DEAD or CLOSED and every lane has moved past what the client
 * could have published (src/runtime/reaper.c), then frees each chunk whole,
 * checking every link first (K3, at chi_chunks_release). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chi/log.h"
#include "ipc/client.h"

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

static uint64_t new_chunk(chi_client *c, uint64_t size)
{
	uint64_t block = chi_alloc_class_size(size); /* what the block takes inside */
	uint64_t want = block ? chi_alloc_class_size(block + CHI_CHUNK_HDR) : 0;
	if (!want)
		return 0;
	if (want < CHI_CHUNK_MIN)
		want = CHI_CHUNK_MIN;
	uint64_t off = chi_alloc(c->base, &c->dir->alloc, want);
	if (!off)
		return 0;
	chi_chunk *k = chunk_at(c, off);
	k->size = want;
	chi_alloc_init(&k->alloc, off + CHI_CHUNK_HDR, off + want);
	uint64_t head = __atomic_load_n(&c->slot->chunks, __ATOMIC_RELAXED);
	do
		k->next = head;
	while (!__atomic_compare_exchange_n(&c->slot->chunks, &head, off, 0, __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED)); /* K1 */
	return off;
}

uint64_t chi_client_alloc(chi_client *c, uint64_t size)
{
	if (c->embedded || !c->slot) /* the runtime's own client never dies */
		return chi_alloc(c->base, &c->dir->alloc, size);
	/* K1b */
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
	uint64_t k = new_chunk(c, size);
	if (!k)
		return 0;
	__atomic_store_n(&c->cur_chunk, k, __ATOMIC_RELEASE); /* K1b */
	return chi_alloc(c->base, &chunk_at(c, k)->alloc, size);
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
