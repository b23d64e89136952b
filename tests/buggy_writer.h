/* tests/buggy_writer.h: the garbage writer of tests/fault_buggy_client.c
 * (its --garbage role): a client that runs one target's bursts of writes
 * (tests/buggy_rings.h, tests/buggy_tables.h; the words they write:
 * tests/buggy_words.h) for its time and prints how many words it wrote and
 * entries it published; the targets and what each writes are listed at the
 * top of fault_buggy_client.c. The writer touches only its own blocks,
 * chunks, entries and GPU slice, and the shared ring and lane words,
 * unless the target is `others` (or `dir`, `workers`: what only the
 * runtime writes). */
#ifndef CHI_TESTS_BUGGY_WRITER_H
#define CHI_TESTS_BUGGY_WRITER_H

#include "test_util.h"

#include "buggy_rings.h"
#include "buggy_tables.h"

/* others: the table, chunks, slots and data targets, with g_word and the
 * links aimed at other clients' chunks and entries too */
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
	char sn[CHI_SEG_NAME_MAX];
	if (chi_shm_name(sn, sizeof(sn), name, "main", -1) || chi_seg_open(&g->rwseg, sn))
		_exit(2);
	g->rw = g->rwseg.base;
	g->size = g->c->hdr->size;
	g->clients_off = g->c->dir->clients_off;
	g->maxc = g->c->dir->max_clients;
	g->arena_lo = (g->clients_off + (uint64_t)CHI_MAX_CLIENTS * CHI_CLIENT_STRIDE + 4095) & ~4095ull;
	for (uint32_t i = 0; i < g->maxc; i++)
		g->live0[i] = g_entry(g, i)->state == CHI_CLIENT_LIVE && i + 1 != g->c->id;
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
