/* tests/test_gpu_protocol.c: the GPU submission path with simulated GPUs
 * (chi_gpu_simulate: "device" memory is host memory), driven by CPU threads
 * running the very CHI_HD code kernels run (include/chi/gpu/api.h): per-GPU
 * segments and lanes, device-side block pools, fetch_add claims, publication,
 * the worker's processing and the 16-byte completion read. Label
 * gpu_protocol: it runs in CI, where there is no GPU. */
#include "test_util.h"
#include "gpu_test_util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chi/gpu/api.h"
#include "chi/modules/test.h"
#include "gpu/gpu.h"
#include "ipc/client.h"
#include "runtime/runtime.h"

static uint32_t hole_timeout_ms; /* 0: the default */
static uint32_t gpu_clients = 1;

static chi_runtime *start(uint32_t gpus, uint32_t workers, uint32_t gpu_lanes,
			  chi_gpu_workers policy)
{
	chi_gpu_simulate(gpus);
	chi_config cfg;
	test_config(&cfg, workers, 0, 256);
	cfg.gpu_lanes = gpu_lanes;
	cfg.gpu_queue_depth = 64;
	cfg.gpu_segment_size = 16u << 20;
	cfg.gpu_workers = policy;
	cfg.gpu_clients = gpu_clients; /* 1: one GPU client owns every block
					* (tests/test_gpu_slices.c: several) */
	if (hole_timeout_ms)
		cfg.hole_timeout_ms = hole_timeout_ms;
	chi_runtime *rt;
	assert_int_equal(chi_runtime_start(&cfg, &rt), 0);
	return rt;
}

static void test_zero_gpus(void **state)
{
	(void)state;
	chi_runtime *rt = start(0, 1, 1, CHI_GPU_WORKERS_DEDICATED);
	chi_client *c = chi_runtime_client(rt);
	assert_int_equal(chi_gpu_count(c), 0);
	chi_gpu_client *gc;
	assert_int_equal(chi_gpu_client_open(c, 0, &gc), -ENODEV);
	assert_int_equal(rt->nlane_refs, 1);
	chi_runtime_stop(rt);
}

struct thr {
	const chi_gpu_ctx *ctx;
	uint32_t id;
	uint64_t wrong, done;
};

/* A "GPU thread": 8 futures in flight, stamped values, id = gpu id. */
static void *gpu_thread(void *arg)
{
	struct thr *t = arg;
	enum { INFL = 8, ROUNDS = 200 };
	chi_test_double_plus_task task[INFL];
	chi_gpu_future f[INFL];
	for (uint32_t r = 0; r < ROUNDS; r++) {
		for (uint32_t i = 0; i < INFL; i++) {
			chi_test_double_plus_init(&task[i], CHI_POOL_TEST,
						  ((uint64_t)t->id << 32) | (r * INFL + i), t->ctx->gpu_id);
			if (chi_gpu_make_copy_future(t->ctx, t->id + i, &task[i].hdr,
						     chi_test_double_plus_ser_in, &f[i]))
				t->wrong++;
		}
		for (uint32_t i = 0; i < INFL; i++) {
			uint64_t want = task[i].value * 2 + t->ctx->gpu_id;
			int64_t res = chi_gpu_future_wait(t->ctx, &f[i], &task[i].hdr,
							  chi_test_double_plus_de_out, 0);
			if (res != (int64_t)want || task[i].result != want)
				t->wrong++;
			t->done++;
		}
	}
	return NULL;
}

static void run_threads(const chi_gpu_ctx **ctx, uint32_t nctx, uint32_t per)
{
	enum { MAXT = 8 };
	pthread_t th[MAXT];
	struct thr t[MAXT];
	uint32_t n = nctx * per;
	assert_true(n <= MAXT);
	for (uint32_t i = 0; i < n; i++) {
		t[i] = (struct thr){ctx[i % nctx], i, 0, 0};
		pthread_create(&th[i], NULL, gpu_thread, &t[i]);
	}
	for (uint32_t i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].wrong, 0);
		assert_int_equal(t[i].done, 200 * 8);
	}
}

