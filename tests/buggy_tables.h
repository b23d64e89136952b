/* tests/buggy_tables.h: the garbage writer's targets in the tables
 * (tests/buggy_writer.h): its own chunk lists (chunks) and client-table
 * entries (table), and what only the runtime writes: the directory, the
 * allocator's and the segment's headers, the GPU directory (dir) and the
 * worker records and wake words (workers); the runtime's pages through a
 * writable mapping of the writer's own (RO1 maps them read-only in its
 * client). Each call is one burst of writes; what each
 * target writes is listed at the top of tests/fault_buggy_client.c. */
#ifndef CHI_TESTS_BUGGY_TABLES_H
#define CHI_TESTS_BUGGY_TABLES_H

#include "buggy_words.h"

/* Our chunk list (chunk.c's chi_chunk header: next, size, allocator) */
typedef struct bc_chunk {
	uint64_t next, size;
	chi_alloc_hdr alloc;
} bc_chunk;

/* A chunk link or list head of garbage: never into another list's chunks
 * (the writer's main client's included), only into the chunk at `self`
 * itself, below the arena, across or past the segment's end. */
static uint64_t g_link(gb *g, uint64_t self)
{
	switch (g_rand(g, 0, 7)) {
	case 0: return st_rand(&g->rng);
	case 1: return ~0ull;
	case 2: return g_rand(g, 1, 4096);
	case 3: return g->size - 128 + g_rand(g, 0, 256);
	case 4: return g->structs ? g_rand(g, 0, g->arena_lo) & ~255ull : g->size + 4096;
	case 5: return self ? self + 256 * g_rand(g, 1, 8) : g->size;
	case 6: return self ? self + g_rand(g, 1, 255) : g->size + 256;
	default: return 1ull << g_rand(g, 27, 63);
	}
}

static void t_chunks(gb *g, const char *name)
{
	chi_client *c2;
	if (chi_client_connect(name, &c2))
		return;
	int nb = (int)g_rand(g, 1, 6);
	for (int i = 0; i < nb; i++) /* a chunk or a few (big blocks take their own) */
		chi_client_alloc(c2, g_rand(g, 0, 1) ? 256 : g_rand(g, 1, 1500) * 1024);
	uint64_t head = __atomic_load_n(&c2->slot->chunks, __ATOMIC_ACQUIRE);
	bc_chunk *k = head ? (bc_chunk *)(g->base + head) : NULL;
	switch (g_pick(g, 7)) {
	case 0: g_st64(g, &c2->slot->chunks, g_link(g, head)); break;
	case 1: if (k) g_st64(g, &k->next, head); break;                   /* self-cycle */
	case 2: if (k && k->next) g_st64(g, &((bc_chunk *)(g->base + k->next))->next, head); break;
	case 3: if (k) g_st64(g, &k->next, g_link(g, head)); break;
	case 4: if (k) g_st64(g, &k->size, g_rand(g, 0, 1) ? g_word(g) : g_rand(g, 0, 1ull << 30)); break;
	case 5: if (k) g_st64(g, &k->next, g->size - 256); break;
	case 6: if (k) g_st64(g, &c2->slot->chunks, head + 256); break;      /* misaligned into it */
	default: if (k) g_fill(g, &k->alloc, sizeof(k->alloc)); break;      /* its allocator */
	}
	if (g->target == T_OTHERS && k) {
		uint64_t o = g_other_chunk(g);
		if (o)
			g_st64(g, &k->next, o & ~((1ull << 20) - 1)); /* another client's chunk */
	}
	if (g_rand(g, 0, 3)) {
		chi_client_close(c2); /* the reaper walks the list now */
	} else {
		/* a client that "dies": its entry turns DEAD when this
		 * process ends (the writer's lives are short) */
		chi_client_unbind(c2);
	}
	st_nap_us(g_rand(g, 0, 3000));
}

