/* bench/xproc_util.c: see xproc_util.h. Helper processes are started with
 * posix_spawn (never fork), and every wait on one has a deadline. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "chi/chi.h"
#include "chi/modules/test.h"
#include "chi/proto/atomic.h"

extern char **environ;

#include "xproc_util.h"

extern char **environ;

/* ---- shared segment ---- */


unsigned xp_seq;

void xp_unlink(xp_seg *s)
{
	if (s->linked) {
		shm_unlink(s->name);
		s->linked = 0;
	}
}

void xp_close(xp_seg *s)
{
	xp_unlink(s);
	if (s->p)
		munmap(s->p, s->size);
	s->p = NULL;
}

int xp_create(xp_seg *s, const char *base, int idx, uint64_t cap)
{
	memset(s, 0, sizeof(*s));
	if (idx >= 0)
		snprintf(s->name, sizeof(s->name), "/chibench.%u.%s.c%d", (unsigned)getuid(), base,
			 idx);
	else
		snprintf(s->name, sizeof(s->name), "/chibench.%u.%s", (unsigned)getuid(), base);
	s->size = sizeof(xp_shm) + cap * sizeof(uint64_t);
	int fd = shm_open(s->name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		int e = errno;
		fprintf(stderr, "chi-bench: shm_open(%s): %s\n", s->name, strerror(e));
		return -e;
	}
	s->linked = 1;
	if (ftruncate(fd, (off_t)s->size)) {
		int e = errno;
		fprintf(stderr, "chi-bench: ftruncate(%s): %s\n", s->name, strerror(e));
		close(fd);
		xp_unlink(s);
		return -e;
	}
	void *p = mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int e = errno;
	close(fd);
	if (p == MAP_FAILED) {
		fprintf(stderr, "chi-bench: mmap(%s): %s\n", s->name, strerror(e));
		xp_unlink(s);
		return -e;
	}
	s->p = p;
	s->p->cap = cap;
	__atomic_store_n(&s->p->magic, XP_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

/* Child side: map the parent's segment and say so. */
xp_shm *xp_attach(const char *name, size_t *size)
{
	int fd = shm_open(name, O_RDWR, 0600);
	if (fd < 0) {
		fprintf(stderr, "chi-bench child: shm_open(%s): %s\n", name, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) || (size_t)st.st_size < sizeof(xp_shm)) {
		fprintf(stderr, "chi-bench child: %s: bad size\n", name);
		close(fd);
		return NULL;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		fprintf(stderr, "chi-bench child: mmap(%s): %s\n", name, strerror(errno));
		return NULL;
	}
	xp_shm *x = p;
	if (__atomic_load_n(&x->magic, __ATOMIC_ACQUIRE) != XP_MAGIC) {
		fprintf(stderr, "chi-bench child: %s: bad magic\n", name);
		munmap(p, (size_t)st.st_size);
		return NULL;
	}
	*size = (size_t)st.st_size;
	return x;
}

/* ---- helper processes ---- */

void xp_sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int xp_spawn_child(const char *entry, char *const argv[], pid_t *pid)
{
	int rc = posix_spawn(pid, chi_bench_self(), NULL, NULL, argv, environ);
	if (rc) {
		fprintf(stderr, "chi-bench: %s: posix_spawn(%s): %s\n", entry, chi_bench_self(),
			strerror(rc));
		return -rc;
	}
	return 0;
}

/* Reap a child; 0 if it exited 0, else a message and -ECHILD. */
int xp_check_status(const char *entry, pid_t pid, int st)
{
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st))
		fprintf(stderr, "chi-bench: %s: client process %d exited with status %d\n", entry,
			(int)pid, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		fprintf(stderr, "chi-bench: %s: client process %d killed by signal %d (%s)\n",
			entry, (int)pid, WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		fprintf(stderr, "chi-bench: %s: client process %d ended abnormally\n", entry,
			(int)pid);
	return -ECHILD;
}

/* Wait for a child to end within timeout_ns (then kill it). *pid = 0 after. */
int xp_reap_child(const char *entry, pid_t *pid, uint64_t timeout_ns)
{
	if (*pid <= 0)
		return 0;
	uint64_t end = chi_bench_now_ns() + timeout_ns;
	for (;;) {
		int st;
		pid_t r = waitpid(*pid, &st, WNOHANG);
		if (r == *pid) {
			int rc = xp_check_status(entry, *pid, st);
			*pid = 0;
			return rc;
		}
		if (r < 0 && errno != EINTR) {
			int e = errno;
			fprintf(stderr, "chi-bench: %s: waitpid(%d): %s\n", entry, (int)*pid,
				strerror(e));
			*pid = 0;
			return -e;
		}
		if (chi_bench_now_ns() > end) {
			fprintf(stderr, "chi-bench: %s: client process %d did not finish in %.0f s; "
				"killing it\n", entry, (int)*pid, (double)timeout_ns / 1e9);
			kill(*pid, SIGKILL);
			waitpid(*pid, &st, 0);
			*pid = 0;
			return -ETIMEDOUT;
		}
		xp_sleep_ns(20 * 1000000ull);
	}
}

/* Is the child still running? If not, reap it and report (returns < 0). */
int xp_child_alive(const char *entry, pid_t *pid)
{
	int st;
	pid_t r = waitpid(*pid, &st, WNOHANG);
	if (r == 0)
		return 0;
	if (r == *pid) {
		int rc = xp_check_status(entry, *pid, st);
		*pid = 0;
		if (rc == 0) {
			fprintf(stderr, "chi-bench: %s: client process ended too early\n", entry);
			rc = -EPROTO;
		}
		return rc;
	}
	*pid = 0;
	return -ECHILD;
}

/* Wait (sleeping) until the child's attached word reaches `want`. */
int xp_wait_attached(const char *entry, xp_shm *x, uint64_t want, pid_t *pid)
{
	uint64_t end = chi_bench_now_ns() + 30ull * 1000000000ull;
	while (__atomic_load_n(&x->attached, __ATOMIC_ACQUIRE) < want) {
		int rc = xp_child_alive(entry, pid);
		if (rc)
			return rc;
		if (chi_bench_now_ns() > end) {
			fprintf(stderr, "chi-bench: %s: client process %d not ready after 30 s\n",
				entry, (int)*pid);
			return -ETIMEDOUT;
		}
		xp_sleep_ns(200 * 1000ull);
	}
	return 0;
}

void xp_kill_child(pid_t *pid)
{
	if (*pid > 0) {
		int st;
		kill(*pid, SIGKILL);
		waitpid(*pid, &st, 0);
		*pid = 0;
	}
}

void xp_unique_base(char *buf, size_t len)
{
	snprintf(buf, len, "bx%ld_%u", (long)getpid(), xp_seq++);
}

void xp_u64s(char *buf, size_t len, uint64_t v)
{
	snprintf(buf, len, "%llu", (unsigned long long)v);
}

