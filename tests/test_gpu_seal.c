/* tests/test_gpu_seal.c: sealed entries (include/chi/proto/seal.h), the GPU
 * single-task path with no fence before its publish, driven by CPU threads
 * on a simulated GPU. The stores a GPU may reorder are made here in the
 * worst orders by hand: the publish before the pointer, the pointer before
 * the words, the words last to first; a stale completion from the block's
 * previous use; a header that lies; a client killed halfway. Label
 * gpu_protocol: it runs in CI, where there is no GPU. */
#include "test_util.h"
#include "gpu_test_util.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gpu/gpu.h"
#include "ipc/client.h"
#include "runtime/runtime.h"
#include "runtime/stats.h"
#include "../tools/stats_format.c"
#include "../tools/stats_prom.c"

static char self_path[4096];
extern char **environ;

static chi_runtime *start(void)
{
	chi_gpu_simulate(1);
	chi_config cfg;
	test_config(&cfg, 1, 0, 256);
	cfg.gpu_lanes = 1;
	cfg.gpu_queue_depth = 64;
	cfg.gpu_segment_size = 16u << 20;
	cfg.gpu_clients = 1;
	cfg.hole_timeout_ms = 50;
	chi_runtime *rt;
	assert_int_equal(chi_runtime_start(&cfg, &rt), 0);
	return rt;
}

static uint64_t blk_off(const chi_gpu_ctx *x, uint32_t idx)
{
	return chi_gpu_block_off(x, 0, idx);
}
static uint64_t *inbox_of(const chi_gpu_ctx *x, uint32_t idx)
{
	return (uint64_t *)(void *)(x->base + x->inbox_off + (uint64_t)idx * CHI_SEAL_BYTES);
}

static int done_within(const chi_gpu_future *f, int ms)
{
	for (int i = 0; i < ms; i++) {
		if (chi_gpu_future_test(f))
			return 1;
		test_nap_ms(1);
	}
	return chi_gpu_future_test(f);
}

/* Every reordering a GPU may show, one step at a time: the worker must not
 * take the entry until the last word arrived, and the waiter must not take
 * the previous use's completion for its own. */
