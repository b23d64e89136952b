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
 * release CAS; K2, the runtime reads the list with acquire only after the
 * client is DEAD or CLOSED and every lane has moved past what the client
 * could have published (src/runtime/reaper.c), then frees each chunk whole. */
#include <errno.h>

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
	uint64_t cur = __atomic_load_n(&c->cur_chunk, __ATOMIC_RELAXED), off;
	if (cur && (off = chi_alloc(c->base, &chunk_at(c, cur)->alloc, size)))
		return off;
	/* the current chunk is full: an older one may have room again */
	for (uint64_t k = __atomic_load_n(&c->slot->chunks, __ATOMIC_ACQUIRE); k;
	     k = chunk_at(c, k)->next)
		if (k != cur && (off = chi_alloc(c->base, &chunk_at(c, k)->alloc, size))) {
			__atomic_store_n(&c->cur_chunk, k, __ATOMIC_RELAXED);
			return off;
		}
	uint64_t k = new_chunk(c, size);
	if (!k)
		return 0;
	__atomic_store_n(&c->cur_chunk, k, __ATOMIC_RELAXED);
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

uint64_t chi_chunks_release(void *base, chi_alloc_hdr *main, uint64_t *head)
{
	uint64_t n = 0;
	for (uint64_t k = __atomic_exchange_n(head, 0, __ATOMIC_ACQ_REL); k;) { /* K2 */
		chi_chunk *ch = (chi_chunk *)((char *)base + k);
		uint64_t next = ch->next;
		chi_free(base, main, k, ch->size);
		k = next;
		n++;
	}
	return n;
}