static void t_table(gb *g)
{
	uint32_t i;
	if (g->target == T_OTHERS || g_rand(g, 0, 2) == 0) {
		i = (uint32_t)g_rand(g, 0, g->maxc - 1); /* any entry (others: only when asked) */
		if (g->live0[i] && g->target != T_OTHERS)
			i = g->c->id - 1;
	} else {
		i = g->c->id - 1;
	}
	/* its own entry through its own mapping; another's (RO2: read-only
	 * there) through the writable one */
	chi_client_shm *e = i + 1 == g->c->id ? g_entry(g, i) : g_entry_rw(g, i);
	static const uint32_t states[] = {CHI_CLIENT_FREE, CHI_CLIENT_LIVE, CHI_CLIENT_DEAD,
					  CHI_CLIENT_CLOSED, 0x80000001u, 7, 0xffffffffu};
	switch (g_pick(g, 4)) {
	case 0: g_st32(g, &e->state, states[g_rand(g, 0, 6)]); break;
	case 1: g_st32(g, (uint32_t *)&e->pid, (uint32_t)(g_rand(g, 0, 1) ? g_rand(g, 0, 2) - 1 : g_word(g))); break;
	case 2: g_st64(g, &e->epoch, g_word(g)); break;
	case 3: g_st64(g, &e->chunks, g_link(g, 0)); break;
	default: /* the whole entry: random words, its list head a link */
		g_fill(g, e, sizeof(*e));
		g_st64(g, &e->chunks, g_link(g, 0));
		break;
	}
	st_nap_us(g_rand(g, 0, 500));
}

static void t_dir(gb *g)
{
	/* through the writable mapping: c's has these pages read-only (RO1) */
	chi_main_dir *d = chi_dir_of(g->rw);
	chi_seg_hdr *h = (chi_seg_hdr *)(void *)g->rw;
	switch (g_pick(g, 20)) {
	case 0: g_st32(g, &d->nlanes, (uint32_t)g_word(g)); break;
	case 1: g_st32(g, &d->nworkers, (uint32_t)g_word(g)); break;
	case 2: g_st32(g, &d->depth, (uint32_t)g_word(g)); break;
	case 3: g_st32(g, &d->bulk_every, (uint32_t)g_word(g)); break;
	case 4: g_st64(g, &d->max_task_size, g_word(g)); break;
	case 5: g_st64(g, &d->first_busy_wait_us, g_word(g)); break;
	case 6: g_st64(g, &d->max_sleep_us, g_word(g)); break;
	case 7: g_st64(g, &d->hole_timeout_ms, g_word(g)); break;
	case 8: g_st64(g, &d->workers_off, g_word(g)); break;
	case 9: g_st64(g, &d->lanes_off, g_word(g)); break;
	case 10: g_st64(g, &d->clients_off, g_word(g)); break;
	case 11: g_st32(g, &d->max_clients, (uint32_t)g_word(g)); break;
	case 12: g_st32(g, &d->ngpus, (uint32_t)g_word(g)); break;
	case 13: g_fill(g, &d->clients_dead, 24); break;
	case 14: g_fill(g, &d->pools[g_rand(g, 0, 3)], sizeof(chi_pool_shm)); break;
	case 15: g_fill(g, &d->alloc, sizeof(d->alloc)); break;
	case 16: g_st64(g, &d->alloc.free_head[g_rand(g, 0, CHI_ALLOC_CLASSES - 1)], g_word(g)); break;
	case 17: g_st64(g, &h->dir_off, g_word(g)); break;
	case 18: g_st64(g, &h->alive, g_word(g)); break;
	case 19: g_st64(g, &h->size, g_word(g)); break;
	default:
		if (g->gx) {
			chi_gpu_dir *gd = (chi_gpu_dir *)(void *)(g->gx->base + g->gx->hdr->dir_off);
			g_fill(g, gd, 64 + 8 * g_rand(g, 0, 60));
		}
		break;
	}
	st_nap_us(g_rand(g, 0, 3000));
}

static void t_workers(gb *g)
{
	uint32_t i = (uint32_t)g_rand(g, 0, g->c->dir->nworkers - 1);
	chi_worker_shm *w = (chi_worker_shm *)(void *)(g->rw + g->c->dir->workers_off) + i;
	chi_worker_wake *k = &g->c->wakes[i]; /* on a writable page of c's */
	switch (g_pick(g, 5)) {
	case 0: g_st32(g, &k->sleeping, (uint32_t)g_rand(g, 0, 2)); break;
	case 1: g_st32(g, &k->sleep_futex, (uint32_t)g_word(g)); break;
	case 2: g_st64(g, &w->task_seq, g_word(g)); break;
	case 3: g_st64(g, &w->handed, g_word(g)); break;
	case 4: g_st64(g, &w->handled, g_word(g)); break;
	default: g_fill(g, &w->task_seq, 64); break;
	}
	st_nap_us(g_rand(g, 0, 1000));
}

#endif