static void test_one_gpu(void **state)
{
	(void)state;
	chi_runtime *rt = start(1, 2, 2, CHI_GPU_WORKERS_DEDICATED);
	chi_client *c = chi_runtime_client(rt);
	assert_int_equal(chi_gpu_count(c), 1);
	chi_gpu_client *gc, *again;
	assert_int_equal(chi_gpu_client_open(c, 0, &gc), 0);
	assert_int_equal(chi_gpu_client_open(c, 0, &again), -EBUSY);
	const chi_gpu_ctx *x = chi_gpu_client_ctx(gc);
	assert_int_equal(x->seg_id, CHI_SEG_ID_GPU_BASE);
	assert_int_equal(x->nlanes, 2);
	assert_int_equal(x->depth, 64);
	/* dedicated: worker 1 polls the 2 GPU lanes, worker 0 the CPU lanes */
	for (uint32_t l = 0; l < rt->nlane_refs; l++)
		assert_int_equal(rt->lane_refs[l].shm->worker, rt->lane_refs[l].gpu ? 1 : 0);
	run_threads(&x, 1, 4);

	/* several sizes: inline, a data block, and one too large */
	uint8_t in[3000], out[3000];
	for (uint32_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 5 + 1);
	const uint32_t sizes[] = {1, 40, 100, 3000}; /* 1 and 40 fit the copy space */
	for (size_t k = 0; k < 4; k++) {
		chi_test_echo_task e;
		chi_gpu_future f;
		memset(out, 0, sizeof(out));
		chi_test_echo_init(&e, CHI_POOL_TEST, in, sizes[k], out, sizes[k]);
		assert_int_equal(chi_gpu_make_copy_future(x, 0, &e.hdr, chi_test_echo_ser_in, &f), 0);
		assert_int_equal(f.data_index != CHI_GPU_NO_DATA,
				 chi_task_wire_size(e.hdr.in_size, e.hdr.out_size) > CHI_COPY_SPACE);
		assert_int_equal(f.data_index != CHI_GPU_NO_DATA, sizes[k] >= 100);
		assert_int_equal(chi_gpu_future_wait(x, &f, &e.hdr, chi_test_echo_de_out, 0), sizes[k]);
		assert_memory_equal(out, in, sizes[k]);
	}
	/* past 64 KiB: a big data block; past memory.max_task_size: -EMSGSIZE */
	static uint8_t big[70000], back[70000];
	for (uint32_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 3);
	chi_test_echo_task e;
	chi_gpu_future f;
	chi_test_echo_init(&e, CHI_POOL_TEST, big, sizeof(big), back, sizeof(back));
	assert_int_equal(chi_gpu_make_copy_future(x, 0, &e.hdr, chi_test_echo_ser_in, &f), 0);
	assert_int_equal(f.data_index >> CHI_GPU_CLASS_SHIFT, 2);
	assert_int_equal(chi_gpu_future_wait(x, &f, &e.hdr, chi_test_echo_de_out, 0), sizeof(big));
	assert_memory_equal(back, big, sizeof(big));
	chi_test_echo_init(&e, CHI_POOL_TEST, big, sizeof(big), back, sizeof(back));
	e.hdr.in_size = (uint32_t)x->max_task + 1;
	assert_int_equal(chi_gpu_make_copy_future(x, 0, &e.hdr, chi_test_echo_ser_in, &f), -EMSGSIZE);
	/* a large output through a data block */
	static uint8_t lo[60000];
	chi_test_large_task lt;
	chi_test_large_init(&lt, CHI_POOL_TEST, 77, sizeof(lo), lo);
	assert_int_equal(chi_gpu_make_copy_future(x, 1, &lt.hdr, chi_test_large_ser_in, &f), 0);
	assert_int_equal(chi_gpu_future_wait(x, &f, &lt.hdr, chi_test_large_de_out, 0), sizeof(lo));
	for (uint32_t i = 0; i < sizeof(lo); i++)
		if (lo[i] != chi_test_pattern(77, i))
			fail_msg("large output byte %u", i);
	/* unknown method from the "GPU": ERROR with a code, lane keeps serving */
	chi_test_double_plus_task d;
	chi_test_double_plus_init(&d, CHI_POOL_TEST, 1, 0);
	d.hdr.method = 99;
	assert_int_equal(chi_gpu_make_copy_future(x, 0, &d.hdr, chi_test_double_plus_ser_in, &f), 0);
	assert_int_equal(chi_gpu_future_wait(x, &f, &d.hdr, chi_test_double_plus_de_out, 0), -ENOSYS);
	/* admission fails fast: with every block of lane 0 in flight a submit
	 * gets -EAGAIN (nothing published), and works again after a wait */
	{
		chi_test_arg_task hold;
		chi_gpu_future hf, fl[64];
		chi_test_noop_task nt[64];
		chi_test_arg_init(&hold, CHI_POOL_TEST, CHI_TEST_SPIN, 50 * 1000 * 1000);
		assert_int_equal(chi_gpu_make_copy_future(x, 0, &hold.hdr, chi_test_arg_ser_in, &hf), 0);
		for (int i = 0; i < 63; i++) {
			chi_test_noop_init(&nt[i], CHI_POOL_TEST);
			assert_int_equal(chi_gpu_make_copy_future(x, 0, &nt[i].hdr, chi_test_noop_ser, &fl[i]), 0);
		}
		chi_test_noop_init(&nt[63], CHI_POOL_TEST);
		assert_int_equal(chi_gpu_make_copy_future(x, 0, &nt[63].hdr, chi_test_noop_ser, &fl[63]), -EAGAIN);
		assert_int_equal(chi_gpu_future_wait(x, &hf, &hold.hdr, NULL, 0), 0);
		assert_int_equal(chi_gpu_make_copy_future(x, 0, &nt[63].hdr, chi_test_noop_ser, &fl[63]), 0);
		for (int i = 0; i < 64; i++)
			assert_int_equal(chi_gpu_future_wait(x, &fl[i], &nt[i].hdr, NULL, 0), 0);
	}
	/* a deadline: -ETIMEDOUT leaves the future pending */
	chi_test_arg_task sp;
	chi_test_arg_init(&sp, CHI_POOL_TEST, CHI_TEST_SPIN, 100 * 1000 * 1000);
	assert_int_equal(chi_gpu_make_copy_future(x, 0, &sp.hdr, chi_test_arg_ser_in, &f), 0);
	assert_int_equal(chi_gpu_future_wait(x, &f, &sp.hdr, NULL, 1000000), -ETIMEDOUT);
	assert_int_equal(chi_gpu_future_wait(x, &f, &sp.hdr, NULL, 0), 0);
	/* the GPU lanes counted what ran on them */
	uint64_t popped = 0, errors = 0;
	for (uint32_t l = 0; l < rt->nlane_refs; l++)
		if (rt->lane_refs[l].gpu) {
			popped += rt->lane_refs[l].shm->popped;
			errors += rt->lane_refs[l].shm->errors;
		}
	assert_int_equal(popped, 4 * 200 * 8 + 4 + 1 + 1 + 1 + 65 + 1);
	assert_int_equal(errors, 1);
	chi_gpu_client_close(gc);
	assert_int_equal(chi_gpu_client_open(c, 0, &gc), 0); /* free again */
	chi_gpu_client_close(gc);
	chi_runtime_stop(rt);
}

