/* tests/fault_chunk_list.c: failure row "a client's chunk list is corrupt"
 * (docs/reliability.md). The reaper gives a gone client's arena chunks back
 * by following the list the client wrote (clients[i].chunks, src/ipc/chunk.c
 * K2). Each case plants a list in a free client-table entry, marks it DEAD,
 * and checks that the runtime
 *   - survives (a head outside the segment was followed: SIGSEGV),
 *   - frees every good chunk exactly once (a chunk whose next is itself was
 *     freed again and again, hanging the monitor and corrupting the arena),
 *     leaks the rest, and logs the bad list,
 *   - turns the entry FREE and keeps serving;
 * and a list that runs into a chunk another (live) client lists is freed
 * only up to that chunk (K4: it used to be freed under its owner).
 * Each case runs its runtime in a forked child, so a crash is a failed
 * assertion (the child's exit status) rather than the end of this binary. */
#include "test_util.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "chi/log.h"
#include "chi/modules/test.h"
#include "ipc/client.h"
#include "task/future_ops.h"

#define MIB (1ull << 20)

static int logged;
static void count_log(int level, const char *msg, void *arg)
{
	(void)arg;
	if (level <= CHI_LOG_WARN && strstr(msg, "chunk"))
		__atomic_fetch_add(&logged, 1, __ATOMIC_RELAXED);
}

#define CHECK(cond, code)                                                        \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); \
			_exit(code);                                             \
		}                                                                \
	} while (0)

/* A chunk header as chunk.c lays it out: next, size. */
static uint64_t plant(chi_client *c, uint64_t off, uint64_t next, uint64_t size)
{
	uint64_t *h = (uint64_t *)((char *)c->base + off);
	h[0] = next;
	h[1] = size;
	return off;
}

enum { BAD_HEAD, MISALIGNED, SELF_CYCLE, TWO_CYCLE, BAD_SIZE, OVERLAP, OTHER_LIST, GOOD };

static int run_case(int which)
{
	chi_set_log(count_log, NULL);
	chi_runtime *rt;
	chi_config cfg;
	test_config(&cfg, 1, 1, 64);
	CHECK(chi_runtime_start(&cfg, &rt) == 0, 2);
	chi_client *c = chi_runtime_client(rt);
	chi_client_shm *ent = chi_client_at(c->base, c->dir->clients_off, c->dir->max_clients - 1);
	CHECK(ent->state == CHI_CLIENT_FREE, 3);
	uint64_t baseline = c->dir->alloc.in_use;
	uint64_t a = chi_alloc(c->base, &c->dir->alloc, MIB);
	uint64_t b = chi_alloc(c->base, &c->dir->alloc, 2 * MIB);
	CHECK(a && b, 4);
	uint64_t head = 0, leaked = 0, freed = 0;
	switch (which) {
	case BAD_HEAD: /* past the end of the segment: a and b stay unlisted */
		head = plant(c, a, b, MIB);
		head = (c->hdr->size + 64 * MIB) & ~255ull;
		leaked = 3 * MIB;
		break;
	case MISALIGNED:
		head = plant(c, a, 0, MIB) + 8;
		leaked = 3 * MIB;
		break;
	case SELF_CYCLE: /* b, then a, whose next is a */
		plant(c, a, a, MIB);
		head = plant(c, b, a, 2 * MIB);
		leaked = 0, freed = 2;
		break;
	case TWO_CYCLE: /* a -> b -> a */
		plant(c, a, b, MIB);
		plant(c, b, a, 2 * MIB);
		head = a;
		leaked = 0, freed = 2;
		break;
	case BAD_SIZE: /* b, then a that claims 3 MiB (no size class) */
		plant(c, a, 0, 3 * MIB);
		head = plant(c, b, a, 2 * MIB);
		leaked = MIB, freed = 1;
		break;
	case OVERLAP: /* b, then a "chunk" 1 MiB inside b */
		plant(c, b + MIB, a, MIB);
		plant(c, a, 0, MIB);
		head = plant(c, b, b + MIB, 2 * MIB);
		leaked = MIB, freed = 1; /* a is behind the bad one: leaked */
		break;
	case OTHER_LIST: { /* a -> b, where b heads a live client's list (K4) */
		chi_client_shm *live = chi_client_at(c->base, c->dir->clients_off, c->dir->max_clients - 2);
		CHECK(live->state == CHI_CLIENT_FREE, 12);
		plant(c, b, 0, 2 * MIB);
		live->chunks = b;
		live->pid = (int32_t)getpid();
		live->epoch = c->epoch;
		__atomic_store_n(&live->state, CHI_CLIENT_LIVE, __ATOMIC_RELEASE);
		head = plant(c, a, b, MIB);
		leaked = 2 * MIB, freed = 1; /* b stays the live client's */
		break;
	}
	case GOOD:
		plant(c, a, 0, MIB);
		head = plant(c, b, a, 2 * MIB);
		leaked = 0, freed = 2;
		break;
	}
	uint64_t reclaimed0 = c->dir->chunks_reclaimed;
	ent->chunks = head;
	ent->pid = 0;
	__atomic_store_n(&ent->state, CHI_CLIENT_DEAD, __ATOMIC_RELEASE);
	int i;
	for (i = 0; i < 500 && __atomic_load_n(&ent->state, __ATOMIC_ACQUIRE) != CHI_CLIENT_FREE;
	     i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	CHECK(i < 500, 5); /* the reaper finished with the entry */
	CHECK(c->dir->chunks_reclaimed - reclaimed0 == freed, 6);
	CHECK(c->dir->alloc.in_use == baseline + leaked, 7);
	CHECK((which == GOOD) == (__atomic_load_n(&logged, __ATOMIC_RELAXED) == 0), 8);
	/* nothing was freed twice: the arena hands out distinct blocks */
	uint64_t x = chi_alloc(c->base, &c->dir->alloc, MIB);
	uint64_t y = chi_alloc(c->base, &c->dir->alloc, MIB);
	uint64_t z = chi_alloc(c->base, &c->dir->alloc, MIB);
	CHECK(x && y && z && x != y && y != z && x != z, 9);
	/* still serving */
	chi_test_double_plus_task t;
	chi_future f;
	chi_test_double_plus_init(&t, CHI_POOL_TEST, 20, 2);
	CHECK(chi_make_copy_future(c, &t.hdr, &chi_test_double_plus_codec, &f) == 0, 10);
	CHECK(chi_future_wait_timeout(&f, 5000000000ull) == 42, 11);
	chi_runtime_stop(rt);
	chi_set_log(NULL, NULL);
	return 0;
}

static void in_child(int which)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(run_case(which));
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st))
		fail_msg("case %d: the runtime died of signal %d", which, WTERMSIG(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_bad_head(void **s) { (void)s; in_child(BAD_HEAD); }
static void test_misaligned(void **s) { (void)s; in_child(MISALIGNED); }
static void test_self_cycle(void **s) { (void)s; in_child(SELF_CYCLE); }
static void test_two_cycle(void **s) { (void)s; in_child(TWO_CYCLE); }
static void test_bad_size(void **s) { (void)s; in_child(BAD_SIZE); }
static void test_overlap(void **s) { (void)s; in_child(OVERLAP); }
static void test_good(void **s) { (void)s; in_child(GOOD); }
static void test_other_list(void **s) { (void)s; in_child(OTHER_LIST); }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad_head),
		cmocka_unit_test(test_misaligned),
		cmocka_unit_test(test_self_cycle),
		cmocka_unit_test(test_two_cycle),
		cmocka_unit_test(test_bad_size),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_other_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
