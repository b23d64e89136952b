/* tools/demo.c: chi demo, the main job. Starts an embedded runtime, drives
 * the test module from several threads (double_plus with stamped values, echo
 * and large outputs compared byte for byte) and from a second process
 * (posix_spawn of `chi demo --child NAME`, which connects by name), and
 * prints tasks, errors, throughput and p50/p99 latency. Exit status 0 only if
 * every result was right. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chi/chi.h"
#include "chi/modules/bdev.h"
#include "chi/modules/test.h"
#include "cli.h"

extern char **environ;
#ifdef CHI_WITH_CUDA
int chi_demo_gpu(chi_client *c, unsigned long long *tasks, unsigned long long *errors);
#endif

#define CHILD_TASKS 20000u

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static chi_runtime *rt;
static pthread_mutex_t range_lock[16] = {
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER};
static uint32_t tasks_per_thread = 20000;

struct worker_stats {
	uint32_t id;
	uint64_t tasks, errors, bytes;
	uint64_t *lat;
	uint64_t nlat;
};

static void *client_thread(void *arg)
{
	struct worker_stats *s = arg;
	chi_client *c = chi_runtime_client(rt);
	enum { WINDOW = 32 };
	chi_test_double_plus_task t[WINDOW];
	chi_future f[WINDOW];
	uint64_t t0[WINDOW];
	uint8_t in[4096], out[4096];
	uint8_t *big = malloc(256 * 1024);
	for (uint32_t done = 0; done < tasks_per_thread; done += WINDOW) {
		for (int i = 0; i < WINDOW; i++) {
			uint64_t v = ((uint64_t)s->id << 32) | (done + (uint32_t)i);
			chi_test_double_plus_init(&t[i], CHI_POOL_TEST, v, s->id);
			t0[i] = now_ns();
			if (chi_make_copy_future(c, &t[i].hdr, &chi_test_double_plus_codec, &f[i]))
				s->errors++, t0[i] = 0;
		}
		for (int i = 0; i < WINDOW; i++) {
			if (!t0[i])
				continue;
			int64_t r = chi_future_wait(&f[i]);
			uint64_t want = t[i].value * 2 + s->id;
			if (r != (int64_t)want || t[i].result != want)
				s->errors++;
			s->lat[s->nlat++] = now_ns() - t0[i];
			s->tasks++;
		}
		/* every 64 windows: an echo through the arena and a large output */
		if ((done / WINDOW) % 64 == 0) {
			uint32_t n = 100 + (done % 3900);
			for (uint32_t i = 0; i < n; i++)
				in[i] = (uint8_t)(i ^ done ^ s->id);
			chi_test_echo_task e;
			chi_test_echo_init(&e, CHI_POOL_TEST, in, n, out, sizeof(out));
			if (chi_call(c, &e.hdr, &chi_test_echo_codec) != n || memcmp(in, out, n))
				s->errors++;
			chi_test_large_task l;
			chi_test_large_init(&l, CHI_POOL_TEST, done, 256 * 1024, big);
			if (chi_call(c, &l.hdr, &chi_test_large_codec) != 256 * 1024)
				s->errors++;
			for (uint32_t i = 0; i < 256 * 1024; i++)
				if (big[i] != chi_test_pattern(done, i)) {
					s->errors++;
					break;
				}
			/* 256 KiB through the RAM bdev (pool ram0), read back, compared;
			 * threads with the same id % 16 share a range, so their data may
			 * mix: each checks right after writing, under a per-range lock */
			uint64_t off = (uint64_t)(s->id % 16) << 21; /* < 32 MiB */
			pthread_mutex_lock(&range_lock[s->id % 16]);
			for (uint32_t i = 0; i < 256 * 1024; i++)
				big[i] = (uint8_t)(i * 13 + done + s->id);
			int64_t w = chi_bdev_write(c, CHI_POOL_BDEV, off, big, 256 * 1024);
			memset(big, 0, 256 * 1024);
			int64_t r = chi_bdev_read(c, CHI_POOL_BDEV, off, big, 256 * 1024);
			pthread_mutex_unlock(&range_lock[s->id % 16]);
			if (w != 256 * 1024 || r != 256 * 1024)
				s->errors++;
			for (uint32_t i = 0; i < 256 * 1024; i++)
				if (big[i] != (uint8_t)(i * 13 + done + s->id)) {
					s->errors++;
					break;
				}
			s->tasks += 4;
			s->bytes += 2ull * n + 3 * 256 * 1024;
		}
	}
	free(big);
	return NULL;
}

/* chi demo's log: warnings and errors on stderr; info lines (such as no
 * GPU on a CPU-only machine, which the summary's "GPU kernels" row says
 * anyway) are not shown */
