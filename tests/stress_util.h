/* tests/stress_util.h: what the storm, soak and buggy-client suites share
 * (tests/storm_clients.c, tests/soak_runtime.c, tests/fault_buggy_client.c):
 * a clock, a PRNG, children of this binary spawned with posix_spawn (never
 * fork: TSan and CUDA) with their stdin and stdout on pipes, report lines
 * read with a deadline. Their main() and the runtime child process:
 * tests/stress_main.h.
 *
 * Report lines are "key value key value ..." (unsigned decimal values), one
 * per child, written to its stdout when it ends; st_kv picks a key out. */
#ifndef CHI_TESTS_STRESS_UTIL_H
#define CHI_TESTS_STRESS_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chi/chi.h"
#include "chi/modules/admin.h"
#include "chi/modules/test.h"
#include "shm/shm.h"

extern char **environ;

/* lanes one admin.stats answer holds (the first page) */
#ifdef CHI_STATS_PAGE_LANES
#define ST_STATS_LANES CHI_STATS_PAGE_LANES
#else
#define ST_STATS_LANES CHI_STATS_MAX_LANES
#endif

static inline uint64_t st_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void st_nap_us(uint64_t us)
{
	struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000L};
	nanosleep(&ts, NULL);
}

/* xorshift64*: a seeded stream, so a run can be repeated (--seed) */
static inline uint64_t st_rand(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* uniform in [lo, hi] */
static inline uint64_t st_range(uint64_t *s, uint64_t lo, uint64_t hi)
{
	return lo + (hi > lo ? st_rand(s) % (hi - lo + 1) : 0);
}

/* The byte i of the echo payload stamped with `stamp`. */
static inline uint8_t st_stamp_byte(uint64_t stamp, uint32_t i)
{
	uint64_t x = (stamp + i) * 0x9e3779b97f4a7c15ull;
	return (uint8_t)(x >> 56) ^ (uint8_t)i;
}

static inline void st_stamp_fill(uint8_t *p, uint32_t n, uint64_t stamp)
{
	for (uint32_t i = 0; i < n; i++)
		p[i] = st_stamp_byte(stamp, i);
}

/* Does p[0..n) carry `stamp`? */
static inline int st_stamp_ok(const uint8_t *p, uint32_t n, uint64_t stamp)
{
	for (uint32_t i = 0; i < n; i++)
		if (p[i] != st_stamp_byte(stamp, i))
			return 0;
	return 1;
}

/* First thing in a child role: die with the test (a test killed by its
 * timeout must not leave clients spinning on a runtime that is gone). */
static inline void st_child_init(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(9); /* the parent is gone already */
}

/* Spawn `argv` (argv[0] the binary's path). With out_fd: its stdout goes
 * to a pipe whose read end lands in *out_fd; with in_fd: its stdin comes
 * from a pipe whose write end lands in *in_fd (close it to tell the child
 * to end). The parent's ends are close-on-exec, so later children do not
 * hold them. -1 on failure. */
static inline pid_t st_spawn(char *const argv[], int *out_fd, int *in_fd)
{
	int op[2] = {-1, -1}, ip[2] = {-1, -1};
	if (out_fd && pipe2(op, O_CLOEXEC))
		return -1;
	if (in_fd && pipe2(ip, O_CLOEXEC))
		return -1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	if (out_fd)
		posix_spawn_file_actions_adddup2(&fa, op[1], 1);
	if (in_fd)
		posix_spawn_file_actions_adddup2(&fa, ip[0], 0);
	pid_t pid;
	int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (out_fd) {
		close(op[1]);
		*out_fd = rc ? (close(op[0]), -1) : op[0];
	}
	if (in_fd) {
		close(ip[0]);
		*in_fd = rc ? (close(ip[1]), -1) : ip[1];
	}
	return rc ? -1 : pid;
}

/* Read one line (without its newline) from fd into buf within ms: its
 * length (report lines are never empty), 0 at end of file, -ETIMEDOUT. */
static inline int st_read_line(int fd, char *buf, size_t cap, int ms)
{
	size_t n = 0;
	uint64_t end = st_now_ns() + (uint64_t)ms * 1000000u;
	while (n + 1 < cap) {
		uint64_t now = st_now_ns();
		if (now >= end)
			break;
		struct pollfd p = {fd, POLLIN, 0};
		int r = poll(&p, 1, (int)((end - now) / 1000000u) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		char ch;
		ssize_t k = read(fd, &ch, 1);
		if (k <= 0 || ch == '\n') {
			buf[n] = 0;
			return (int)n;
		}
		buf[n++] = ch;
	}
	buf[n] = 0;
	return -ETIMEDOUT;
}

/* The value after `key` in a report line, or `dflt`. */
static inline uint64_t st_kv(const char *line, const char *key, uint64_t dflt)
{
	size_t kl = strlen(key);
	for (const char *p = line; (p = strstr(p, key)); p += kl) {
		if ((p == line || p[-1] == ' ') && p[kl] == ' ')
			return strtoull(p + kl + 1, NULL, 10);
	}
	return dflt;
}

/* waitpid for at most ms: the pid, 0 if still running. */
static inline pid_t st_wait_within(pid_t pid, int *st, int ms)
{
	for (int i = 0; i <= ms; i++) {
		pid_t r = waitpid(pid, st, WNOHANG);
		if (r != 0)
			return r;
		st_nap_us(1000);
	}
	return 0;
}

/* Kill and reap a child. */
static inline void st_kill_reap(pid_t pid)
{
	int st;
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

/* Connect to `name`, retrying for up to ms while it starts (or the client
 * table is full). The last error. */
static inline int st_connect_within(const char *name, chi_client **c, int ms)
{
	int rc = -ENOENT;
	uint64_t end = st_now_ns() + (uint64_t)ms * 1000000u;
	do {
		rc = chi_client_connect(name, c);
		if (!rc)
			return 0;
		st_nap_us(2000);
	} while (st_now_ns() < end);
	return rc;
}

/* One admin.stats round trip (its first page), waited for at most ms: 0
 * when answered (and the answer copied to *out if set), else the submit's
 * or the wait's error. */
static inline int st_admin_stats(chi_client *c, int ms, chi_admin_stats_task *out)
{
	chi_admin_stats_task *st = (chi_admin_stats_task *)calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	chi_admin_stats_init(st);
	chi_future f;
	int rc = chi_try_make_copy_future(c, &st->hdr, &chi_admin_stats_codec, &f);
	if (!rc) {
		int64_t r = chi_future_wait_timeout(&f, (uint64_t)ms * 1000000u);
		rc = r < 0 ? (int)r : 0;
		if (rc == -ETIMEDOUT)
			return rc; /* left pending: the task struct must outlive it */
		if (!rc && out)
			memcpy(out, st, sizeof(*st));
	}
	free(st);
	return rc;
}

/* After a runtime of ours named `name` is dead (SIGKILLed, or crashed):
 * its segments and its lock file go (chi_shm_cleanup removes what it
 * recognizes; a segment whose header the test scribbled on is unlinked by
 * name, and the lock file, which only an orderly stop removes, too). */
static inline void st_cleanup(const char *name)
{
	char seg[CHI_SEG_NAME_MAX], lock[CHI_SEG_NAME_MAX + 32];
	chi_shm_cleanup(name, NULL, NULL);
	if (!chi_shm_name(seg, sizeof(seg), name, "main", -1))
		shm_unlink(seg);
	for (int g = 0; g < 4; g++)
		if (!chi_shm_name(seg, sizeof(seg), name, "gpu", g))
			shm_unlink(seg);
	snprintf(lock, sizeof(lock), "/dev/shm/.chi.%u.%s.lock", (unsigned)getuid(), name);
	unlink(lock);
}

#endif