static void test_sealed_out_of_order(void **state)
{
	(void)state;
	chi_runtime *rt = start();
	chi_gpu_client *gc;
	assert_int_equal(chi_gpu_client_open(chi_runtime_client(rt), 0, &gc), 0);
	const chi_gpu_ctx *x = chi_gpu_client_ctx(gc);
	chi_lane_shm *ls = test_gpu_lane(x, 0);
	uint32_t idx = x->blk_base, other = x->blk_base + 1;
	chi_future_shm *fs = (chi_future_shm *)(void *)(x->base + blk_off(x, idx));
	/* the block's previous use: completed, result 999 */
	fs->result = 999;
	__atomic_store_n(&fs->flags, CHI_FUTURE_COPY_FROM_CLIENT | CHI_FUTURE_COMPLETE,
			 __ATOMIC_RELEASE);
	chi_test_double_plus_task t;
	uint32_t pay[CHI_SEAL_WORDS];
	uint32_t n = test_seal_payload(&t, 21, pay);
	assert_true(n > 4);
	chi_ring_view v;
	chi_gpu_ring(x, 0, 0, &v);
	uint64_t ticket = chi_ring_claim(&v);
	chi_ring_mark(&v, ticket, x->client);
	uint64_t tag = chi_seal_tag(ticket, 0);
	chi_gpu_future f = {fs, 0, idx | CHI_GPU_OWNED, CHI_GPU_NO_DATA, 0, tag};
	/* the publish lands first, before the pointer (0: the consumer
	 * cleared it when it freed the slot, C3) */
	chi_ring_publish_sealed(&v, ticket, CHI_OFFPTR_NULL, x->client);
	/* another block's inbox complete meanwhile: not this entry's */
	chi_seal_write(inbox_of(x, other), pay, n);
	assert_false(done_within(&f, 30));
	/* the stale completion is not this use's */
	uint64_t fl;
	int64_t r;
	chi_future_pair(fs, &fl, &r);
	assert_true(fl & CHI_FUTURE_COMPLETE);
	assert_false(chi_seal_done(fl, tag));
	/* then the pointer, still without words */
	chi_st_rlx_u64(&v.slots[ticket & v.mask].ptr, chi_offptr_make(x->seg_id, blk_off(x, idx)));
	assert_false(done_within(&f, 30));
	/* then the words, last first: nothing runs before the first lands */
	for (uint32_t k = n; k-- > 1;) {
		chi_seal_write(inbox_of(x, idx) + k, pay + k, 1);
		assert_false(done_within(&f, 10));
	}
	assert_int_equal(ls[0].completed, 0);
	/* a word without the mark is not there yet */
	__atomic_store_n(inbox_of(x, idx), (uint64_t)pay[0] | (uint64_t)(CHI_SEAL_MARK ^ 1u) << 32,
			 __ATOMIC_RELAXED);
	assert_false(done_within(&f, 30));
	chi_seal_write(inbox_of(x, idx), pay, 1);
	assert_true(done_within(&f, 5000));
	assert_int_equal(chi_gpu_future_wait(x, &f, &t.hdr, chi_test_double_plus_de_out, 0), 42);
	assert_int_equal(t.result, 42);
	assert_int_equal(ls[0].completed, 1);
	assert_int_equal(ls[0].errors, 0);
	/* the worker found the entry at head before its words, and counted it;
	 * chi stats shows the count */
	uint64_t sw = __atomic_load_n(&ls[0].seal_waits, __ATOMIC_RELAXED);
	assert_true(sw > 0);
	chi_stats_snapshot st;
	assert_int_equal(chi_stats_query(chi_runtime_client(rt), "t", &st), 0);
	assert_int_equal(st.st->lanes[rt->self.nlanes].gpu, 1);
	assert_int_equal(st.st->lanes[rt->self.nlanes].seal_waits, sw);
	chi_stats_free(&st);
	for (uint32_t k = 0; k < CHI_SEAL_WORDS; k++) /* U4: consumed words zeroed */
		assert_int_equal(inbox_of(x, idx)[k], 0);
	assert_int_equal(v.slots[ticket & v.mask].ptr, 0); /* C3 */
	assert_true(inbox_of(x, other)[0] != 0); /* the other block untouched */
	memset(inbox_of(x, other), 0, CHI_SEAL_BYTES);
	/* the block is usable again through the API, sealed */
	assert_int_equal(chi_gpu_make_copy_future_at(x, 0, 0, &t.hdr, chi_test_double_plus_ser_in,
						     &f), 0);
	assert_true(f.tag != 0);
	assert_int_equal(chi_gpu_future_wait(x, &f, &t.hdr, chi_test_double_plus_de_out, 0), 42);
	chi_gpu_client_close(gc);
	chi_runtime_stop(rt);
}

/* A header whose in_size exceeds what an inbox holds: the task fails with
 * -EBADMSG, the lane goes on. */
static void test_sealed_header_lies(void **state)
{
	(void)state;
	chi_runtime *rt = start();
	chi_gpu_client *gc;
	assert_int_equal(chi_gpu_client_open(chi_runtime_client(rt), 0, &gc), 0);
	const chi_gpu_ctx *x = chi_gpu_client_ctx(gc);
	uint32_t idx = x->blk_base + 2;
	chi_test_double_plus_task t;
	uint32_t pay[CHI_SEAL_WORDS];
	test_seal_payload(&t, 3, pay);
	pay[2] = CHI_SEAL_MAX_IN + 4; /* chi_task.in_size */
	chi_seal_write(inbox_of(x, idx), pay, 4);
	chi_seal_write(inbox_of(x, idx) + 9, pay, 1); /* past what the header can say */
	chi_ring_view v;
	chi_gpu_ring(x, 0, 0, &v);
	uint64_t ticket = chi_ring_claim(&v);
	uint64_t tag = chi_seal_tag(ticket, 0);
	chi_ring_publish_sealed(&v, ticket, chi_offptr_make(x->seg_id, blk_off(x, idx)), x->client);
	chi_gpu_future f = {(chi_future_shm *)(void *)(x->base + blk_off(x, idx)), 0,
			    idx | CHI_GPU_OWNED, CHI_GPU_NO_DATA, 0, tag};
	assert_int_equal(chi_gpu_future_wait(x, &f, &t.hdr, chi_test_double_plus_de_out,
					     5000000000ull), -EBADMSG);
	for (uint32_t k = 0; k < CHI_SEAL_WORDS; k++) /* all of a liar's words zeroed */
		assert_int_equal(inbox_of(x, idx)[k], 0);
	assert_int_equal(test_gpu_double_plus(x, 4), 8);
	chi_gpu_client_close(gc);
	chi_runtime_stop(rt);
}

