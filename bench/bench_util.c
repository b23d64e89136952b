/* bench/bench_util.c: see bench_util.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "bench_util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t chi_bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

void chi_bench_sort_u64(uint64_t *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_u64);
}

uint64_t chi_bench_percentile(const uint64_t *sorted, size_t n, double p)
{
	if (n == 0)
		return 0;
	if (p <= 0)
		return sorted[0];
	if (p >= 1)
		return sorted[n - 1];
	size_t rank = (size_t)ceil(p * (double)n); /* 1-based nearest rank */
	if (rank < 1)
		rank = 1;
	return sorted[rank - 1];
}

double chi_bench_median(const uint64_t *sorted, size_t n)
{
	if (n == 0)
		return NAN;
	if (n & 1)
		return (double)sorted[n / 2];
	return ((double)sorted[n / 2 - 1] + (double)sorted[n / 2]) / 2.0;
}

void chi_bench_result_init(chi_bench_result *r, const char *name)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name ? name : "");
	r->median_ns = NAN;
	r->p99_ns = NAN;
	r->ops_per_s = NAN;
	r->anchor_median_ns = NAN;
	r->anchor_ops_per_s = NAN;
	r->ratio = NAN;
}

void chi_bench_result_from_samples(chi_bench_result *r, uint64_t *samples, size_t n)
{
	chi_bench_sort_u64(samples, n);
	r->median_ns = chi_bench_median(samples, n);
	r->p99_ns = n ? (double)chi_bench_percentile(samples, n, 0.99) : NAN;
}

void chi_bench_cpu_device(char *buf, size_t len)
{
	char model[256] = "unknown";
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (f) {
		char line[512];
		while (fgets(line, sizeof(line), f)) {
			if (strncmp(line, "model name", 10) != 0)
				continue;
			char *p = strchr(line, ':');
			if (!p)
				continue;
			p++;
			while (*p == ' ' || *p == '\t')
				p++;
			size_t l = strcspn(p, "\r\n");
			while (l > 0 && (p[l - 1] == ' ' || p[l - 1] == '\t'))
				l--;
			if (l >= sizeof(model))
				l = sizeof(model) - 1;
			memcpy(model, p, l);
			model[l] = 0;
			break;
		}
		fclose(f);
	}
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	snprintf(buf, len, "cpu: %s, %ld cores", model, cores);
}

/* ---- JSON ---- */

static void json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\r': fputs("\\r", out); break;
		case '\t': fputs("\\t", out); break;
		default:
			if (*p < 0x20)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

static void json_num(FILE *out, double v)
{
	if (!isfinite(v))
		fputs("null", out);
	else if ((v == floor(v) || fabs(v) >= 1e5) && fabs(v) < 1e15)
		fprintf(out, "%.0f", v);
	else
		fprintf(out, "%.6g", v);
}

void chi_bench_write_json(FILE *out, const char *device, const chi_bench_result *r, size_t n)
{
	fputs("{\"device\":", out);
	json_str(out, device ? device : "");
	fputs(",\"results\":[", out);
	for (size_t i = 0; i < n; i++) {
		const chi_bench_result *x = &r[i];
		fputs(i ? ",\n  {" : "\n  {", out);
		fputs("\"name\":", out);
		json_str(out, x->name);
		fputs(",\"median_ns\":", out);
		json_num(out, x->median_ns);
		fputs(",\"p99_ns\":", out);
		json_num(out, x->p99_ns);
		fputs(",\"ops_per_s\":", out);
		json_num(out, x->ops_per_s);
		fprintf(out, ",\"lanes\":%u,\"depth\":%u,\"anchor\":", x->lanes, x->depth);
		if (x->anchor[0])
			json_str(out, x->anchor);
		else
			fputs("null", out);
		fputs(",\"anchor_median_ns\":", out);
		json_num(out, x->anchor_median_ns);
		fputs(",\"anchor_ops_per_s\":", out);
		json_num(out, x->anchor_ops_per_s);
		fputs(",\"ratio\":", out);
		json_num(out, x->ratio);
		fputc('}', out);
	}
	fputs("\n]}\n", out);
	fflush(out);
}

