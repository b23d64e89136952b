/* src/shm/cleanup.c: find and remove stale segments, those whose owner
 * runtime is gone (a runtime that was killed: owner_gone below, L1-L4,
 * which does not take a zombie for alive). Names are parsed as
 * chi.<uid>.<runtime-name>.<kind>[.<n>] under /dev/shm; only this user's
 * segments are considered, and a segment whose owner lives is never touched. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shm.h"

/* Split "chi.<uid>.<name>.<kind>[.<n>]": 0 and the runtime name, or -1. */
static int parse_name(const char *ent, unsigned uid, char *name, size_t cap)
{
	char prefix[32];
	int n = snprintf(prefix, sizeof(prefix), "chi.%u.", uid);
	if (strncmp(ent, prefix, (size_t)n))
		return -1;
	const char *rest = ent + n, *dot = strchr(rest, '.');
	if (!dot || dot == rest || (size_t)(dot - rest) >= cap)
		return -1;
	memcpy(name, rest, (size_t)(dot - rest));
	name[dot - rest] = 0;
	return 0;
}

/* The state letter and the start time (CLOCK_REALTIME ns, to within a
 * second) of process pid, from /proc; -1 when it cannot be read. */
static int proc_info(pid_t pid, char *state, uint64_t *start_real_ns)
{
	char p[64], buf[1024];
	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(p, "re");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *r = strrchr(buf, ')'); /* the name may hold spaces and ')' */
	if (!r || r[1] != ' ' || !r[2])
		return -1;
	*state = r[2];
	/* fields after the name: state is the first, starttime the 20th */
	const char *q = r + 2;
	for (int i = 0; i < 19 && q; i++) {
		q = strchr(q, ' ');
		if (q)
			q++;
	}
	unsigned long long ticks, btime = 0;
	long hz = sysconf(_SC_CLK_TCK);
	if (!q || sscanf(q, "%llu", &ticks) != 1 || hz <= 0)
		return -1;
	FILE *st = fopen("/proc/stat", "re");
	if (!st)
		return -1;
	char line[256];
	while (fgets(line, sizeof(line), st))
		if (sscanf(line, "btime %llu", &btime) == 1)
			break;
	fclose(st);
	if (!btime)
		return -1;
	*start_real_ns = btime * 1000000000ull + ticks * (1000000000ull / (uint64_t)hz);
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Is the runtime that owns this segment header gone? kill(pid, 0) alone
 * says no for a SIGKILLed runtime its parent has not reaped yet (a zombie)
 * and for a pid the kernel gave to a later process. So, in order:
 *   L1  no pid, or no such process: gone;
 *   L2  the process is a zombie (or dead, X): gone;
 *   L3  the process started more than 2 s after the segment was created
 *       (created_ns, CLOCK_REALTIME; /proc has the start to within a
 *       second): not the creator, whose pid was reused: gone;
 *   L4  a main segment that is ready (its monitor runs) and not stopping:
 *       its heartbeat `alive` (bumped every 10 ms) must move within
 *       CHI_GPU_HEARTBEAT_NS, the bound clients and GPU kernels give a
 *       runtime (src/ipc/client.c); a live one is seen in ~10 ms, a frozen
 *       one (a pid reused within L3's slack, a stuck runtime) is gone.
 * A segment that is not ready yet (a runtime starting, whose monitor is
 * not running) or stopping (its owner unlinks it when done; removing it
 * first would let that unlink hit a new runtime's segment of the same
 * name) counts as alive while its process lives. Callers: chi_shm_cleanup
 * (`chi cleanup`, and create_main in src/runtime/runtime.c on a start
 * whose name is taken). */
static int owner_gone(const chi_seg_hdr *h)
{
	pid_t pid = (pid_t)h->owner_pid;
	if (pid <= 0 || (kill(pid, 0) != 0 && errno == ESRCH)) /* L1 */
		return 1;
	char state;
	uint64_t started;
	if (proc_info(pid, &state, &started) == 0) {
		if (state == 'Z' || state == 'X') /* L2 */
			return 1;
		if (started > h->created_ns + 2000000000ull) /* L3 */
			return 1;
	}
	if (h->kind != CHI_SEG_KIND_MAIN ||
	    !__atomic_load_n(&h->ready, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&h->stopping, __ATOMIC_ACQUIRE))
		return 0;
	uint64_t a0 = __atomic_load_n(&h->alive, __ATOMIC_ACQUIRE), t0 = mono_ns(); /* L4 */
	while (mono_ns() - t0 < CHI_GPU_HEARTBEAT_NS) {
		struct timespec ts = {0, 1000 * 1000};
		nanosleep(&ts, NULL);
		if (__atomic_load_n(&h->alive, __ATOMIC_ACQUIRE) != a0 ||
		    __atomic_load_n(&h->stopping, __ATOMIC_ACQUIRE))
			return 0;
	}
	return 1;
}

/* Modified in the last 10 s? */
static int young(const char *ent)
{
	char p[300];
	struct stat st;
	snprintf(p, sizeof(p), "/dev/shm/%.255s", ent);
	return stat(p, &st) != 0 || time(NULL) - st.st_mtime < 10;
}

int chi_shm_cleanup(const char *only_runtime, chi_cleanup_report report, void *arg)
{
	DIR *d = opendir("/dev/shm");
	if (!d)
		return -errno;
	int removed = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char rname[CHI_SEG_NAME_MAX], path[CHI_SEG_NAME_MAX];
		if (strlen(e->d_name) + 2 > sizeof(path))
			continue;
		if (parse_name(e->d_name, (unsigned)getuid(), rname, sizeof(rname)))
			continue;
		if (only_runtime && strcmp(only_runtime, rname))
			continue;
		snprintf(path, sizeof(path), "/%.126s", e->d_name);
		chi_seg s;
		int rc = chi_seg_open(&s, path);
		int pid = 0;
		if (rc == 0) {
			pid = chi_seg_hdr_of(&s)->owner_pid;
			int alive = !owner_gone(chi_seg_hdr_of(&s));
			chi_seg_close(&s);
			if (alive)
				continue;
		} else if (rc != -EPROTO || young(e->d_name)) {
			/* vanished meanwhile, not ours to open, or maybe a
			 * segment a starting runtime is still filling in */
			continue;
		}
		/* owner gone, or a header that never became valid */
		if (shm_unlink(path) == 0) {
			removed++;
			if (report)
				report(path, pid, arg);
		}
	}
	closedir(d);
	return removed;
}
