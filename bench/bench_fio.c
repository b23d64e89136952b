/* bench/bench_fio.c: the anchors of `chi-bench bdev`: Debian's fio run as a
 * child process (posix_spawn) with the same block size, engine (psync) and
 * duration as chi's entries, and a minimal reader for its JSON output. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_bdev.h"
#include "bench_util.h"

extern char **environ;

/* ---- a minimal JSON reader, enough for fio's output ---- */
static const char *js_ws(const char *p)
{
	while (p && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static const char *js_skip_str(const char *p) /* p at '"' */
{
	for (p++; *p; p++) {
		if (*p == '\\' && p[1])
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* Past one value (object, array, string, number, literal); NULL if malformed. */
static const char *js_skip(const char *p)
{
	p = js_ws(p);
	if (!p || !*p)
		return NULL;
	if (*p == '"')
		return js_skip_str(p);
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		p = js_ws(p + 1);
		if (p && *p == close)
			return p + 1;
		for (;;) {
			if (close == '}') {
				if (!p || *p != '"' || !(p = js_skip_str(p)))
					return NULL;
				p = js_ws(p);
				if (*p != ':')
					return NULL;
				p++;
			}
			if (!(p = js_ws(js_skip(p))))
				return NULL;
			if (*p == close)
				return p + 1;
			if (*p != ',')
				return NULL;
			p = js_ws(p + 1);
		}
	}
	const char *q = p;
	while (*q && !strchr(",}] \t\r\n", *q))
		q++;
	return q > p ? q : NULL;
}

/* The value of member `key` of the object at p ('{'), NULL if absent. */
static const char *js_get(const char *p, const char *key)
{
	p = js_ws(p);
	if (!p || *p != '{')
		return NULL;
	p = js_ws(p + 1);
	size_t kl = strlen(key);
	while (p && *p == '"') {
		const char *k = p + 1, *e = js_skip_str(p);
		if (!e)
			return NULL;
		int match = (size_t)(e - 1 - k) == kl && !memcmp(k, key, kl);
		p = js_ws(e);
		if (*p != ':')
			return NULL;
		p = js_ws(p + 1);
		if (match)
			return p;
		if (!(p = js_ws(js_skip(p))))
			return NULL;
		if (*p != ',')
			return NULL;
		p = js_ws(p + 1);
	}
	return NULL;
}

static const char *js_first(const char *p) /* first element of the array at p */
{
	p = js_ws(p);
	if (!p || *p != '[')
		return NULL;
	p = js_ws(p + 1);
	return *p == ']' ? NULL : p;
}

static int js_num(const char *p, double *out)
{
	if (!p)
		return -1;
	char *e;
	double v = strtod(p, &e);
	if (e == p)
		return -1;
	*out = v;
	return 0;
}

/* ---- the fio entries ---- */
int chi_bench_find_fio(char *out, size_t len)
{
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t l = strcspn(path, ":");
		snprintf(out, len, "%.*s/fio", (int)l, l ? path : ".");
		if (!access(out, X_OK))
			return 0;
		path += l;
		if (*path == ':')
			path++;
	}
	out[0] = 0;
	return -ENOENT;
}

static void dump_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char line[512];
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "  fio: %s", line);
	fclose(f);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *s = malloc(cap);
	while (s) {
		size_t k = fread(s + n, 1, cap - n - 1, f);
		n += k;
		if (n + 1 < cap)
			break;
		char *t = realloc(s, cap * 2);
		if (!t) {
			free(s);
			s = NULL;
			break;
		}
		s = t;
		cap *= 2;
	}
	fclose(f);
	if (s)
		s[n] = 0;
	return s;
}

