/* bench/bench_main.c: chi-bench, the benchmark program.
 *
 *   chi-bench cpu [--json] [--quick] [--entries a,b]   CPU entries
 *   chi-bench gpu [...]                                GPU entries (CUDA builds)
 *   chi-bench bdev [--json] [--quick] [--dir D]        bdev file I/O vs fio
 *   chi-bench drain [--json] [--quick]                 a worker's cost per
 *                                                      GPU-lane task (no GPU)
 *   chi-bench cluster [--json] [--quick] [--tls tcp|shm]  tasks routed to
 *                                                      another node over UCX
 *
 * With --json only JSON goes to stdout (docs/benchmarks.md, "The program"). A command
 * that cannot run here exits 77. */
#include <stdio.h>
#include <string.h>

#include "bench_util.h"

int chi_bench_bdev(int argc, char **argv); /* bench_bdev.c */
int chi_bench_drain(int argc, char **argv); /* bench_drain.c */
int chi_bench_cluster(int argc, char **argv); /* bench_cluster.c */

/* Helper processes of cross-process entries; bench_xproc.c overrides. */
__attribute__((weak)) int chi_bench_child(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "chi-bench: no helper roles in this build\n");
	return 2;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: chi-bench cpu [--json] [--quick] [--entries a,b]\n"
		"       chi-bench gpu [--json] [--quick] [--entries a,b]\n"
		"       chi-bench bdev [--json] [--quick] [--dir D]\n"
		"       chi-bench drain [--json] [--quick] [--entries a,b]\n"
		"       chi-bench cluster [--json] [--quick] [--entries a,b] [--tls tcp|shm]\n"
		"       chi-bench cpu --help   (lists the entries)\n"
		"  --json    print only {\"device\":..,\"results\":[..]} on stdout\n"
		"  --quick   fewer iterations (smoke runs)\n");
}

#ifdef CHI_WITH_CUDA
int chi_bench_gpu(int argc, char **argv);
#endif

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, CHI_BENCH_CHILD_ARG))
		return chi_bench_child(argc - 1, argv + 1);
	if (!strcmp(cmd, "cpu"))
		return chi_bench_cpu(argc - 1, argv + 1);
	if (!strcmp(cmd, "bdev"))
		return chi_bench_bdev(argc - 1, argv + 1);
	if (!strcmp(cmd, "drain"))
		return chi_bench_drain(argc - 1, argv + 1);
	if (!strcmp(cmd, "cluster"))
		return chi_bench_cluster(argc - 1, argv + 1);
	if (!strcmp(cmd, "gpu")) {
#ifdef CHI_WITH_CUDA
		return chi_bench_gpu(argc - 1, argv + 1);
#else
		fprintf(stderr, "chi-bench gpu: not built (no CUDA)\n");
		return 77;
#endif
	}
	fprintf(stderr, "chi-bench: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
