/* bench/bench_util.h: shared pieces of chi-bench: timing, sample statistics,
 * the result record, the entry table and its runner, and the output (a
 * readable table or the JSON of docs/benchmarks.md, "The program").
 *
 * An entry is a function that measures one thing and fills a result's
 * numbers (median_ns, p99_ns, ops_per_s, lanes, depth). The runner
 * (chi_bench_run) selects entries, runs each entry's anchor first, and fills
 * name, anchor, anchor_median_ns, anchor_ops_per_s and ratio:
 *   latency entries:    ratio = median_ns / anchor's median_ns
 *   throughput entries: ratio = ops_per_s / anchor's ops_per_s
 * An entry that measures its anchor itself, interleaved with its own runs,
 * sets anchor_median_ns; the ratio then uses that figure.
 * Anchor entries themselves have no anchor (JSON null for anchor fields and
 * ratio). Fields that do not apply are NaN (JSON null) or 0 (lanes, depth).
 *
 * Adding entries: write them in another file (e.g. bench/bench_xproc.c) and
 * define there the strong version of chi_bench_xproc_entries(); bench_cpu.c
 * holds a weak default that returns none. Helper processes are started with
 * posix_spawn of chi_bench_self() with argv[1] = CHI_BENCH_CHILD_ARG; main
 * passes such a command line to chi_bench_child() (weak default in
 * bench_main.c). */
#ifndef CHI_BENCH_UTIL_H
#define CHI_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CHI_BENCH_NAME_MAX 64
#define CHI_BENCH_MAX_ENTRIES 64
#define CHI_BENCH_CHILD_ARG "__child"

/* ---- timing ---- */
uint64_t chi_bench_now_ns(void); /* CLOCK_MONOTONIC */

/* ---- samples ---- */
void chi_bench_sort_u64(uint64_t *v, size_t n);
/* Nearest-rank percentile (p in [0,1]) of sorted samples; 0 if n == 0. */
uint64_t chi_bench_percentile(const uint64_t *sorted, size_t n, double p);
/* Median (mean of the two middle ones for even n) of sorted samples. */
double chi_bench_median(const uint64_t *sorted, size_t n);

/* ---- results ---- */
typedef struct chi_bench_result {
	char name[CHI_BENCH_NAME_MAX];
	double median_ns;
	double p99_ns;
	double ops_per_s;
	uint32_t lanes;  /* runtime lanes used, 0 when no runtime */
	uint32_t depth;  /* queue depth per lane, 0 when no runtime */
	char anchor[CHI_BENCH_NAME_MAX]; /* "" = none (JSON null) */
	double anchor_median_ns;
	double anchor_ops_per_s;
	double ratio;
} chi_bench_result;

void chi_bench_result_init(chi_bench_result *r, const char *name);
/* Sort `n` samples in place and set median_ns and p99_ns. */
void chi_bench_result_from_samples(chi_bench_result *r, uint64_t *samples, size_t n);

/* "cpu: <model name>, N cores" */
void chi_bench_cpu_device(char *buf, size_t len);

/* {"device":..,"results":[..]} on `out`, one line per result. */
void chi_bench_write_json(FILE *out, const char *device, const chi_bench_result *r, size_t n);
void chi_bench_write_table(FILE *out, const char *device, const chi_bench_result *r, size_t n);

/* ---- entries ---- */
typedef struct chi_bench_opts {
	int quick;  /* fewer iterations: CI smoke runs, a few seconds in all */
	int json;   /* only JSON on stdout; progress goes to stderr (or nowhere) */
	int verbose;
} chi_bench_opts;

typedef enum chi_bench_kind {
	CHI_BENCH_ANCHOR = 0,     /* reference figure; ops_per_s = 1e9 / median */
	CHI_BENCH_LATENCY = 1,
	CHI_BENCH_THROUGHPUT = 2,
} chi_bench_kind;

/* Returns 0, 77 when the entry cannot run here (skipped, not an error), or
 * a negative errno. The runner has already set r->name. */
typedef int (*chi_bench_fn)(const chi_bench_opts *o, chi_bench_result *r);

typedef struct chi_bench_entry {
	const char *name;
	chi_bench_kind kind;
	const char *anchor; /* name of another entry, NULL for anchors */
	chi_bench_fn run;
	const char *what;   /* one line for --help */
} chi_bench_entry;

/* Run the entries named in `filter` (comma separated; NULL = all), plus the
 * anchors they need, in table order; print the table or JSON. Returns the
 * process exit status: 0, 1 if an entry failed, 2 for an unknown name. */
int chi_bench_run(const chi_bench_entry *const *entries, size_t n, const char *filter,
		  const chi_bench_opts *o, const char *device);

/* Entries from other files; weak defaults return 0 entries. */
size_t chi_bench_xproc_entries(const chi_bench_entry **out);

/* Helper process entry point (argv[1] == CHI_BENCH_CHILD_ARG). */
int chi_bench_child(int argc, char **argv);
/* Path to this executable, for posix_spawn of helper processes. */
const char *chi_bench_self(void);

/* Options every chi-bench command takes (--json, --quick, --verbose,
 * --entries a,b): 1 if argv[*i] was one (*i moves past its value), else 0. */
int chi_bench_common_arg(int argc, char **argv, int *i, chi_bench_opts *o, const char **filter);

/* stderr progress unless --json (then only with verbose) */
void chi_bench_log(const chi_bench_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

int chi_bench_cpu(int argc, char **argv);

#endif