int chi_bench_fio_run(bctx *b, chi_bench_result *r, int write)
{
	if (!b->fio[0])
		return 77;
	const char *rw = write ? "write" : "read";
	char out[900], err[900], a_name[64], a_file[800], a_size[64], a_rt[64], a_ramp[64],
		a_out[920];
	snprintf(out, sizeof(out), "%s/fio_%s.json", b->dir, rw);
	snprintf(err, sizeof(err), "%s/fio_%s.stderr", b->dir, rw);
	snprintf(a_name, sizeof(a_name), "--name=fio_%s_file", rw);
	snprintf(a_file, sizeof(a_file), "--filename=%s", b->file);
	snprintf(a_size, sizeof(a_size), "--size=%llu", (unsigned long long)b->size);
	snprintf(a_rt, sizeof(a_rt), "--runtime=%llums",
		 (unsigned long long)llround(b->seconds * 1e3));
	snprintf(a_ramp, sizeof(a_ramp), "--ramp_time=%llums",
		 (unsigned long long)llround(b->seconds * 1e2));
	snprintf(a_out, sizeof(a_out), "--output=%s", out);
	char a_rw[32];
	snprintf(a_rw, sizeof(a_rw), "--rw=%s", rw);
	char *argv[] = {"fio", a_name, a_file, a_rw, "--bs=512k", "--ioengine=psync",
			"--iodepth=1", "--numjobs=1", a_size, "--time_based", a_rt, a_ramp,
			"--iomem_align=4096", "--invalidate=0", "--direct=0", "--fallocate=none",
			"--end_fsync=0", "--output-format=json", a_out, NULL};

	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	pid_t pid;
	int rc = posix_spawn(&pid, b->fio, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc) {
		fprintf(stderr, "chi-bench bdev: posix_spawn(%s): %s\n", b->fio, strerror(rc));
		return -rc;
	}
	/* fio ends by itself (time_based); a generous deadline guards a hang */
	uint64_t deadline = chi_bench_now_ns() + (uint64_t)(b->seconds * 1.1e9) + 120000000000ull;
	int st = 0;
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			rc = -errno;
			break;
		}
		if (chi_bench_now_ns() > deadline) {
			fprintf(stderr, "chi-bench bdev: fio (pid %ld) did not finish: killed\n",
				(long)pid);
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			rc = -ETIMEDOUT;
			break;
		}
		struct timespec ts = {0, 5000000};
		nanosleep(&ts, NULL);
	}
	if (!rc && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
		fprintf(stderr, "chi-bench bdev: fio %s failed (%s %d); its stderr:\n", rw,
			WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		dump_file(err);
		rc = -ECHILD;
	}
	char *js = rc ? NULL : slurp(out);
	if (!rc && !js) {
		fprintf(stderr, "chi-bench bdev: cannot read fio output %s\n", out);
		rc = -EIO;
	}
	if (!rc) {
		const char *root = strchr(js, '{'); /* fio may print notes before the JSON */
		const char *job = js_first(js_get(root, "jobs"));
		const char *sec = js_get(job, rw);
		const char *pct = js_get(js_get(sec, "clat_ns"), "percentile");
		double iops, bw, p50, p99, ios;
		if (js_num(js_get(sec, "iops"), &iops) || js_num(js_get(sec, "bw_bytes"), &bw) ||
		    js_num(js_get(pct, "50.000000"), &p50) || js_num(js_get(pct, "99.000000"), &p99) ||
		    js_num(js_get(sec, "total_ios"), &ios)) {
			fprintf(stderr, "chi-bench bdev: fio %s: unexpected JSON in %s\n", rw, out);
			rc = -EBADMSG;
		} else if (ios < 1 || iops <= 0) {
			fprintf(stderr, "chi-bench bdev: fio %s: no I/O done\n", rw);
			rc = -EIO;
		} else {
			r->ops_per_s = iops;
			r->median_ns = p50;
			r->p99_ns = p99;
			chi_bench_log(b->o, "chi-bench bdev: fio %s: %.1f MB/s (bw_bytes), %.0f IOPS\n",
				      rw, bw / 1e6, iops);
		}
	}
	free(js);
	unlink(out);
	unlink(err);
	/* fio's bytes replaced chi's stamped blocks */
	if (write)
		b->chi_valid = 0;
	return rc;
}