/* ---- table ---- */

static void fmt_ns(char *b, size_t len, double ns)
{
	if (!isfinite(ns))
		snprintf(b, len, "-");
	else if (ns < 10000)
		snprintf(b, len, "%.0f ns", ns);
	else if (ns < 10000000)
		snprintf(b, len, "%.2f us", ns / 1e3);
	else
		snprintf(b, len, "%.2f ms", ns / 1e6);
}

static void fmt_ops(char *b, size_t len, double ops)
{
	if (!isfinite(ops))
		snprintf(b, len, "-");
	else if (ops >= 1e6)
		snprintf(b, len, "%.2f M/s", ops / 1e6);
	else if (ops >= 1e3)
		snprintf(b, len, "%.1f K/s", ops / 1e3);
	else
		snprintf(b, len, "%.0f /s", ops);
}

void chi_bench_write_table(FILE *out, const char *device, const chi_bench_result *r, size_t n)
{
	fprintf(out, "device: %s\n", device ? device : "");
	fprintf(out, "%-30s %10s %10s %12s %5s %6s  %-22s %8s\n", "name", "median", "p99",
		"ops/s", "lanes", "depth", "anchor", "ratio");
	for (size_t i = 0; i < n; i++) {
		const chi_bench_result *x = &r[i];
		char med[32], p99[32], ops[32], ratio[32];
		fmt_ns(med, sizeof(med), x->median_ns);
		fmt_ns(p99, sizeof(p99), x->p99_ns);
		fmt_ops(ops, sizeof(ops), x->ops_per_s);
		if (isfinite(x->ratio))
			snprintf(ratio, sizeof(ratio), "%.2fx", x->ratio);
		else
			snprintf(ratio, sizeof(ratio), "-");
		fprintf(out, "%-30s %10s %10s %12s %5u %6u  %-22s %8s\n", x->name, med, p99, ops,
			x->lanes, x->depth, x->anchor[0] ? x->anchor : "-", ratio);
	}
	fflush(out);
}

void chi_bench_log(const chi_bench_opts *o, const char *fmt, ...)
{
	if (o->json && !o->verbose)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fflush(stderr);
}

int chi_bench_common_arg(int argc, char **argv, int *i, chi_bench_opts *o, const char **filter)
{
	const char *a = argv[*i];
	if (!strcmp(a, "--json"))
		o->json = 1;
	else if (!strcmp(a, "--quick"))
		o->quick = 1;
	else if (!strcmp(a, "--verbose") || !strcmp(a, "-v"))
		o->verbose = 1;
	else if (!strcmp(a, "--entries") && *i + 1 < argc)
		*filter = argv[++*i];
	else if (!strncmp(a, "--entries=", 10))
		*filter = a + 10;
	else
		return 0;
	return 1;
}

const char *chi_bench_self(void)
{
	static char path[4096];
	if (!path[0]) {
		ssize_t l = readlink("/proc/self/exe", path, sizeof(path) - 1);
		if (l <= 0)
			snprintf(path, sizeof(path), "/proc/self/exe");
		else
			path[l] = 0;
	}
	return path;
}

/* ---- runner ---- */

static const chi_bench_entry *find_entry(const chi_bench_entry *const *e, size_t n,
					 const char *name, size_t len, size_t *idx)
{
	for (size_t i = 0; i < n; i++) {
		if (strlen(e[i]->name) == len && strncmp(e[i]->name, name, len) == 0) {
			if (idx)
				*idx = i;
			return e[i];
		}
	}
	return NULL;
}