static void test_two_gpus_shared(void **state)
{
	(void)state;
	chi_runtime *rt = start(2, 1, 1, CHI_GPU_WORKERS_DEDICATED);
	chi_client *c = chi_runtime_client(rt);
	assert_int_equal(chi_gpu_count(c), 2);
	/* one worker: dedicated falls back to sharing, every lane is polled */
	assert_int_equal(rt->nlane_refs, 3);
	for (uint32_t l = 0; l < rt->nlane_refs; l++)
		assert_int_equal(rt->lane_refs[l].shm->worker, 0);
	chi_gpu_client *g0, *g1;
	assert_int_equal(chi_gpu_client_open(c, 0, &g0), 0);
	assert_int_equal(chi_gpu_client_open(c, 1, &g1), 0);
	const chi_gpu_ctx *x[2] = {chi_gpu_client_ctx(g0), chi_gpu_client_ctx(g1)};
	chi_gpu_info gi;
	assert_int_equal(chi_gpu_info_get(c, 1, &gi), 0);
	assert_int_equal(gi.backend_id, CHI_SEG_ID_GPU_BASE + 1);
	assert_int_equal(gi.lanes, 1);
	assert_int_equal(gi.depth, 64);
	assert_int_equal(gi.numa_node, -1); /* simulated GPUs have no PCI location */
	assert_int_equal(gi.worker, 0);
	assert_int_equal(gi.slices, 1);
	assert_int_equal(gi.clients, 1);
	assert_int_equal(chi_gpu_info_get(c, 2, &gi), -ENODEV);
	assert_int_equal(x[1]->seg_id, CHI_SEG_ID_GPU_BASE + 1);
	assert_int_equal(x[1]->gpu_id, 1);
	run_threads(x, 2, 2); /* results tagged value * 2 + gpu_id, per GPU */
	chi_gpu_client_close(g0);
	chi_gpu_client_close(g1);
	chi_runtime_stop(rt);
}

