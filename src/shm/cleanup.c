/* src/shm/cleanup.c: find and remove stale segments, those whose owner
 * process is gone (a runtime that was killed). Names are parsed as
 * chi.<uid>.<runtime-name>.<kind>[.<n>] under /dev/shm; only this user's
 * segments are considered, and a segment whose owner lives is never touched. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
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
			int alive = chi_seg_owner_alive(chi_seg_hdr_of(&s));
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
