/* tests/buggy_writer.h: the garbage writer of tests/fault_buggy_client.c
 * (its --garbage role): one function per target, each one burst of
 * writes, random words and the shapes bugs write (0, ~0, small counts,
 * powers of two, offsets at the segment's end, in the runtime's structures
 * below the arena, into the writer's own blocks); the targets and what
 * each writes are listed at the top of fault_buggy_client.c. The writer
 * touches only its own blocks, chunks, entries and GPU slice, and the
 * shared ring and lane words, unless the target is `others` (or `dir`,
 * `workers`: what only the runtime writes). */
#ifndef CHI_TESTS_BUGGY_WRITER_H
#define CHI_TESTS_BUGGY_WRITER_H

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
	uint64_t size, arena_lo;
	chi_client_shm *tab;
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

/* An offset into something of another client (a chunk of a LIVE entry that
 * is not ours), or 0. */
static uint64_t g_other_chunk(gb *g)
{
	for (int tries = 0; tries < 8; tries++) {
		uint32_t i = (uint32_t)g_rand(g, 0, g->maxc - 1);
		if (g->live0[i]) {
			uint64_t k = __atomic_load_n(&g->tab[i].chunks, __ATOMIC_RELAXED);
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

/* The GPU lane's header (its ring heads, counters). */
static chi_lane_shm *g_gpu_lane(gb *g)
{
	const chi_gpu_dir *d = (const chi_gpu_dir *)(const void *)(g->gx->base + g->gx->hdr->dir_off);
	return (chi_lane_shm *)(void *)(g->gx->base + d->lanes_off);
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

static void t_slots(gb *g)
{
	chi_ring_view gv, *r;
	uint32_t seg = CHI_SEG_ID_MAIN;
	if (g->gx && g_rand(g, 0, 3) == 0) {
		g_gpu_ring(g, (uint32_t)g_rand(g, 0, 1), &gv);
		r = &gv;
		seg = g->gx->seg_id;
	} else {
		r = &g->c->views[g_rand(g, 0, g->c->nlanes - 1)][g_rand(g, 0, 1)];
	}
	uint64_t h = __atomic_load_n(r->head, __ATOMIC_RELAXED);
	uint64_t t = g_rand(g, 0, 3) ? h + g_rand(g, 0, 3) : st_rand(&g->rng);
	chi_slot *s = &r->slots[t & r->mask];
	uint32_t lap = (uint32_t)(t >> r->shift);
	uint64_t ctl, ptr;
	switch (g_pick(g, 4)) {
	case 0: /* random */
		ctl = g_word(g);
		ptr = g_word(g);
		break;
	case 1: /* published, pointing at one of our garbage blocks */
		g_block(g, (chi_future_shm *)(g->base + g->blk[t & 63]));
		ctl = chi_slot_ctl(lap, CHI_SLOT_PUBLISHED, (uint32_t)g_rand(g, 1, 3), g->c->id);
		ptr = chi_offptr_make(CHI_SEG_ID_MAIN, g->blk[t & 63]);
		break;
	case 2: /* published, pointing anywhere */
		ctl = chi_slot_ctl(lap, CHI_SLOT_PUBLISHED, (uint32_t)g_rand(g, 1, 32),
				   (uint32_t)g_rand(g, 0, 300)) |
		      (g_rand(g, 0, 3) ? 0 : CHI_SLOT_SEALED);
		ptr = g_rand(g, 0, 1) || seg == CHI_SEG_ID_MAIN
			      ? g_offptr(g)
			      : chi_offptr_make(seg, g_gpu_word(g) & ((1ull << 48) - 1));
		break;
	case 3: /* claimed by someone, forever (a hole) */
		ctl = chi_slot_ctl(lap, CHI_SLOT_CLAIMED, 1,
				   g_rand(g, 0, 1) ? g->c->id : (uint32_t)g_rand(g, 0, 300));
		ptr = __atomic_load_n(&s->ptr, __ATOMIC_RELAXED);
		break;
	default: /* an old lap's word, or a lap from the future */
		ctl = chi_slot_ctl(lap + (uint32_t)g_rand(g, 0, 2) - 1, (uint32_t)g_rand(g, 0, 3),
				   (uint32_t)g_rand(g, 1, 32), (uint32_t)g_rand(g, 0, 300));
		ptr = g_offptr(g);
		break;
	}
	g_st64(g, &s->ptr, ptr);
	g_st64(g, &s->ctl, ctl);
}

static void t_claims(gb *g)
{
	chi_ring_view gv, *r;
	if (g->gx && g_rand(g, 0, 3) == 0) {
		g_gpu_ring(g, (uint32_t)g_rand(g, 0, 1), &gv);
		r = &gv;
	} else {
		r = &g->c->views[g_rand(g, 0, g->c->nlanes - 1)][g_rand(g, 0, 1)];
	}
	uint64_t t = __atomic_load_n(r->tail, __ATOMIC_RELAXED), v;
	switch (g_pick(g, 5)) {
	case 0: v = g_word(g); break;
	case 1: v = t - g_rand(g, 1, 3); break;          /* back: tickets handed out twice */
	case 2: v = t + g_rand(g, 1, 3); break;          /* ahead: holes nobody marked */
	case 3: v = t + (uint64_t)r->mask + 1; break;    /* a lap ahead */
	case 4: v = t - (uint64_t)r->mask - 1; break;    /* a lap back */
	default: v = 0; break;
	}
	g_st64(g, r->tail, v);
	st_nap_us(g_rand(g, 0, 2000)); /* let producers meet it */
}

static void t_futures(gb *g)
{
	uint64_t off = g->blk[g_rand(g, 0, 63)];
	chi_future_shm *f = (chi_future_shm *)(g->base + off);
	g_block(g, f);
	g_publish(g, off);
	/* rewrite it while the worker may be reading it */
	for (int i = 0; i < (int)g_rand(g, 0, 3); i++) {
		st_nap_us(g_rand(g, 0, 20));
		g_block(g, f);
	}
}

static void t_copy(gb *g)
{
	uint64_t off = g->blk[g_rand(g, 0, 63)];
	chi_future_shm *f = (chi_future_shm *)(g->base + off);
	chi_future_block_init(f, CHI_FUTURE_COPY_FROM_CLIENT, (uint32_t)g_rand(g, 0, 176), CHI_OFFPTR_NULL,
			      0, 0, g->c->id, 0);
	chi_task *t = (chi_task *)(void *)f->copy_space;
	chi_task_init(t, CHI_POOL_TEST, (uint16_t)g_rand(g, 0, CHI_TEST_NMETHODS), 0);
	t->in_size = (uint32_t)(g_rand(g, 0, 1) ? g_rand(g, 0, 180) : g_word(g));
	t->out_size = (uint32_t)(g_rand(g, 0, 1) ? g_rand(g, 0, 180) : g_word(g));
	uint32_t *p = (uint32_t *)(void *)(f->copy_space + 16);
	for (unsigned i = 0; i < (CHI_COPY_SPACE - 16) / 4; i++)
		p[i] = g_rand(g, 0, 1) ? (uint32_t)g_word(g) : (uint32_t)g_rand(g, 0, 400);
	g->writes += 50;
	g_publish(g, off);
}

static void t_data(gb *g)
{
	uint64_t off = g->blk[g_rand(g, 0, 63)];
	uint32_t k = (uint32_t)g_rand(g, 0, 7);
	chi_future_shm *f = (chi_future_shm *)(g->base + off);
	uint64_t d = g->dat[k];
	uint32_t cap = (uint32_t)g->dsz[k];
	chi_offptr dp = chi_offptr_make(CHI_SEG_ID_MAIN, d);
	switch (g_pick(g, 6)) {
	case 0: cap = (uint32_t)g_word(g); break;                      /* cap lies */
	case 1: dp = chi_offptr_make(CHI_SEG_ID_MAIN, g->size - g_rand(g, 1, 255)); break; /* across the end */
	case 2: /* into the runtime's structures (--structs), else past the end */
		dp = chi_offptr_make(CHI_SEG_ID_MAIN, g->structs ? g_rand(g, 0, g->arena_lo)
							      : g->size + g_rand(g, 0, 4096));
		break;
	case 3: dp = chi_offptr_make(CHI_SEG_ID_MAIN, g_word(g) & ((1ull << 48) - 1)); break;
	case 4: dp = chi_offptr_make(CHI_SEG_ID_MAIN, off); break;     /* the block itself */
	case 5: dp = g_offptr(g); break;
	default: break;                                                 /* honest shape */
	}
	chi_future_block_init(f, CHI_FUTURE_COPY_FROM_CLIENT, (uint32_t)g_rand(g, 0, cap ? cap : 1), dp,
			      cap, 0, g->c->id, 0);
	uint8_t *w = g->base + d;
	chi_task_init((chi_task *)(void *)w, CHI_POOL_TEST,
		      g_rand(g, 0, 1) ? CHI_TEST_ECHO : (uint16_t)g_rand(g, 0, 6), 0);
	((chi_task *)(void *)w)->in_size = (uint32_t)(g_rand(g, 0, 1) ? g_rand(g, 0, g->dsz[k]) : g_word(g));
	((chi_task *)(void *)w)->out_size = (uint32_t)(g_rand(g, 0, 1) ? g_rand(g, 0, g->dsz[k]) : g_word(g));
	uint32_t *len = (uint32_t *)(void *)(w + 16);
	*len = (uint32_t)(g_rand(g, 0, 1) ? g_rand(g, 0, g->dsz[k]) : g_word(g));
	g_fill(g, w + 24, g_rand(g, 0, 1) ? 64 : g->dsz[k] - 24);
	g_publish(g, off);
	for (int i = 0; i < (int)g_rand(g, 0, 4); i++) { /* rewritten while it runs */
		st_nap_us(g_rand(g, 0, 30));
		g_st32(g, len, (uint32_t)g_word(g));
		g_st32(g, &f->data_cap, (uint32_t)g_word(g));
	}
}

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
	chi_client_shm *e = &g->tab[i];
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

static void t_lanes(gb *g)
{
	chi_lane_shm *l;
	if (g->gx && g_rand(g, 0, 3) == 0) {
		l = g_gpu_lane(g);
	} else {
		l = &g->c->lanes[g_rand(g, 0, g->c->nlanes - 1)];
	}
	uint32_t p = (uint32_t)g_rand(g, 0, 1);
	switch (g_pick(g, 7)) {
	case 0: g_st64(g, &l->ring[p].claimed, g_word(g)); break;
	case 1: g_st64(g, &l->slots[p], g_word(g)); break;
	case 2: g_st32(g, &l->depth, (uint32_t)g_word(g)); break;
	case 3: g_st32(g, &l->shift, (uint32_t)g_rand(g, 0, 70)); break;
	case 4: g_st32(g, &l->worker, (uint32_t)g_word(g)); break;
	case 5: g_st32(g, &l->id, (uint32_t)g_word(g)); break;
	case 6: g_fill(g, &l->popped, 8 * 8); break; /* popped .. lat_sum */
	default: g_fill(g, l->lat_hist, sizeof(l->lat_hist)); break;
	}
	st_nap_us(g_rand(g, 0, 300));
}

/* The consumer's ring heads (ring.h C4), which the worker reads back. */
static void t_heads(gb *g)
{
	chi_lane_shm *l = g->gx && g_rand(g, 0, 3) == 0 ? g_gpu_lane(g)
							: &g->c->lanes[g_rand(g, 0, g->c->nlanes - 1)];
	chi_ring_hdr *r = &l->ring[g_rand(g, 0, 1)];
	uint64_t h = __atomic_load_n(&r->head, __ATOMIC_RELAXED);
	switch (g_pick(g, 3)) {
	case 0: g_st64(g, &r->head, h + g_rand(g, 0, 2) - 1); break;
	case 1: g_st64(g, &r->head, g_word(g)); break;
	case 2: g_st64(g, &r->head, __atomic_load_n(&r->tail, __ATOMIC_RELAXED)); break;
	default: g_st64(g, &r->head, h + g_rand(g, 2, 200)); break;
	}
	st_nap_us(g_rand(g, 0, 2000));
}

static void t_gpu(gb *g)
{
	const chi_gpu_ctx *x = g->gx;
	if (!x)
		return;
	uint32_t idx = x->blk_base + (uint32_t)g_rand(g, 0, x->blk_count - 1);
	uint64_t off = chi_gpu_block_off(x, 0, idx);
	uint64_t *inbox = (uint64_t *)(void *)(x->base + x->inbox_off + (off - x->blocks_off));
	switch (g_rand(g, 0, 3)) {
	case 0: g_fill(g, inbox, CHI_SEAL_BYTES); break;
	case 1: /* marked words: a header that lies */
		for (uint32_t w = 0; w < CHI_SEAL_WORDS; w++)
			inbox[w] = ((uint64_t)CHI_SEAL_MARK << 32) | (uint32_t)g_word(g);
		g->writes += CHI_SEAL_WORDS;
		break;
	case 2: g_block(g, (chi_future_shm *)(void *)(x->base + off)); break;
	default:
		if (x->dc[0].count) { /* one of our 4 KiB data blocks */
			uint32_t di = x->dc[0].base + (uint32_t)g_rand(g, 0, x->dc[0].count - 1);
			g_fill(g, x->base + x->dc[0].off + (uint64_t)di * x->dc[0].size, 512);
		}
		break;
	}
	/* publish an entry: our block, sealed or not, or somewhere else */
	chi_ring_view v;
	uint32_t prio = (uint32_t)g_rand(g, 0, 1);
	chi_gpu_ring(x, 0, prio, &v);
	uint64_t t = chi_ring_claim(&v);
	chi_ring_mark(&v, t, x->client);
	chi_offptr p = g_rand(g, 0, 2) ? chi_offptr_make(x->seg_id, off)
		       : g_rand(g, 0, 1) ? chi_offptr_make(x->seg_id, g_gpu_word(g) & ((1ull << 48) - 1))
					 : chi_offptr_make(CHI_SEG_ID_MAIN, g_word(g) & ((1ull << 48) - 1));
	if (g_rand(g, 0, 1))
		chi_ring_publish_sealed(&v, t, p, x->client);
	else
		chi_ring_publish(&v, t, p, g_rand(g, 0, 3) ? 1 : (uint32_t)g_rand(g, 2, 32), x->client);
	g->published++;
	st_nap_us(g_rand(g, 0, 200));
}

static void t_dir(gb *g)
{
	chi_main_dir *d = g->c->dir;
	chi_seg_hdr *h = g->c->hdr;
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
	chi_worker_shm *w = &g->c->workers[g_rand(g, 0, g->c->dir->nworkers - 1)];
	switch (g_pick(g, 5)) {
	case 0: g_st32(g, &w->sleeping, (uint32_t)g_rand(g, 0, 2)); break;
	case 1: g_st32(g, &w->sleep_futex, (uint32_t)g_word(g)); break;
	case 2: g_st64(g, &w->task_seq, g_word(g)); break;
	case 3: g_st64(g, &w->handed, g_word(g)); break;
	case 4: g_st64(g, &w->handled, g_word(g)); break;
	default: g_fill(g, &w->task_seq, 64); break;
	}
	st_nap_us(g_rand(g, 0, 1000));
}

static void t_others(gb *g, const char *name)
{
	switch (g_rand(g, 0, 3)) {
	case 0: t_table(g); break;
	case 1: t_chunks(g, name); break;
	case 2: t_slots(g); break; /* g_word aims at other clients' chunks */
	default: t_data(g); break;
	}
}

static int garbage_main(const char *name, int target, uint64_t ms, uint64_t seed)
{
	st_child_init();
	chi_gpu_simulate(1);
	const char *cs = getenv("CHI_BC_CASE");
	if (cs && *cs)
		g_case = atoi(cs);
	gb *g = calloc(1, sizeof(*g));
	if (!g || st_connect_within(name, &g->c, 5000))
		_exit(2); /* (the table full of our own garbage, say) */
	g->rng = seed;
	g->target = target;
	const char *st = getenv("CHI_BC_STRUCTS");
	g->structs = (st && *st == '1') || target == T_DIR || target == T_OTHERS;
	g->base = g->c->base;
	g->size = g->c->hdr->size;
	g->tab = (chi_client_shm *)(void *)(g->base + g->c->dir->clients_off);
	g->maxc = g->c->dir->max_clients;
	g->arena_lo = (g->c->dir->clients_off + CHI_MAX_CLIENTS * sizeof(chi_client_shm) + 4095) & ~4095ull;
	for (uint32_t i = 0; i < g->maxc; i++)
		g->live0[i] = g->tab[i].state == CHI_CLIENT_LIVE && i + 1 != g->c->id;
	for (int i = 0; i < 64; i++)
		g->blk[i] = chi_client_alloc(g->c, CHI_FUTURE_BLOCK);
	for (int i = 0; i < 8; i++) {
		g->dsz[i] = 4096ull << (i % 4);
		g->dat[i] = chi_client_alloc(g->c, g->dsz[i]);
	}
	if (!test_gpu_open_within(g->c, 0, &g->gc, 2000))
		g->gx = chi_gpu_client_ctx(g->gc);
	/* chunks and table: short lives, so the lists and entries it leaves
	 * are walked by the reaper when it dies, and it starts again */
	if ((target == T_CHUNKS || target == T_TABLE || target == T_OTHERS) && ms > 300)
		ms = 300;
	uint64_t end = st_now_ns() + ms * 1000000u, n = 0;
	while (st_now_ns() < end) {
		switch (target) {
		case T_SLOTS: t_slots(g); break;
		case T_CLAIMS: t_claims(g); break;
		case T_FUTURES: t_futures(g); break;
		case T_COPY: t_copy(g); break;
		case T_DATA: t_data(g); break;
		case T_CHUNKS: t_chunks(g, name); break;
		case T_TABLE: t_table(g); break;
		case T_LANES: t_lanes(g); break;
		case T_HEADS: t_heads(g); break;
		case T_GPU: t_gpu(g); break;
		case T_DIR: t_dir(g); break;
		case T_WORKERS: t_workers(g); break;
		default: t_others(g, name); break;
		}
		if (++n % 16 == 0)
			st_nap_us(100); /* a buggy client, not a busy loop that starves the rest */
	}
	printf("writes %llu published %llu\n", (unsigned long long)g->writes,
	       (unsigned long long)g->published);
	fflush(stdout);
	_exit(0); /* no close: its entry turns DEAD, its chunk list is walked */
}

#endif