static void demo_log(int level, const char *msg, void *arg)
{
	(void)arg;
	if (level != CHI_LOG_INFO)
		fprintf(stderr, "chi: %s\n", msg);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void usage(FILE *o)
{
	fprintf(o, "usage: chi demo [--threads N] [--tasks N] [--workers N] [--config FILE] [--name NAME]\n"
		   "  --threads N  client threads, 1 to 256 (default 2)\n"
		   "  --tasks N    tasks per thread, 1 to 100000000 (default 20000)\n"
		   "  --workers N  runtime workers, 1 to 1024 (default 1)\n"
		   "  --name NAME  the embedded runtime's name (default demo<pid>)\n"
		   "Starts an embedded chi runtime, drives the test module from N threads\n"
		   "and from a second process, checks every result and prints tasks,\n"
		   "errors, throughput and latency.\n");
}

/* The second process: connect by name, stamped double_plus with 32 in
 * flight, an echo every 64 windows, and 3 MiB written to and read back from
 * the RAM bdev; exit 0 only if all were right. */
static int demo_child(const char *name)
{
	chi_client *c;
	int rc = chi_client_connect(name, &c);
	if (rc) {
		fprintf(stderr, "chi demo (second process): connect: %s\n", chi_strerror(rc));
		return 1;
	}
	enum { W = 32 };
	chi_test_double_plus_task t[W];
	chi_future f[W];
	uint8_t in[2048], out[2048];
	uint64_t errors = 0;
	for (uint32_t done = 0; done < CHILD_TASKS; done += W) {
		for (int i = 0; i < W; i++) {
			chi_test_double_plus_init(&t[i], CHI_POOL_TEST, (1ull << 40) | (done + i), 99);
			if (chi_make_copy_future(c, &t[i].hdr, &chi_test_double_plus_codec, &f[i]))
				return 1;
		}
		for (int i = 0; i < W; i++)
			if (chi_future_wait(&f[i]) != (int64_t)(t[i].value * 2 + 99) ||
			    t[i].result != t[i].value * 2 + 99)
				errors++;
		if ((done / W) % 64 == 0) {
			uint32_t n = 1 + done % 2047;
			for (uint32_t k = 0; k < n; k++)
				in[k] = (uint8_t)(k + done);
			chi_test_echo_task e;
			chi_test_echo_init(&e, CHI_POOL_TEST, in, n, out, sizeof(out));
			if (chi_call(c, &e.hdr, &chi_test_echo_codec) != n || memcmp(in, out, n))
				errors++;
		}
	}
	/* 3 MiB through the RAM bdev, in a range the threads do not use */
	enum { BIG = 3 << 20 };
	uint8_t *b = malloc(BIG);
	if (!b)
		return 1;
	for (uint32_t k = 0; k < BIG; k++)
		b[k] = (uint8_t)(k * 31 + 7);
	if (chi_bdev_write(c, CHI_POOL_BDEV, 40ull << 20, b, BIG) != BIG)
		errors++;
	memset(b, 0, BIG);
	if (chi_bdev_read(c, CHI_POOL_BDEV, 40ull << 20, b, BIG) != BIG)
		errors++;
	for (uint32_t k = 0; k < BIG; k++)
		if (b[k] != (uint8_t)(k * 31 + 7)) {
			errors++;
			break;
		}
	free(b);
	chi_client_close(c);
	return errors ? 1 : 0;
}

int chi_cmd_demo(int argc, char **argv)
{
	uint32_t threads = 2, workers = 1;
	const char *conf = NULL, *name = NULL;
	unsigned long long v;
	static const struct option opts[] = {{"threads", required_argument, 0, 't'},
					     {"tasks", required_argument, 0, 'n'},
					     {"workers", required_argument, 0, 'w'},
					     {"config", required_argument, 0, 'c'},
					     {"help", no_argument, 0, 'h'},
					     {"child", required_argument, 0, 'C'},
					     {"name", required_argument, 0, 'N'},
					     {0, 0, 0, 0}};
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "t:n:w:c:h", opts, NULL)) != -1) {
		switch (o) {
		case 't':
			if (chi_cli_number("demo", "threads", optarg, 1, 256, &v))
				return 2;
			threads = (uint32_t)v;
			break;
		case 'n':
			if (chi_cli_number("demo", "tasks", optarg, 1, 100000000, &v))
				return 2;
			tasks_per_thread = (uint32_t)v;
			break;
		case 'w':
			if (chi_cli_number("demo", "workers", optarg, 1, 1024, &v))
				return 2;
			workers = (uint32_t)v;
			break;
		case 'c': conf = optarg; break;
		case 'N': name = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'C': return demo_child(optarg);
		default: usage(stderr); return 2;
		}
	}
	if (chi_cli_no_args("demo", argc, argv))
		return 2;
	chi_config cfg;
	if (chi_cli_load_config(&cfg, conf))
		return 1;
	if (!conf && !getenv("CHI_RUNTIME_NUM_WORKERS"))
		cfg.num_workers = workers;
	if (!conf && !getenv("CHI_GPU_QUEUE_DEPTH"))
		cfg.gpu_queue_depth = 32768; /* the GPU demo keeps 32768 tasks in flight */
	if (!conf && !getenv("CHI_GPU_CLIENTS"))
		cfg.gpu_clients = 1; /* from its one GPU client */
	if (!getenv("CHI_RUNTIME_NAME"))
		snprintf(cfg.name, sizeof(cfg.name), "demo%d", (int)getpid());
	if (chi_cli_set_name(&cfg, name))
		return 1;
	chi_set_log(demo_log, NULL);
