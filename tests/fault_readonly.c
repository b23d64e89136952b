/* tests/fault_readonly.c: failure row "a client's stray write into what
 * only the runtime writes" (RO1, RO2 and RO4 in src/ipc/layout.h, RO3 in
 * chi/proto/lane.h, docs/reliability.md). A client process
 * (chi_client_connect) has the runtime's pages of the main segment (the
 * directory with its allocator header, the worker records, the runtime's
 * half of each lane record) and every client-table entry but its own
 * mapped read-only: a write there faults in that client (SIGSEGV) and
 * changes nothing the runtime or other clients see. What clients write by
 * design (the wake words, their own client entry, the lanes' claim
 * counters and queue_full, the header's chunk_wake) stays writable. Each
 * write is made by a child of its own; the runtime
 * (embedded here) then serves tasks with every value as it was. On the old
 * layout every write went through, into the runtime's directory. */
#include "test_util.h"

#include <signal.h>
#include <sys/wait.h>

#include "chi/modules/test.h"
#include "ipc/client.h"
#include "ipc/layout.h"

#define WORKERS 2u
#define LANES 2u

enum {
	W_NWORKERS,   /* dir: a layout word */
	W_POOL_NAME,  /* dir: a pool's name */
	W_COUNTERS,   /* dir: the reaper's counters */
	W_WORKER_REC, /* a worker record's task counters */
	W_OTHER_ENTRY, /* another client's entry (the runtime's own client): DEAD */
	W_LANE_COUNTER, /* a lane's consumer counter (RO3) */
	W_LANE_HEAD,   /* a ring's published head (RO3) */
	W_ALLOC_HDR,   /* the arena's allocator header (read, written back: RO4) */
	W_NREADONLY,
	W_WAKE = W_NREADONLY, /* writable by design: a worker's wake words */
	W_OWN_ENTRY,          /* its own client entry's attach time */
	W_LANE_PROD,          /* a lane's queue_full, in the producers' half */
	W_CHUNK_WAKE,         /* the segment header's chunk_wake (K5) */
	W_NALL
};

/* A fault in the child ends it with this code (a handler of its own, so a
 * sanitizer's SEGV report does not stand in for the signal) */
#define FAULTED 77

static uint32_t other_entry; /* the runtime's own client's entry, set before the forks */

static void on_segv(int sig)
{
	(void)sig;
	_exit(FAULTED);
}

/* The child: connect, write, exit 0 (the write went through) or FAULTED. */
static void writer(const char *name, int what)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_segv;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	chi_client *c;
	if (chi_client_connect(name, &c))
		_exit(2);
	chi_main_dir *d = c->dir;
	chi_worker_shm *w = (chi_worker_shm *)(void *)((char *)c->base + d->workers_off);
	switch (what) {
	case W_NWORKERS: *(volatile uint32_t *)&d->nworkers = 999; break;
	case W_POOL_NAME: ((volatile char *)d->pools[1].name)[0] = 'X'; break;
	case W_COUNTERS: *(volatile uint64_t *)&d->clients_dead = 12345; break;
	case W_WORKER_REC: *(volatile uint64_t *)&w[1].tasks = 777; break;
	case W_OTHER_ENTRY:
		*(volatile uint32_t *)&chi_client_at(c->base, d->clients_off, other_entry)->state =
			CHI_CLIENT_DEAD;
		break;
	case W_LANE_COUNTER: *(volatile uint64_t *)&c->lanes[1].completed = 1ull << 40; break;
	case W_LANE_HEAD: *(volatile uint64_t *)&c->lanes[0].ring[0].head += 5; break;
	case W_LANE_PROD: __atomic_fetch_add(&c->prods[1].queue_full, 1, __ATOMIC_RELAXED); break;
	case W_WAKE: __atomic_fetch_add(&c->wakes[0].sleep_futex, 1, __ATOMIC_SEQ_CST); break;
	case W_OWN_ENTRY: *(volatile uint64_t *)&c->slot->attach_ns += 1; break;
	case W_ALLOC_HDR: {
		volatile uint64_t *v = (volatile uint64_t *)(void *)&d->alloc.free_head[3];
		*v = *v;
		break;
	}
	default: __atomic_fetch_add(&c->hdr->chunk_wake, 1, __ATOMIC_RELEASE); break;
	}
	chi_client_close(c);
	_exit(0);
}

