/* tests/buggy_rings.h: the garbage writer's targets in the rings and in
 * what their entries point at (tests/buggy_writer.h): ring slots (slots),
 * claim counters (claims), consumer heads (heads), the rest of the lane
 * records (lanes), its own future blocks published (futures), task headers
 * in copy space (copy), tasks in data blocks (data) and its GPU slice
 * (gpu). Each call is one burst of writes; what each target writes is
 * listed at the top of tests/fault_buggy_client.c. */
#ifndef CHI_TESTS_BUGGY_RINGS_H
#define CHI_TESTS_BUGGY_RINGS_H

#include "buggy_words.h"

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

/* A lane's record and its producers' half: a GPU lane's (both writable by
 * design), or a CPU lane's, whose runtime half is written through the
 * writable mapping (RO3: read-only in c's) */
static chi_lane_shm *g_lane(gb *g, chi_lane_prod **prod)
{
	if (g->gx && g_rand(g, 0, 3) == 0) {
		*prod = (chi_lane_prod *)(void *)(g->gx->base + chi_gpu_prods_off(g_gpu_dir(g)));
		return g_gpu_lane(g);
	}
	uint32_t i = (uint32_t)g_rand(g, 0, g->c->nlanes - 1);
	*prod = &g->c->prods[i];
	return (chi_lane_shm *)(void *)(g->rw + g->c->dir->lanes_off) + i;
}

static void t_lanes(gb *g)
{
	chi_lane_prod *prod;
	chi_lane_shm *l = g_lane(g, &prod);
	uint32_t p = (uint32_t)g_rand(g, 0, 1);
	switch (g_pick(g, 9)) {
	case 0: g_st64(g, &l->ring[p].claimed, g_word(g)); break;
	case 1: g_st64(g, &l->slots[p], g_word(g)); break;
	case 2: g_st32(g, &l->depth, (uint32_t)g_word(g)); break;
	case 3: g_st32(g, &l->shift, (uint32_t)g_rand(g, 0, 70)); break;
	case 4: g_st32(g, &l->worker, (uint32_t)g_word(g)); break;
	case 5: g_st32(g, &l->id, (uint32_t)g_word(g)); break;
	case 6: g_fill(g, &l->popped, 8 * 8); break; /* popped .. lat_sum */
	case 7: g_st64(g, &l->seal_waits, g_word(g)); break;
	case 8: g_st64(g, &prod->queue_full, g_word(g)); break;
	default: g_fill(g, l->lat_hist, sizeof(l->lat_hist)); break;
	}
	st_nap_us(g_rand(g, 0, 300));
}

/* The consumer's ring heads (ring.h C4), which the worker reads back. */
static void t_heads(gb *g)
{
	chi_lane_prod *prod;
	chi_lane_shm *l = g_lane(g, &prod);
	uint32_t p = (uint32_t)g_rand(g, 0, 1);
	chi_ring_hdr *r = &l->ring[p];
	uint64_t h = __atomic_load_n(&r->head, __ATOMIC_RELAXED);
	uint64_t *tail = &prod->ring[p].tail;
	switch (g_pick(g, 3)) {
	case 0: g_st64(g, &r->head, h + g_rand(g, 0, 2) - 1); break;
	case 1: g_st64(g, &r->head, g_word(g)); break;
	case 2: g_st64(g, &r->head, __atomic_load_n(tail, __ATOMIC_RELAXED)); break;
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

#endif