#ifdef CHI_WITH_CUDA
	chi_gpu_cuda_enable(); /* GPU queues when a GPU is present */
#endif
	int rc = chi_runtime_start(&cfg, &rt);
	if (rc) {
		fprintf(stderr, "chi demo: cannot start the runtime: %s\n", chi_strerror(rc));
		return 1;
	}
	/* the second process: this program again, started with posix_spawn */
	char self[4096];
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	pid_t child = -1;
	if (sl > 0) {
		self[sl] = 0;
		char *cargv[] = {self, (char *)"demo", (char *)"--child", cfg.name, NULL};
		if (posix_spawn(&child, self, NULL, NULL, cargv, environ) != 0)
			child = -1;
	}
	printf("chi demo: embedded runtime '%s', %u workers, %u lanes, depth %u; %u client threads\n",
	       cfg.name, cfg.num_workers, cfg.lanes ? cfg.lanes : cfg.num_workers, cfg.queue_depth,
	       threads);
	pthread_t *th = calloc(threads, sizeof(pthread_t));
	struct worker_stats *st = calloc(threads, sizeof(*st));
	uint64_t start = now_ns();
	for (uint32_t i = 0; i < threads; i++) {
		st[i].id = i + 1;
		st[i].lat = malloc(sizeof(uint64_t) * (tasks_per_thread + 64));
		pthread_create(&th[i], NULL, client_thread, &st[i]);
	}
	uint64_t tasks = 0, errors = 0, bytes = 0, nlat = 0;
	for (uint32_t i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		tasks += st[i].tasks;
		errors += st[i].errors;
		bytes += st[i].bytes;
		nlat += st[i].nlat;
	}
#ifdef CHI_WITH_CUDA
	unsigned long long gtasks = 0, gerrors = 0;
	int gpu_ran = chi_demo_gpu(chi_runtime_client(rt), &gtasks, &gerrors) == 0;
	tasks += gtasks;
	errors += gerrors;
#else
	int gpu_ran = 0;
#endif
	int cst = -1;
	if (child > 0)
		waitpid(child, &cst, 0);
	int child_ok = child > 0 && WIFEXITED(cst) && WEXITSTATUS(cst) == 0;
	if (child_ok)
		tasks += CHILD_TASKS + (CHILD_TASKS / 32 + 63) / 64;
	else
		errors++;
	double secs = (double)(now_ns() - start) / 1e9;
	uint64_t *all = malloc(sizeof(uint64_t) * (nlat ? nlat : 1));
	for (uint32_t i = 0, k = 0; i < threads; i++)
		for (uint64_t j = 0; j < st[i].nlat; j++)
			all[k++] = st[i].lat[j];
	qsort(all, nlat, sizeof(uint64_t), cmp_u64);
	chi_runtime_stop(rt);

	printf("\n%-22s %14s\n", "metric", "value");
	printf("%-22s %14llu\n", "tasks", (unsigned long long)tasks);
	printf("%-22s %14llu\n", "errors", (unsigned long long)errors);
	printf("%-22s %14.0f\n", "throughput (tasks/s)", (double)tasks / secs);
	printf("%-22s %14.2f\n", "bytes checked (MiB)", (double)bytes / (1 << 20));
	printf("%-22s %14.1f\n", "p50 latency (us)", nlat ? (double)all[nlat / 2] / 1e3 : 0.0);
	printf("%-22s %14.1f\n", "p99 latency (us)", nlat ? (double)all[nlat * 99 / 100] / 1e3 : 0.0);
	printf("%-22s %14s\n", "second process", child_ok ? "all checked" : "FAILED");
	printf("%-22s %14s\n", "GPU kernels", gpu_ran ? "all checked" : "no GPU here");
	printf("(latency: submit to result in this process, %d futures in flight per thread)\n", 32);
	printf("\n%s\n", errors ? "FAILED: some results were wrong" : "OK: every result checked");
	for (uint32_t i = 0; i < threads; i++)
		free(st[i].lat);
	free(all);
	free(st);
	free(th);
	return errors ? 1 : 0;
}