/* Sealed and fenced paths give the same bytes, across the inbox's limit
 * (echo: 4 length bytes + data; 108 data bytes is the largest sealed). */
static void test_sealed_and_fenced_agree(void **state)
{
	(void)state;
	chi_runtime *rt = start();
	chi_gpu_client *gc;
	assert_int_equal(chi_gpu_client_open(chi_runtime_client(rt), 0, &gc), 0);
	const chi_gpu_ctx *x = chi_gpu_client_ctx(gc);
	uint8_t in[160], out[160];
	for (uint32_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + 3);
	const uint32_t sizes[] = {0, 1, 3, 4, 5, 60, 107, 108, 109, 120, 160};
	for (uint32_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
		for (int fenced = 0; fenced < 2; fenced++) {
			chi_test_echo_task e;
			chi_gpu_future f;
			memset(&f, 0, sizeof(f)); /* gcc cannot see that the assert guards the wait */
			memset(out, 0xee, sizeof(out));
			chi_test_echo_init(&e, CHI_POOL_TEST, in, sizes[k], out, sizes[k]);
			/* seal 0: the fenced path for a task that would travel sealed */
			assert_int_equal(chi_gpu_submit_pool(x, 0, &e.hdr, chi_test_echo_ser_in, &f,
							     !fenced),
					 0);
			int sealed = !fenced && chi_seal_fits(e.hdr.in_size, e.hdr.out_size);
			assert_int_equal(f.tag != 0, sealed);
			if (!fenced)
				assert_int_equal(sealed, sizes[k] <= 60); /* output must fit too */
			assert_int_equal(chi_gpu_future_wait(x, &f, &e.hdr, chi_test_echo_de_out, 0),
					 sizes[k]);
			assert_memory_equal(out, in, sizes[k]);
			assert_int_equal(out[sizes[k] < sizeof(out) ? sizes[k] : 0],
					 sizes[k] < sizeof(out) ? 0xee : in[0]);
		}
	chi_gpu_client_close(gc);
	chi_runtime_stop(rt);
}

/* Sizes near 4 GiB come out too large, not wrapped to small: -EMSGSIZE on
 * every submit path, before anything is staged or claimed (the serializer,
 * which would write past a small stage, is never called). */
static int ser_never(chi_ar *a, const chi_task *t)
{
	(void)a;
	(void)t;
	fail_msg("serializer called for a task that cannot fit");
	return -EINVAL;
}

static void test_sizes_near_4g_refused(void **state)
{
	(void)state;
	chi_runtime *rt = start();
	chi_gpu_client *gc;
	assert_int_equal(chi_gpu_client_open(chi_runtime_client(rt), 0, &gc), 0);
	const chi_gpu_ctx *x = chi_gpu_client_ctx(gc);
	chi_ring_view v;
	chi_gpu_ring(x, 0, 0, &v);
	uint64_t tail = chi_ring_claim(&v) + 1; /* what the next claim would take */
	chi_ring_publish(&v, tail - 1, CHI_OFFPTR_NULL, 1, x->client); /* a no-op entry */
	const uint32_t bad[][2] = {{0xfffffff0u, 0}, {0xfffffff9u, 8}, {8, 0xfffffff8u},
				   {0x7fffffffu, 0x7fffffffu}};
	for (uint32_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		chi_task t;
		chi_task_init(&t, CHI_POOL_TEST, CHI_TEST_ECHO, 0);
		t.in_size = bad[k][0];
		t.out_size = bad[k][1];
		chi_gpu_future f;
		assert_int_equal(chi_gpu_make_copy_future(x, 0, &t, ser_never, &f), -EMSGSIZE);
		assert_int_equal(chi_gpu_submit_pool(x, 0, &t, ser_never, &f, 0), -EMSGSIZE);
		assert_int_equal(chi_gpu_submit_owned(x, 0, 7, &t, ser_never, &f, 0), -EMSGSIZE);
		assert_int_equal(chi_gpu_make_copy_future_at(x, 0, 7, &t, ser_never, &f),
				 -EMSGSIZE);
	}
	assert_int_equal(chi_ring_claim(&v), tail); /* nothing claimed meanwhile */
	chi_ring_publish(&v, tail, CHI_OFFPTR_NULL, 1, x->client);
	assert_int_equal(test_gpu_double_plus(x, 6), 12); /* the lane goes on */
	chi_gpu_client_close(gc);
	chi_runtime_stop(rt);
}

/* A fenced entry whose pointer is inside the segment but not one of the
 * lane's future blocks (here: an inbox): dropped, nothing written there,
 * and the lane goes on (before, the worker ran whatever it found and wrote
 * its completion pair over the target). */
static void test_entry_outside_lane_blocks(void **state)
{
	(void)state;
	chi_runtime *rt = start();
	chi_gpu_client *gc;
	assert_int_equal(chi_gpu_client_open(chi_runtime_client(rt), 0, &gc), 0);
	const chi_gpu_ctx *x = chi_gpu_client_ctx(gc);
	uint8_t *target = (uint8_t *)inbox_of(x, x->blk_base + 5), saved[CHI_SEAL_BYTES];
	for (uint32_t i = 0; i < CHI_SEAL_BYTES; i++)
		target[i] = (uint8_t)(0xa5 ^ i);
	memcpy(saved, target, sizeof(saved));
	chi_ring_view v;
	chi_gpu_ring(x, 0, 0, &v);
	uint64_t t = chi_ring_claim(&v);
	chi_ring_publish(&v, t, chi_offptr_make(x->seg_id, (uint64_t)(target - x->base)), 1,
			 x->client);
	assert_int_equal(test_gpu_double_plus(x, 8), 16); /* ran after the bad entry */
	assert_memory_equal(target, saved, sizeof(saved));
	memset(target, 0, CHI_SEAL_BYTES);
	chi_gpu_client_close(gc);
	chi_runtime_stop(rt);
}

/* A client that closes after a kernel wrote a block's inbox words but never
 * claimed (a sticky error between Z2 and Z3): its slice goes back with the
 * inboxes zeroed, so the marked words cannot pass for the next client's. */
static void test_close_zeroes_inboxes(void **state)
{
	(void)state;
	chi_runtime *rt = start();
	chi_gpu_client *gc;
	assert_int_equal(chi_gpu_client_open(chi_runtime_client(rt), 0, &gc), 0);
	const chi_gpu_ctx *x = chi_gpu_client_ctx(gc);
	chi_test_double_plus_task t;
	uint32_t pay[CHI_SEAL_WORDS];
	uint32_t n = test_seal_payload(&t, 3, pay);
	uint32_t idx = x->blk_base + 9;
	chi_seal_write(inbox_of(x, idx), pay, n);
	chi_gpu_seg *s = &((chi_gpu_state *)rt->gpu)->segs[0];
	const uint64_t *ib = (const uint64_t *)(const void *)((char *)s->seg.base +
							      s->dir->inbox_off + (uint64_t)idx *
							      CHI_SEAL_BYTES);
	assert_true(ib[0] != 0);
	chi_gpu_client_close(gc);
	assert_int_equal(__atomic_load_n(&s->dir->slice_owner[0], __ATOMIC_ACQUIRE), 0);
	for (uint32_t k = 0; k < CHI_SEAL_WORDS; k++)
		assert_int_equal(ib[k], 0);
	chi_runtime_stop(rt);
}

/* A GPU client publishes a sealed entry and is killed before its last word:
 * a hole of that client, skipped once it is dead; the entry behind it runs;
 * the slice comes back with its inboxes zeroed. */
static int child(const char *name)
{
	chi_gpu_simulate(1);
	chi_client *c;
	chi_gpu_client *gc;
	if (chi_client_connect(name, &c) || chi_gpu_client_open(c, 0, &gc))
		return 2;
	const chi_gpu_ctx *x = chi_gpu_client_ctx(gc);
	chi_test_double_plus_task t;
	uint32_t pay[CHI_SEAL_WORDS];
	uint32_t n = test_seal_payload(&t, 9, pay);
	uint32_t idx = x->blk_base + 5;
	chi_seal_write(inbox_of(x, idx), pay, n - 1);
	chi_ring_view v;
	chi_gpu_ring(x, 0, 0, &v);
	uint64_t ticket = chi_ring_claim(&v);
	chi_ring_mark(&v, ticket, x->client);
	chi_ring_publish_sealed(&v, ticket, chi_offptr_make(x->seg_id, blk_off(x, idx)), x->client);
	raise(SIGKILL);
	return 3;
}

static void test_sealed_killed_client(void **state)
{
	(void)state;
#if defined(CHI_TSAN)
	skip(); /* cross-process: TSan cannot see synchronization through shared memory */
#endif
	chi_runtime *rt = start();
	pid_t pid;
	char *argv[] = {self_path, (char *)"--child", (char *)chi_runtime_config(rt)->name, NULL};
	assert_int_equal(posix_spawn(&pid, self_path, NULL, NULL, argv, environ), 0);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	chi_gpu_seg *s = &((chi_gpu_state *)rt->gpu)->segs[0];
	chi_lane_shm *ls = (chi_lane_shm *)((char *)s->seg.base + s->dir->lanes_off);
	const uint64_t *ib = (const uint64_t *)(const void *)((char *)s->seg.base +
							      s->dir->inbox_off + 5 * CHI_SEAL_BYTES);
	assert_true(ib[0] != 0); /* the dead client's words are there */
	/* the slice comes back once the hole is skipped: a new client submits */
	chi_gpu_client *gc = NULL;
	assert_int_equal(test_gpu_open_within(chi_runtime_client(rt), 0, &gc, 5000), 0);
	assert_int_equal(ls[0].holes_skipped, 1);
	for (uint32_t k = 0; k < CHI_SEAL_WORDS; k++)
		assert_int_equal(ib[k], 0);
	assert_int_equal(test_gpu_double_plus(chi_gpu_client_ctx(gc), 5), 10);
	chi_gpu_client_close(gc);
	chi_runtime_stop(rt);
}

/* GPU lanes in `chi stats`: after the CPU lanes, marked with their GPU,
 * their completions and errors counted (admin.stats, all three formats). */
static void test_gpu_lanes_in_stats(void **state)
{
	(void)state;
	chi_runtime *rt = start();
	chi_client *c = chi_runtime_client(rt);
	chi_gpu_client *gc;
	assert_int_equal(chi_gpu_client_open(c, 0, &gc), 0);
	const chi_gpu_ctx *x = chi_gpu_client_ctx(gc);
	for (int64_t v = 1; v <= 5; v++)
		assert_int_equal(test_gpu_double_plus(x, v), 2 * v);
	chi_test_double_plus_task t;
	chi_gpu_future f;
	memset(&f, 0, sizeof(f));
	chi_test_double_plus_init(&t, CHI_POOL_TEST, 1, 0);
	t.hdr.method = 99;
	assert_int_equal(chi_gpu_make_copy_future(x, 0, &t.hdr, chi_test_double_plus_ser_in, &f), 0);
	assert_int_equal(chi_gpu_future_wait(x, &f, &t.hdr, 0, 0), -ENOSYS);
	chi_stats_snapshot s;
	assert_int_equal(chi_stats_query(c, "t", &s), 0);
	uint32_t ncpu = rt->self.nlanes;
	assert_int_equal(s.st->nlanes, ncpu + 1);
	for (uint32_t i = 0; i < ncpu; i++)
		assert_int_equal(s.st->lanes[i].gpu, 0);
	const chi_lane_stats *g = &s.st->lanes[ncpu];
	assert_int_equal(g->gpu, 1);
	assert_int_equal(g->completed, 6);
	assert_int_equal(g->errors, 1);
	assert_int_equal(g->depth, 0);
	static char buf[1 << 16];
	chi_cli_stats_prometheus(&s, buf, sizeof(buf));
	char want[128];
	snprintf(want, sizeof(want),
		 "chi_lane_tasks_completed_total{runtime=\"t\",lane=\"%u\",queue=\"gpu0\"} 6\n", ncpu);
	assert_non_null(strstr(buf, want));
	chi_cli_stats_json(&s, buf, sizeof(buf));
	snprintf(want, sizeof(want), "{\"lane\":%u,\"gpu\":0,", ncpu);
	assert_non_null(strstr(buf, want));
	assert_non_null(strstr(buf, "{\"lane\":0,\"gpu\":null,")); /* a CPU lane: no GPU */
	chi_cli_stats_table(&s, buf, sizeof(buf));
	assert_non_null(strstr(buf, " gpu0 "));
	chi_stats_free(&s);
	chi_gpu_client_close(gc);
	chi_runtime_stop(rt);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--child"))
		return child(argv[2]);
	if (test_self_exe(self_path, sizeof(self_path)))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sealed_out_of_order),
		cmocka_unit_test(test_sealed_header_lies),
		cmocka_unit_test(test_sealed_and_fenced_agree),
		cmocka_unit_test(test_sealed_killed_client),
		cmocka_unit_test(test_sizes_near_4g_refused),
		cmocka_unit_test(test_close_zeroes_inboxes),
		cmocka_unit_test(test_entry_outside_lane_blocks),
		cmocka_unit_test(test_gpu_lanes_in_stats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
