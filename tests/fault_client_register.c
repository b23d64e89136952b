/* tests/fault_client_register.c: failure row "a client dies or stalls while
 * it registers" (docs/reliability.md). chi_client_register made its entry
 * LIVE (CAS FREE -> LIVE) and only then stored its pid, so
 *   - a client killed in between left the entry LIVE with the pid of no one
 *     (0 on a fresh entry): the reaper, which looks for LIVE entries whose
 *     pid is gone, never freed it;
 *   - a client delayed in between left the entry LIVE with the pid of the
 *     entry's previous (dead) client: the reaper took it for dead and freed
 *     it under the live client.
 * Now a registrant claims a FREE entry with one CAS to a claim word that
 * carries its pid (CL1), fills pid and epoch, then stores LIVE with release
 * (CL1b): a LIVE entry always has its client's pid, and a claim whose pid is
 * gone is taken over by the next registrant. The test puts its stall and
 * its kill where the old code had its window: in getpid(), which this
 * binary interposes (the library is linked statically into it). */
#include "test_util.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "chi/modules/test.h"
#include "ipc/client.h"

extern char **environ;
static char self_path[4096];

/* 0: plain; 1: stall 300 ms once; 2: die (SIGKILL) once */
static int getpid_hook;

pid_t getpid(void)
{
	pid_t me = (pid_t)syscall(SYS_getpid);
	int h = __atomic_exchange_n(&getpid_hook, 0, __ATOMIC_ACQ_REL);
	if (h == 1) {
		struct timespec ts = {0, 300 * 1000 * 1000};
		nanosleep(&ts, NULL);
	} else if (h == 2) {
		syscall(SYS_kill, me, SIGKILL);
	}
	return me;
}

static pid_t dead_pid(void)
{
	pid_t p = fork();
	if (p == 0)
		_exit(0);
	waitpid(p, NULL, 0);
	return p;
}

static chi_client_shm *entry(chi_client *c, uint32_t i)
{
	return chi_client_at(c->base, c->dir->clients_off, i);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void served(chi_client *c)
{
	chi_test_double_plus_task t;
	chi_test_double_plus_init(&t, CHI_POOL_TEST, 8, 1);
	assert_int_equal(chi_call(c, &t.hdr, &chi_test_double_plus_codec), 17);
}

/* The entry a registrant will take carries a dead previous client's pid; the
 * registrant stalls where the old code had its window. */
static void test_stalled_not_reaped(void **state)
{
	(void)state;
	chi_runtime *rt = test_start(1, 1, 64);
	chi_client *self = chi_runtime_client(rt);
	assert_int_equal(__atomic_load_n(&entry(self, 1)->state, __ATOMIC_ACQUIRE), CHI_CLIENT_FREE);
	entry(self, 1)->pid = dead_pid(); /* as the reaper leaves a freed entry */
	chi_client *c;
	__atomic_store_n(&getpid_hook, 1, __ATOMIC_RELEASE);
	assert_int_equal(chi_client_connect(chi_runtime_config(rt)->name, &c), 0);
	sleep_ms(100); /* ten reaper ticks */
	uint32_t i = chi_client_id(c) - 1;
	assert_int_equal(__atomic_load_n(&entry(self, i)->state, __ATOMIC_ACQUIRE), CHI_CLIENT_LIVE);
	assert_int_equal(entry(self, i)->pid, (int32_t)syscall(SYS_getpid));
	assert_int_equal(self->dir->clients_dead, 0);
	served(c);
	chi_client_close(c);
	chi_runtime_stop(rt);
}

static int child_register(const char *name)
{
	chi_client *c;
	__atomic_store_n(&getpid_hook, 2, __ATOMIC_RELEASE);
	chi_client_connect(name, &c);
	return 3; /* not reached: killed inside getpid */
}

/* A registrant killed in the window leaves no entry LIVE (or claimed)
 * for ever: every entry but the runtime's own is FREE again soon. */
static void test_killed_not_live_forever(void **state)
{
	(void)state;
	chi_runtime *rt = test_start(1, 1, 64);
	chi_client *self = chi_runtime_client(rt);
	pid_t pid;
	char *argv[] = {self_path, (char *)"--child", (char *)chi_runtime_config(rt)->name, NULL};
	assert_int_equal(posix_spawn(&pid, self_path, NULL, NULL, argv, environ), 0);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	uint32_t busy = 0;
	for (int k = 0; k < 100; k++) { /* up to 1 s */
		busy = 0;
		for (uint32_t i = 0; i < self->dir->max_clients; i++)
			if (entry(self, i) != self->slot &&
			    __atomic_load_n(&entry(self, i)->state, __ATOMIC_ACQUIRE) != CHI_CLIENT_FREE)
				busy++;
		if (!busy)
			break;
		sleep_ms(10);
	}
	assert_int_equal(busy, 0);
	/* and a client registering next takes an entry, LIVE with its pid */
	chi_client *c;
	assert_int_equal(chi_client_connect(chi_runtime_config(rt)->name, &c), 0);
	/* atomic reads: the reaper stores FREE here (through the runtime's
	 * mapping) once c closes, and TSan cannot tie that to c's own mapping */
	chi_client_shm *ce = entry(self, chi_client_id(c) - 1);
	assert_int_equal(__atomic_load_n(&ce->state, __ATOMIC_ACQUIRE), CHI_CLIENT_LIVE);
	assert_int_equal(ce->pid, (int32_t)syscall(SYS_getpid));
	served(c);
	chi_client_close(c);
	chi_runtime_stop(rt);
}

/* A claim left by a registrant that died after claiming (CL1, before CL1b)
 * is taken over by the next registrant. */
static void test_dead_claim_taken_over(void **state)
{
	(void)state;
	chi_runtime *rt = test_start(1, 1, 64);
	chi_client *self = chi_runtime_client(rt);
	assert_int_equal(__atomic_load_n(&entry(self, 1)->state, __ATOMIC_ACQUIRE), CHI_CLIENT_FREE);
	__atomic_store_n(&entry(self, 1)->state, 0x80000000u | (uint32_t)dead_pid(), __ATOMIC_RELEASE);
	chi_client *c;
	assert_int_equal(chi_client_connect(chi_runtime_config(rt)->name, &c), 0);
	assert_int_equal(chi_client_id(c), 2);
	assert_int_equal(__atomic_load_n(&entry(self, 1)->state, __ATOMIC_ACQUIRE), CHI_CLIENT_LIVE);
	served(c);
	chi_client_close(c);
	chi_runtime_stop(rt);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--child"))
		return child_register(argv[2]);
	if (test_self_exe(self_path, sizeof(self_path)))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stalled_not_reaped),
		cmocka_unit_test(test_killed_not_live_forever),
		cmocka_unit_test(test_dead_claim_taken_over),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