/* CPU and GPU lanes both busy on one worker: neither starves. */
static const chi_gpu_ctx *busy_ctx;
static void *cpu_flood(void *arg)
{
	chi_client *c = arg;
	uint64_t *wrong = calloc(1, sizeof(uint64_t));
	for (uint32_t i = 0; i < 3000; i++) {
		chi_test_double_plus_task t;
		chi_test_double_plus_init(&t, CHI_POOL_TEST, i, 3);
		if (chi_call(c, &t.hdr, &chi_test_double_plus_codec) != 2 * i + 3)
			(*wrong)++;
	}
	return wrong;
}

static void test_cpu_and_gpu_lanes_busy(void **state)
{
	(void)state;
	chi_runtime *rt = start(1, 1, 1, CHI_GPU_WORKERS_SHARED);
	chi_client *c = chi_runtime_client(rt);
	chi_gpu_client *gc;
	assert_int_equal(chi_gpu_client_open(c, 0, &gc), 0);
	busy_ctx = chi_gpu_client_ctx(gc);
	pthread_t cpu;
	pthread_create(&cpu, NULL, cpu_flood, c);
	run_threads(&busy_ctx, 1, 2);
	void *wrong;
	pthread_join(cpu, &wrong);
	assert_int_equal(*(uint64_t *)wrong, 0);
	free(wrong);
	chi_gpu_client_close(gc);
	chi_runtime_stop(rt);
}

/* The device-side block pool on its own: 6 threads cycle 4 blocks; no index
 * is ever held by two threads, none is lost (a slow taker's entry must not
 * be overwritten by a freer one lap ahead). */
