/* tests/buggy_words.h: what the garbage writer of tests/fault_buggy_client.c
 * (tests/buggy_writer.h) writes with: the targets, the writer's state (its
 * client, its own future and data blocks, its GPU slice), the words bugs
 * write (random, 0, ~0, small counts, powers of two, offsets at the
 * segment's end, in the runtime's structures below the arena, into the
 * writer's own blocks), future blocks made of garbage, and a publish of its
 * own block that never waits on a ring. Offsets point, by default, into the
 * writer's own memory, outside the segment or across its end; into the
 * runtime's structures only with --structs (and for dir, others); into
 * other clients' memory only for `others`. */
#ifndef CHI_TESTS_BUGGY_WORDS_H
#define CHI_TESTS_BUGGY_WORDS_H

#include "stress_util.h"

#include "chi/gpu/api.h"
#include "ipc/client.h"
#include "ipc/layout.h"
#include "shm/shm.h"
#include "task/future_ops.h"

enum {
	T_SLOTS, T_CLAIMS, T_HEADS, /* ring words: liveness reported (--strict: asserted) */
	T_FUTURES, T_COPY, T_DATA, T_CHUNKS, T_TABLE, T_LANES, T_GPU,
	T_NDEFAULT,
	T_DIR = T_NDEFAULT, T_WORKERS, T_OTHERS, T_N
};
static const char *const tname[T_N] = {"slots", "claims", "heads", "futures", "copy", "data", "chunks",
				       "table", "lanes", "gpu", "dir", "workers", "others"};


typedef struct gb {
	chi_client *c;
	uint64_t rng;
	uint8_t *base;
	uint8_t *rw;  /* a writable mapping of the same segment (RO1 makes the
		       * runtime's pages read-only in c's, RO2 other clients'
		       * entries): the dir, workers and table targets write
		       * through it */
	chi_seg rwseg;
	uint64_t size, arena_lo, clients_off;
	uint32_t maxc;
	int target;
	int structs; /* offsets may point into the runtime's structures too */
	uint8_t live0[CHI_MAX_CLIENTS]; /* entries of other clients (at start) */
	chi_gpu_client *gc;
	const chi_gpu_ctx *gx;
	uint64_t blk[64];     /* own future blocks */
	uint64_t dat[8], dsz[8];
	uint64_t writes, published;
} gb;

static uint64_t g_rand(gb *g, uint64_t lo, uint64_t hi)
{
	return st_range(&g->rng, lo, hi);
}

/* Client-table entry i, through c's mapping (read; its own entry written
 * here too) or the writable one (another client's entry, RO2) */
static chi_client_shm *g_entry(gb *g, uint32_t i)
{
	return chi_client_at(g->base, g->clients_off, i);
}
static chi_client_shm *g_entry_rw(gb *g, uint32_t i)
{
	return chi_client_at(g->rw, g->clients_off, i);
}

/* An offset into something of another client (a chunk of a LIVE entry that
 * is not ours), or 0. */
static uint64_t g_other_chunk(gb *g)
{
	for (int tries = 0; tries < 8; tries++) {
		uint32_t i = (uint32_t)g_rand(g, 0, g->maxc - 1);
		if (g->live0[i]) {
			uint64_t k = __atomic_load_n(&g_entry(g, i)->chunks, __ATOMIC_RELAXED);
			if (k && k < g->size)
				return k + 256 + g_rand(g, 0, 4095) * 256 % (1u << 20);
		}
	}
	return 0;
}

/* A garbage word: random, or one of the shapes bugs write. As an offset
 * into the main segment it lands outside the segment, across its end, in
 * the runtime's structures below the arena, or in the writer's own blocks;
 * only the `others` target aims into other clients' memory (a random
 * arena offset can be a chunk header or a block of the honest client, and
 * a worker that takes it for a future block writes a completion there). */