static int child_status(const char *name, int what)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		writer(name, what);
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void served(chi_client *c, uint64_t n, uint64_t seed)
{
	for (uint64_t i = 0; i < n; i++) {
		chi_test_double_plus_task t;
		chi_future f;
		chi_test_double_plus_init(&t, CHI_POOL_TEST, seed + i, 3);
		assert_int_equal(chi_make_copy_future(c, &t.hdr, &chi_test_double_plus_codec, &f), 0);
		assert_int_equal(chi_future_wait_timeout(&f, 5000000000ull), (int64_t)(2 * (seed + i) + 3));
	}
}

static void test_runtime_pages_read_only(void **s)
{
	(void)s;
#if defined(CHI_TSAN)
	skip(); /* TSan cannot see synchronization between processes */
#endif
	chi_runtime *rt = test_start(WORKERS, LANES, 64);
	const char *name = chi_runtime_config(rt)->name;
	chi_client *c = chi_runtime_client(rt);
	served(c, 16, 0);
	chi_main_dir *d = c->dir; /* the runtime's own mapping: writable, read here */
	chi_worker_shm *w = (chi_worker_shm *)(void *)((char *)c->base + d->workers_off);
	char pool1[CHI_NAME_MAX];
	memcpy(pool1, d->pools[1].name, sizeof(pool1));
	uint64_t dead0 = d->clients_dead, tasks1 = w[1].tasks, full1 = c->prods[1].queue_full;
	uint64_t head0 = c->lanes[0].ring[0].head;
	assert_true(d->ro_pages > 1);
	/* the directory's rest, the worker records and the lanes' runtime
	 * halves: pages 1..ro_pages-1; their producers' halves after */
	uint64_t ro_end = (uint64_t)d->ro_pages * CHI_RO_PAGE;
	assert_true(d->workers_off >= CHI_RO_PAGE && d->workers_off < ro_end);
	assert_int_equal((char *)d - (char *)c->base, CHI_RO_PAGE); /* RO4: the directory, allocator header first, starts page 1 */
	assert_true(d->lanes_off > d->workers_off && d->lanes_off + LANES * sizeof(chi_lane_shm) <= ro_end);
	assert_true(d->prods_off >= ro_end);
	/* the client table: a page per entry (RO2) */
	assert_int_equal(d->clients_off % CHI_RO_PAGE, 0);
	assert_true(chi_client_id(c) >= 1);
	other_entry = chi_client_id(c) - 1;
	chi_client_shm *own = chi_client_at(c->base, d->clients_off, other_entry);
	assert_int_equal(own->state, CHI_CLIENT_LIVE);
	for (int what = 0; what < W_NALL; what++) {
		int st = child_status(name, what);
		if (what < W_NREADONLY) {
			if (!WIFEXITED(st) || WEXITSTATUS(st) != FAULTED)
				fail_msg("write %d into the runtime's pages: status %#x, want a fault", what, st);
		} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fail_msg("write %d, writable by design: status %#x, want exit 0", what, st);
		}
	}
	/* nothing changed, and the runtime serves (the killed writers' entries
	 * are reaped as any dead client's) */
	assert_int_equal(d->nworkers, WORKERS);
	assert_memory_equal(d->pools[1].name, pool1, sizeof(pool1));
	assert_true(w[1].tasks != 777 || tasks1 == 777);
	assert_true(c->lanes[1].completed < 1ull << 40);
	assert_int_equal(c->lanes[0].ring[0].head, head0);
	assert_int_equal(c->prods[1].queue_full, full1 + 1);
	assert_int_equal(__atomic_load_n(&own->state, __ATOMIC_ACQUIRE), CHI_CLIENT_LIVE);
	served(c, 64, 1000);
	for (int i = 0; i < 500 && __atomic_load_n(&d->clients_dead, __ATOMIC_ACQUIRE) < dead0 + W_NREADONLY;
	     i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	assert_int_equal(__atomic_load_n(&d->clients_dead, __ATOMIC_ACQUIRE), dead0 + W_NREADONLY);
	/* a client connected after all that works */
	chi_client *c2;
	assert_int_equal(chi_client_connect(name, &c2), 0);
	served(c2, 16, 2000);
	chi_client_close(c2);
	chi_runtime_stop(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runtime_pages_read_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