static chi_gpu_pool spool __attribute__((aligned(128)));
static uint64_t sring[4];
static uint32_t owner[4];
static void *pool_thread(void *arg)
{
	uint32_t me = (uint32_t)(uintptr_t)arg, *bad = calloc(1, sizeof(uint32_t));
	for (int i = 0; i < 100000; i++) {
		uint32_t idx, ns = 0;
		while (chi_gpu_pool_try_take(&spool, &idx))
			chi_gpu_backoff(&ns);
		uint32_t free_ = 0;
		if (idx >= 4 || !__atomic_compare_exchange_n(&owner[idx], &free_, me, 0,
							     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			(*bad)++;
		else
			__atomic_store_n(&owner[idx], 0, __ATOMIC_RELEASE);
		if (idx < 4)
			chi_gpu_pool_give(&spool, idx);
	}
	return bad;
}

static void test_pool_stress(void **state)
{
	(void)state;
	chi_gpu_pool_init(&spool, sring, sring, 4, 4, 0);
	pthread_t th[6];
	for (uintptr_t i = 0; i < 6; i++)
		pthread_create(&th[i], NULL, pool_thread, (void *)(i + 1));
	for (int i = 0; i < 6; i++) {
		void *bad;
		pthread_join(th[i], &bad);
		assert_int_equal(*(uint32_t *)bad, 0);
		free(bad);
	}
	assert_int_equal(spool.give - spool.take, 4); /* all 4 back */
	assert_int_equal(spool.avail, 4);
}

/* A GPU client (a child process, simulated GPU) claims and marks a slot of
 * GPU lane 0 and is killed before publishing: the hole is skipped once the
 * runtime sees its claimant dead, a task queued behind it completes, and the
 * reaper then returns the dead client's slice, so another GPU client can
 * attach (gpu.clients 1: the only slice). */
static char self_path[4096];
extern char **environ;

/* A GPU client claims a slot on lane 0 (and marks it, P2, when `marked`),
 * as a kernel that failed there would. Then either the process dies
 * (killed between the claim and the mark when not marked: a slot naming no
 * client), or, `close_only`, it closes only its GPU client and lives on
 * with its CPU client open (it says so on stdout, fd 1, and waits to be
 * killed). */
static int gpu_hole_child(const char *name, int marked, int close_only)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test does not leave it behind */
	chi_gpu_simulate(1);
	chi_client *c;
	chi_gpu_client *gc;
	if (chi_client_connect(name, &c) || chi_gpu_client_open(c, 0, &gc))
		return 2;
	const chi_gpu_ctx *x = chi_gpu_client_ctx(gc);
	chi_ring_view v;
	chi_gpu_ring(x, 0, 0, &v);
	uint64_t t = chi_ring_claim(&v);
	if (marked)
		chi_ring_mark(&v, t, x->client); /* claimed and marked, never published */
	if (!close_only) {
		raise(SIGKILL);
		return 3;
	}
	chi_gpu_client_close(gc);
	char one = 1;
	if (write(1, &one, 1) != 1)
		return 4;
	for (;;)
		pause();
}

/* A GPU client killed after its claim (marked or not); behind: an entry is
 * published behind the hole (else the hole is the ring's last claim). */
static void killed_gpu_client_hole(int marked, int behind)
{
	chi_runtime *rt = start(1, 1, 1, CHI_GPU_WORKERS_SHARED);
	pid_t pid;
	char *argv[] = {self_path, (char *)(marked ? "--gpu-hole" : "--gpu-hole-unmarked"),
			(char *)chi_runtime_config(rt)->name, NULL};
	assert_int_equal(posix_spawn(&pid, self_path, NULL, NULL, argv, environ), 0);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	/* publish behind the hole with the runtime's own view of the segment */
	chi_gpu_state *gs = rt->gpu;
	chi_gpu_seg *s = &gs->segs[0];
	chi_lane_shm *ls = (chi_lane_shm *)((char *)s->seg.base + s->dir->lanes_off);
	chi_gpu_ctx x;
	memset(&x, 0, sizeof(x));
	x.base = s->seg.base;
	x.counters = &((chi_lane_prod *)((char *)s->seg.base + chi_gpu_prods_off(s->dir)))->ring[0].tail;
	x.cs_lane = sizeof(chi_lane_prod) / 8;
	x.cs_prio = sizeof(chi_ring_tail) / 8;
	x.hdr = chi_seg_hdr_of(&s->seg);
	x.epoch = x.hdr->epoch;
	x.seg_id = CHI_SEG_ID_GPU_BASE;
	x.nlanes = s->dir->nlanes;
	x.depth = s->dir->depth;
	x.shift = s->dir->shift;
	x.slots_off = s->dir->slots_off;
	x.blocks_off = s->dir->blocks_off;
	x.inbox_off = s->dir->inbox_off;
	x.max_task = s->dir->max_task_size;
	x.blk_count = s->dir->depth;
	x.client = 1;
	if (behind) {
		chi_test_double_plus_task t;
		chi_gpu_future f;
		memset(&f, 0, sizeof(f)); /* gcc cannot see that the assert guards the wait */
		chi_test_double_plus_init(&t, CHI_POOL_TEST, 21, 0);
		assert_int_equal(chi_gpu_make_copy_future_at(&x, 0, x.depth - 1, &t.hdr,
							     chi_test_double_plus_ser_in, &f), 0);
		assert_int_equal(chi_gpu_future_wait(&x, &f, &t.hdr, chi_test_double_plus_de_out,
						     5000000000ull), 42);
	}
	/* the dead client's slice comes back (reaper, S3) */
	for (int i = 0; i < 500 && !__atomic_load_n(&rt->dir->gpu_slices_reclaimed, __ATOMIC_ACQUIRE);
	     i++)
		usleep(10000);
	assert_int_equal(__atomic_load_n(&rt->dir->gpu_slices_reclaimed, __ATOMIC_ACQUIRE), 1);
	assert_int_equal(ls[0].holes_skipped, 1);
	chi_client *c = chi_runtime_client(rt);
	chi_gpu_client *gc = NULL;
	assert_int_equal(test_gpu_open_within(c, 0, &gc, 5000), 0);
	assert_int_equal(chi_gpu_client_ctx(gc)->blk_count, x.depth / gpu_clients);
	assert_int_equal(test_gpu_double_plus(chi_gpu_client_ctx(gc), 5), 10);
	chi_gpu_client_close(gc);
	chi_runtime_stop(rt);
}

/* A GPU client killed after claiming a slot and marking it (P2): the hole
 * names it, is skipped once it is dead, the entry behind runs, its slice
 * comes back. */
static void test_killed_gpu_client_hole(void **state)
{
	(void)state;
#if defined(CHI_TSAN)
	skip(); /* cross-process: TSan cannot see synchronization through shared memory */
#endif
	killed_gpu_client_hole(1, 1);
}

/* The same, killed between its claim and its mark: the hole names no client
 * and the slice scan cannot see it, so the dead client is kept DEAD until
 * the heads pass its claims (gpu_slices.c S4). Two slices: the entry behind
 * the hole is in the other one, as another client's would be. Before S4
 * the dead client was reaped to FREE before the hole timeout (1 s here),
 * and the ring stalled for good: the entry behind never ran. */
static void test_killed_gpu_client_unmarked_hole(void **state)
{
	(void)state;
#if defined(CHI_TSAN)
	skip(); /* cross-process: TSan cannot see synchronization through shared memory */
#endif
	hole_timeout_ms = 1000;
	gpu_clients = 2;
	killed_gpu_client_hole(0, 1);
	hole_timeout_ms = 0;
	gpu_clients = 1;
}

/* Killed between its claim and its mark with nothing published behind: the
 * ring's last claim. The workers see it by the claim counter the reaper
 * read (S4, the ring's `claimed` word), skip it once its client is dead,
 * and the slice comes back; a new client's task then runs (it would stall
 * behind the hole otherwise; with one slice, the client could not even
 * attach while S4 waited). */
static void test_killed_gpu_client_last_claim(void **state)
{
	(void)state;
#if defined(CHI_TSAN)
	skip(); /* cross-process: TSan cannot see synchronization through shared memory */
#endif
	killed_gpu_client_hole(0, 0);
}

/* A process closes only its GPU client, leaving a claim of a failed kernel
 * (marked or not), and lives on with its CPU client: the hole is skipped,
 * the task behind it runs, the slice comes back. Before, the client was
 * LIVE, so the hole was never skipped and the ring stalled for good. */
static void closed_gpu_client_hole(int marked)
{
	hole_timeout_ms = 300;
	gpu_clients = 2;
	chi_runtime *rt = start(1, 1, 1, CHI_GPU_WORKERS_SHARED);
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	pid_t pid;
	char *argv[] = {self_path, (char *)(marked ? "--gpu-close" : "--gpu-close-unmarked"),
			(char *)chi_runtime_config(rt)->name, NULL};
	assert_int_equal(posix_spawn(&pid, self_path, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	char b = 0;
	assert_int_equal(read(fds[0], &b, 1), 1);
	close(fds[0]);
	chi_client *c = chi_runtime_client(rt);
	chi_gpu_client *gc = NULL;
	assert_int_equal(test_gpu_open_within(c, 0, &gc, 5000), 0); /* the other slice */
	assert_int_equal(test_gpu_double_plus(chi_gpu_client_ctx(gc), 5), 10);
	chi_gpu_seg *s = &rt->gpu->segs[0];
	chi_lane_shm *ls = (chi_lane_shm *)((char *)s->seg.base + s->dir->lanes_off);
	assert_int_equal(ls[0].holes_skipped, 1);
	for (int i = 0; i < 500 && !__atomic_load_n(&rt->dir->gpu_slices_reclaimed, __ATOMIC_ACQUIRE);
	     i++)
		usleep(10000);
	assert_int_equal(__atomic_load_n(&rt->dir->gpu_slices_reclaimed, __ATOMIC_ACQUIRE), 1);
	chi_gpu_client_close(gc);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	chi_runtime_stop(rt);
	hole_timeout_ms = 0;
	gpu_clients = 1;
}

static void test_closed_gpu_client_hole(void **state)
{
	(void)state;
#if defined(CHI_TSAN)
	skip(); /* cross-process: TSan cannot see synchronization through shared memory */
#endif
	closed_gpu_client_hole(1);
}

static void test_closed_gpu_client_unmarked_hole(void **state)
{
	(void)state;
#if defined(CHI_TSAN)
	skip();
#endif
	closed_gpu_client_hole(0);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--gpu-close"))
		return gpu_hole_child(argv[2], 1, 1);
	if (argc == 3 && !strcmp(argv[1], "--gpu-close-unmarked"))
		return gpu_hole_child(argv[2], 0, 1);
	if (argc == 3 && !strcmp(argv[1], "--gpu-hole"))
		return gpu_hole_child(argv[2], 1, 0);
	if (argc == 3 && !strcmp(argv[1], "--gpu-hole-unmarked"))
		return gpu_hole_child(argv[2], 0, 0);
	if (test_self_exe(self_path, sizeof(self_path)))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_stress),
		cmocka_unit_test(test_zero_gpus),
		cmocka_unit_test(test_one_gpu),
		cmocka_unit_test(test_two_gpus_shared),
		cmocka_unit_test(test_cpu_and_gpu_lanes_busy),
		cmocka_unit_test(test_killed_gpu_client_hole),
		cmocka_unit_test(test_killed_gpu_client_unmarked_hole),
		cmocka_unit_test(test_killed_gpu_client_last_claim),
		cmocka_unit_test(test_closed_gpu_client_hole),
		cmocka_unit_test(test_closed_gpu_client_unmarked_hole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