static uint64_t g_word(gb *g)
{
	switch (g_rand(g, 0, 11)) {
	case 0: return st_rand(&g->rng);
	case 1: return 0;
	case 2: return ~0ull;
	case 3: /* a small count (as an offset: the segment's header) */
		return g_rand(g, 0, 64) + (g->structs ? 0 : g->size);
	case 4: { /* a power of two, not into the arena (nor, without
		   * --structs, the runtime's structures) */
		uint64_t v = 1ull << g_rand(g, 0, 63);
		return v < g->size && (v >= g->arena_lo || !g->structs) ? g->size + v : v;
	}
	case 5: return g->size - 128 + g_rand(g, 0, 256); /* across the end */
	case 6: return g->blk[g_rand(g, 0, 63)] + g_rand(g, 0, 255); /* into an own block */
	case 7: return g->dat[g_rand(g, 0, 7)] + (g_rand(g, 0, 4095) & ~7ull);
	case 8: return g->blk[g_rand(g, 0, 63)];                     /* own block */
	case 9: /* the runtime's structures (directory, workers, lanes, slots,
		 * client table): with --structs, `dir`, `others` */
		if (g->structs)
			return g_rand(g, 64, g->arena_lo) & ~7ull;
		return g->size + g_rand(g, 0, 1ull << 20);
	case 10: return (uint64_t)(int64_t)-(int64_t)g_rand(g, 1, 4096);
	default:
		if (g->target == T_OTHERS) {
			uint64_t o = g_other_chunk(g);
			return o ? o : g_rand(g, g->arena_lo, g->size) & ~255ull; /* anywhere in the arena */
		}
		if (g->structs) /* a "block" among the runtime's words */
			return g_rand(g, 256, g->arena_lo) & ~255ull;
		return g->blk[g_rand(g, 0, 63)];
	}
}

/* The same for an offset into the writer's GPU segment: its own slice's
 * blocks and inboxes, the segment's header, directory, lanes and slots
 * (below the blocks), or past its end; anywhere only for `others`. */
static uint64_t g_gpu_word(gb *g)
{
	const chi_gpu_ctx *x = g->gx;
	uint64_t gsize = x->hdr->size;
	uint32_t idx = x->blk_base + (uint32_t)g_rand(g, 0, x->blk_count - 1);
	switch (g_rand(g, 0, 5)) {
	case 0: return chi_gpu_block_off(x, 0, idx);
	case 1: return chi_gpu_block_off(x, 0, idx) + g_rand(g, 1, 255);
	case 2: return x->inbox_off + (chi_gpu_block_off(x, 0, idx) - x->blocks_off);
	case 3: return g_rand(g, 0, x->blocks_off) & ~7ull;
	case 4: return gsize - 128 + g_rand(g, 0, 256);
	default: return g->target == T_OTHERS ? g_rand(g, 0, gsize) & ~255ull : gsize + g_word(g) % 4096;
	}
}

static chi_offptr g_offptr(gb *g)
{
	static const uint32_t segs[] = {CHI_SEG_ID_MAIN, CHI_SEG_ID_MAIN, CHI_SEG_ID_MAIN,
					CHI_SEG_ID_GPU_BASE, CHI_SEG_ID_GPU_BASE + 1, 0, 0xffff};
	uint32_t s = segs[g_rand(g, 0, sizeof(segs) / sizeof(segs[0]) - 1)];
	uint64_t off = s == CHI_SEG_ID_GPU_BASE && g->gx ? g_gpu_word(g) : g_word(g);
	return chi_offptr_make(s, off & ((1ull << 48) - 1));
}

static void g_st64(gb *g, uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
	g->writes++;
}

static void g_st32(gb *g, uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
	g->writes++;
}

/* Random bytes over [p, p + n) (whole words). */
static void g_fill(gb *g, void *p, size_t n)
{
	uint64_t *w = p;
	for (size_t i = 0; i < n / 8; i++)
		w[i] = g_rand(g, 0, 3) ? st_rand(&g->rng) : g_word(g);
	g->writes += n / 8;
}

/* A future block's header made of garbage (and its copy space, random or
 * a real task header with lying sizes). */