int chi_bench_run(const chi_bench_entry *const *e, size_t n, const char *filter,
		  const chi_bench_opts *o, const char *device)
{
	unsigned char want[CHI_BENCH_MAX_ENTRIES] = {0};
	if (n > CHI_BENCH_MAX_ENTRIES)
		n = CHI_BENCH_MAX_ENTRIES;

	if (!filter || !*filter) {
		memset(want, 1, n);
	} else {
		const char *p = filter;
		while (*p) {
			size_t len = strcspn(p, ",");
			if (len) {
				size_t idx;
				if (!find_entry(e, n, p, len, &idx)) {
					fprintf(stderr, "chi-bench: unknown entry '%.*s'\n", (int)len, p);
					return 2;
				}
				want[idx] = 1;
			}
			p += len;
			if (*p == ',')
				p++;
		}
	}
	/* every selected entry's anchor runs too, in the same run */
	for (size_t i = 0; i < n; i++) {
		if (!want[i] || !e[i]->anchor)
			continue;
		size_t idx;
		if (!find_entry(e, n, e[i]->anchor, strlen(e[i]->anchor), &idx)) {
			fprintf(stderr, "chi-bench: entry %s names unknown anchor %s\n", e[i]->name,
				e[i]->anchor);
			return 2;
		}
		want[idx] = 1;
	}

	chi_bench_result res[CHI_BENCH_MAX_ENTRIES];
	unsigned char ok[CHI_BENCH_MAX_ENTRIES] = {0};
	size_t idx_of[CHI_BENCH_MAX_ENTRIES];
	size_t nres = 0;
	int status = 0;

	/* anchors first, so their figures exist when a later entry needs them */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			if (!want[i] || (pass == 0) != (e[i]->anchor == NULL))
				continue;
			chi_bench_result r;
			chi_bench_result_init(&r, e[i]->name);
			chi_bench_log(o, "chi-bench: %s ...\n", e[i]->name);
			int rc = e[i]->run(o, &r);
			snprintf(r.name, sizeof(r.name), "%s", e[i]->name);
			if (rc == 77) {
				chi_bench_log(o, "chi-bench: %s skipped\n", e[i]->name);
				continue;
			}
			if (rc < 0) {
				fprintf(stderr, "chi-bench: %s failed: %s\n", e[i]->name,
					strerror(-rc));
				status = 1;
				continue;
			}
			if (e[i]->kind == CHI_BENCH_ANCHOR && !isfinite(r.ops_per_s) &&
			    r.median_ns > 0)
				r.ops_per_s = 1e9 / r.median_ns;
			ok[i] = 1;
			idx_of[i] = nres;
			res[nres++] = r;
		}
	}
	/* anchor figures and ratios */
	for (size_t i = 0; i < n; i++) {
		if (!ok[i] || !e[i]->anchor)
			continue;
		chi_bench_result *r = &res[idx_of[i]];
		size_t a = 0;
		snprintf(r->anchor, sizeof(r->anchor), "%s", e[i]->anchor);
		if (!find_entry(e, n, e[i]->anchor, strlen(e[i]->anchor), &a) || !ok[a])
			continue; /* anchor failed: figures stay null */
		const chi_bench_result *ar = &res[idx_of[a]];
		if (isfinite(r->anchor_median_ns) && r->anchor_median_ns > 0) {
			/* the entry measured its anchor itself, interleaved with
			 * its own runs (gpu_roundtrip_thread): that figure */
			r->anchor_ops_per_s = 1e9 / r->anchor_median_ns;
			r->ratio = r->median_ns / r->anchor_median_ns;
			continue;
		}
		r->anchor_median_ns = ar->median_ns;
		r->anchor_ops_per_s = ar->ops_per_s;
		if (e[i]->kind == CHI_BENCH_THROUGHPUT)
			r->ratio = r->ops_per_s / ar->ops_per_s;
		else
			r->ratio = r->median_ns / ar->median_ns;
	}
	/* output in table order */
	chi_bench_result sorted[CHI_BENCH_MAX_ENTRIES];
	size_t ns = 0;
	for (size_t i = 0; i < n; i++)
		if (ok[i])
			sorted[ns++] = res[idx_of[i]];
	if (o->json)
		chi_bench_write_json(stdout, device, sorted, ns);
	else
		chi_bench_write_table(stdout, device, sorted, ns);
	return status;
}
