/* tests/fault_chunk_request.c: failure row "a client killed while it takes
 * an arena chunk" (K5 in src/ipc/chunk.c, docs/reliability.md). A client
 * used to take a chunk from the arena itself (a CAS on the allocator) and
 * then push it on its list: killed between the two, the chunk leaked whole
 * (tests/storm_clients.c met it: in_use 1 MiB off its start level with
 * every client gone). Now the runtime takes the chunk and lists it in one
 * step of its monitor thread; the client only asks (chunk_req) and waits.
 *   test_kill_while_taking: 48 children each connect, say so through a
 *     pipe, then take chunk after chunk (a 1 MiB block needs a chunk of its
 *     own) until the arena is short; each is SIGKILLed 0-60 us after it
 *     said so, while it takes them: in_use back to its start level once
 *     they are reaped, every entry FREE. (Before K5 this left 2 MiB chunks
 *     behind in most runs.)
 *   test_request_then_die: a child asks and exits at once, before the
 *     answer: the chunk (if the runtime served it) is the dead entry's and
 *     comes back.
 *   test_requests_checked: requests that are no size class, or below
 *     1 MiB, or bigger than the arena, get no chunk and take nothing; a
 *     good one is listed at the head of the client's list, and comes back
 *     when the client closes. */
#include "test_util.h"

#include <signal.h>
#include <sys/wait.h>

#include "ipc/client.h"
#include "ipc/layout.h"
#include "task/future_ops.h"

#define KIDS 48

static uint64_t in_use(chi_client *c)
{
	return __atomic_load_n(&c->dir->alloc.in_use, __ATOMIC_ACQUIRE);
}

/* in_use back to `want` and no entry but the runtime's own taken, within 5 s */
static void wait_reclaimed(chi_client *c, uint64_t want)
{
	uint32_t busy = 0;
	for (int i = 0; i < 500; i++) {
		busy = 0;
		for (uint32_t j = 0; j < c->dir->max_clients; j++) {
			chi_client_shm *e = chi_client_at(c->base, c->dir->clients_off, j);
			if (e != c->slot && __atomic_load_n(&e->state, __ATOMIC_ACQUIRE) != CHI_CLIENT_FREE)
				busy++;
		}
		if (!busy && in_use(c) == want)
			return;
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	}
	fail_msg("in_use %llu, want %llu; %u entries not FREE",
		 (unsigned long long)in_use(c), (unsigned long long)want, busy);
}

/* R1-R2 by hand: ask for a chunk of `mib` MiB through c's entry. */
static void post_request(chi_client *c, uint32_t mib)
{
	__atomic_store_n(&c->slot->chunk_req, mib, __ATOMIC_RELEASE);
	__atomic_fetch_add(&c->hdr->chunk_wake, 1, __ATOMIC_RELEASE);
	chi_futex_wake(&c->hdr->chunk_wake, 1);
}

static void taker(const char *name, int ready)
{
	chi_client *c;
	if (chi_client_connect(name, &c))
		_exit(2);
	if (write(ready, "r", 1) != 1)
		_exit(3);
	while (chi_client_alloc(c, 600 * 1024)) /* a 1 MiB block: a 2 MiB chunk each */
		;
	pause();
	_exit(0);
}

static void test_kill_while_taking(void **s)
{
	(void)s;
#if defined(CHI_TSAN)
	skip(); /* TSan cannot see synchronization between processes */
#endif
	chi_runtime *rt = test_start(2, 2, 64);
	const char *name = chi_runtime_config(rt)->name;
	chi_client *c = chi_runtime_client(rt);
	uint64_t base = in_use(c), chunks0 = c->dir->chunks_reclaimed;
	srand((unsigned)getpid());
	for (int k = 0; k < KIDS; k++) {
		int fd[2];
		assert_int_equal(pipe(fd), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			taker(name, fd[1]);
		char b;
		assert_int_equal(read(fd[0], &b, 1), 1); /* connected: taking from now */
		close(fd[0]);
		close(fd[1]);
		uint64_t end = chi_now_ns() + (uint64_t)(rand() % 60) * 1000;
		while (chi_now_ns() < end)
			;
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, NULL, 0), pid);
	}
	wait_reclaimed(c, base);
	fprintf(stderr, "fault_chunk_request: %d takers killed, %llu chunks reclaimed\n", KIDS,
		(unsigned long long)(c->dir->chunks_reclaimed - chunks0));
	chi_runtime_stop(rt);
}

static void test_request_then_die(void **s)
{
	(void)s;
#if defined(CHI_TSAN)
	skip(); /* TSan cannot see synchronization between processes */
#endif
	chi_runtime *rt = test_start(1, 1, 64);
	const char *name = chi_runtime_config(rt)->name;
	chi_client *c = chi_runtime_client(rt);
	uint64_t base = in_use(c);
	for (int k = 0; k < 8; k++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			chi_client *cc;
			if (chi_client_connect(name, &cc))
				_exit(2);
			post_request(cc, 2);
			if (k % 2)
				raise(SIGKILL);
			_exit(0); /* no close: the reaper finds it dead */
		}
		assert_int_equal(waitpid(pid, NULL, 0), pid);
	}
	wait_reclaimed(c, base);
	chi_runtime_stop(rt);
}

/* Ask for a chunk of `mib` MiB through c2's entry; the runtime's answer. */
static uint64_t ask(chi_client *c2, uint32_t mib)
{
	post_request(c2, mib);
	for (int i = 0; i < 500 && __atomic_load_n(&c2->slot->chunk_req, __ATOMIC_ACQUIRE); i++)
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	if (__atomic_load_n(&c2->slot->chunk_req, __ATOMIC_ACQUIRE))
		fail_msg("a request for %u MiB had no answer in 5 s", mib);
	return __atomic_load_n(&c2->slot->chunk_got, __ATOMIC_ACQUIRE);
}

static void test_requests_checked(void **s)
{
	(void)s;
	chi_runtime *rt = test_start(1, 1, 64);
	chi_client *c = chi_runtime_client(rt);
	chi_client *c2;
	assert_int_equal(chi_client_connect(chi_runtime_config(rt)->name, &c2), 0);
	uint64_t base = in_use(c), head0 = c2->slot->chunks;
	const uint32_t bad[] = {3, 6, 1u << 20, 0xffffffffu};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ask(c2, bad[i]), 0);
		assert_int_equal(in_use(c), base);
		assert_int_equal(c2->slot->chunks, head0);
	}
	uint64_t k = ask(c2, 2);
	assert_true(k != 0);
	assert_int_equal(c2->slot->chunks, k); /* listed, at the head */
	assert_int_equal(in_use(c), base + (2u << 20));
	/* the client allocates from it as from any chunk of its own */
	uint64_t b = chi_client_alloc(c2, 4096);
	assert_true(b > k && b < k + (2u << 20));
	chi_client_close(c2);
	wait_reclaimed(c, base);
	chi_runtime_stop(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_while_taking),
		cmocka_unit_test(test_request_then_die),
		cmocka_unit_test(test_requests_checked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