static void g_block(gb *g, chi_future_shm *f)
{
	static const uint64_t fl[] = {CHI_FUTURE_COPY_FROM_CLIENT, CHI_FUTURE_POINTER,
				      CHI_FUTURE_POINTER | CHI_FUTURE_COPY_FROM_CLIENT,
				      CHI_FUTURE_COMPLETE, CHI_FUTURE_ERROR, 0x10, 0x20, 0x30, ~0ull, 0};
	f->flags = g_rand(g, 0, 3) ? fl[g_rand(g, 0, 9)] : st_rand(&g->rng);
	f->result = (int64_t)g_word(g);
	f->futex = (uint32_t)g_word(g);
	f->waiters = (uint32_t)g_rand(g, 0, 2);
	f->out_size = (uint32_t)(g_rand(g, 0, 1) ? g_rand(g, 0, 300) : g_word(g));
	f->data_cap = (uint32_t)(g_rand(g, 0, 1) ? 0 : g_word(g));
	f->data = g_rand(g, 0, 2) ? 0 : g_offptr(g);
	f->task_ptr = g_word(g);
	f->client = (uint32_t)(g_rand(g, 0, 1) ? g->c->id : g_word(g));
	f->lane = (uint32_t)g_word(g);
	f->t_submit = g_word(g);
	if (g_rand(g, 0, 1)) {
		g_fill(g, f->copy_space, CHI_COPY_SPACE);
	} else {
		chi_task *t = (chi_task *)(void *)f->copy_space;
		t->pool = (uint32_t)g_rand(g, 0, 3);
		t->method = (uint16_t)g_rand(g, 0, 8);
		t->flags = (uint16_t)g_rand(g, 0, 3);
		t->in_size = (uint32_t)(g_rand(g, 0, 1) ? g_rand(g, 0, 200) : g_word(g));
		t->out_size = (uint32_t)(g_rand(g, 0, 1) ? g_rand(g, 0, 200) : g_word(g));
		g_fill(g, f->copy_space + 16, CHI_COPY_SPACE - 16);
	}
	g->writes += 12;
}

/* Publish own block `off` on a random CPU ring without waiting (a full or
 * wedged ring: skipped). */
static void g_publish(gb *g, uint64_t off)
{
	uint32_t lane = (uint32_t)g_rand(g, 0, g->c->nlanes - 1), prio = (uint32_t)g_rand(g, 0, 1);
	uint64_t t;
	chi_ring_view *r = &g->c->views[lane][prio];
	/* one look, not chi_ring_try_claim's loop: a ring our own garbage
	 * wedged must not hang the writer */
	t = __atomic_load_n(r->tail, __ATOMIC_RELAXED);
	uint64_t ctl = __atomic_load_n(&r->slots[t & r->mask].ctl, __ATOMIC_ACQUIRE);
	if (chi_slot_lap(ctl) != (uint32_t)(t >> r->shift) || chi_slot_state(ctl) != CHI_SLOT_EMPTY)
		return;
	if (!__atomic_compare_exchange_n(r->tail, &t, t + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return;
	chi_ring_mark(r, t, g->c->id);
	chi_ring_publish(r, t, chi_offptr_make(CHI_SEG_ID_MAIN, off),
			 g_rand(g, 0, 7) ? 1 : (uint32_t)g_rand(g, 1, 32), g->c->id);
	chi_client_wake_lane(g->c, lane);
	g->published++;
}

static const chi_gpu_dir *g_gpu_dir(gb *g)
{
	return (const chi_gpu_dir *)(const void *)(g->gx->base + g->gx->hdr->dir_off);
}

/* The GPU lane's header (its ring heads, counters). */
static chi_lane_shm *g_gpu_lane(gb *g)
{
	return (chi_lane_shm *)(void *)(g->gx->base + g_gpu_dir(g)->lanes_off);
}

/* A GPU ring as the writer sees it: a producer's view, with the head. */
static void g_gpu_ring(gb *g, uint32_t prio, chi_ring_view *v)
{
	chi_gpu_ring(g->gx, 0, prio, v);
	v->head = &g_gpu_lane(g)->ring[prio].head;
}

/* CHI_BC_CASE=k (writer only): always shape k of the target's switch, to
 * pin a finding down; unset: random. */
static int g_case = -1;

static uint64_t g_pick(gb *g, uint64_t n)
{
	return g_case >= 0 ? (uint64_t)g_case % (n + 1) : g_rand(g, 0, n);
}

#endif
