/* bench/bench_fio.c: the anchors of `chi-bench bdev`: Debian's fio run as a
 * child process (posix_spawn) with the same block size, engine (psync) and
 * duration as chi's entries; its JSON output is read with json-c. */
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

#include <json-c/json.h>

#include "bench_bdev.h"
#include "bench_util.h"

extern char **environ;

/* ---- fio's JSON, read with json-c ---- */
/* Member `key` of object o, NULL if o is NULL, not an object or lacks it. */
static struct json_object *jget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static int jnum(struct json_object *v, double *out)
{
	if (!v || !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
		return -1;
	*out = json_object_get_double(v);
	return 0;
}

/* Parse fio's output file text: fio may print notes before the JSON, so the
 * document starts at the first '{'. NULL (and a message) if it is not JSON. */
static struct json_object *parse_fio_json(const char *js, const char *path)
{
	const char *root = strchr(js, '{');
	if (!root) {
		fprintf(stderr, "chi-bench bdev: no JSON object in fio output %s\n", path);
		return NULL;
	}
	struct json_tokener *tok = json_tokener_new();
	if (!tok)
		return NULL;
	struct json_object *o = json_tokener_parse_ex(tok, root, (int)strlen(root));
	enum json_tokener_error e = json_tokener_get_error(tok);
	if (!o || e != json_tokener_success) {
		fprintf(stderr, "chi-bench bdev: fio output %s: bad JSON at byte %zu of the document: %s\n", path,
			json_tokener_get_parse_end(tok),
			e == json_tokener_continue ? "unexpected end of input" : json_tokener_error_desc(e));
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
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
	struct json_object *doc = rc ? NULL : parse_fio_json(js, out);
	if (!rc && !doc)
		rc = -EBADMSG;
	if (!rc) {
		struct json_object *jobs = jget(doc, "jobs");
		struct json_object *job = jobs && json_object_is_type(jobs, json_type_array) &&
						  json_object_array_length(jobs) > 0
					  ? json_object_array_get_idx(jobs, 0)
					  : NULL;
		struct json_object *sec = jget(job, rw);
		struct json_object *pct = jget(jget(sec, "clat_ns"), "percentile");
		double iops, bw, p50, p99, ios;
		if (jnum(jget(sec, "iops"), &iops) || jnum(jget(sec, "bw_bytes"), &bw) ||
		    jnum(jget(pct, "50.000000"), &p50) || jnum(jget(pct, "99.000000"), &p99) ||
		    jnum(jget(sec, "total_ios"), &ios)) {
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
	json_object_put(doc);
	free(js);
	unlink(out);
	unlink(err);
	/* fio's bytes replaced chi's stamped blocks */
	if (write)
		b->chi_valid = 0;
	return rc;
}
