/* tests/stress_main.h: the process side of the storm, soak and
 * buggy-client suites (tests/storm_clients.c, tests/soak_runtime.c,
 * tests/fault_buggy_client.c): a runtime child process of this binary
 * (spawned with st_runtime_spawn, its body st_runtime_main, a backtrace on
 * stderr when it crashes), and the part of main() that follows the child
 * roles (st_main). Their child roles themselves: tests/storm_roles.h,
 * tests/soak_roles.h, tests/buggy_roles.h, tests/buggy_writer.h. */
#ifndef CHI_TESTS_STRESS_MAIN_H
#define CHI_TESTS_STRESS_MAIN_H

#include "test_util.h"
#include "stress_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define ST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ST_ASAN 1
#endif
#endif

#if !defined(ST_ASAN)
#include <execinfo.h>
#endif

/* ---- a runtime child: "--runtime NAME key=value ..." ----
 * keys: workers lanes depth gpus (simulated) gpu_depth gpu_clients
 * max_task seg (main_segment_size) hole_ms busy_us */
#if !defined(ST_ASAN) && !defined(CHI_TSAN)
static void st_crash_handler(int sig)
{
	char msg[96];
	int n = snprintf(msg, sizeof(msg), "\nruntime child %d: signal %d, backtrace:\n", (int)getpid(),
			 sig);
	if (write(2, msg, (size_t)n) < 0)
		_exit(128 + sig);
	void *bt[64];
	int k = backtrace(bt, 64);
	backtrace_symbols_fd(bt, k, 2);
	signal(sig, SIG_DFL);
	raise(sig);
}
#endif

/* A backtrace on stderr when the runtime child crashes (ASan prints its
 * own; frames are binary+offset: addr2line -f -e BINARY OFFSET names them). */
static inline void st_crash_backtraces(void)
{
#if !defined(ST_ASAN) && !defined(CHI_TSAN)
	static char stack[1 << 16];
	stack_t ss = {.ss_sp = stack, .ss_size = sizeof(stack), .ss_flags = 0};
	sigaltstack(&ss, NULL);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = st_crash_handler;
	sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
	int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	void *bt[2];
	backtrace(bt, 2); /* loads libgcc now, not inside the handler */
#endif
}

static inline int st_runtime_main(int argc, char **argv)
{
	st_child_init();
	if (argc < 3)
		return 2;
	chi_config cfg;
	chi_config_defaults(&cfg);
	snprintf(cfg.name, sizeof(cfg.name), "%s", argv[2]);
	cfg.num_workers = 2;
	cfg.lanes = 2;
	cfg.queue_depth = 64;
	cfg.first_busy_wait_us = 2000;
	cfg.max_sleep_us = 20000;
	cfg.npools = 2; /* admin and test */
	uint32_t gpus = 0;
	for (int i = 3; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq)
			return 2;
		*eq = 0;
		uint64_t v = strtoull(eq + 1, NULL, 0);
		const char *k = argv[i];
		if (!strcmp(k, "workers"))
			cfg.num_workers = (uint32_t)v;
		else if (!strcmp(k, "lanes"))
			cfg.lanes = (uint32_t)v;
		else if (!strcmp(k, "depth"))
			cfg.queue_depth = (uint32_t)v;
		else if (!strcmp(k, "gpus"))
			gpus = (uint32_t)v;
		else if (!strcmp(k, "gpu_depth"))
			cfg.gpu_queue_depth = (uint32_t)v;
		else if (!strcmp(k, "gpu_clients"))
			cfg.gpu_clients = (uint32_t)v;
		else if (!strcmp(k, "max_task"))
			cfg.max_task_size = v;
		else if (!strcmp(k, "seg"))
			cfg.main_segment_size = v;
		else if (!strcmp(k, "hole_ms"))
			cfg.hole_timeout_ms = (uint32_t)v;
		else if (!strcmp(k, "busy_us"))
			cfg.first_busy_wait_us = v;
		else
			return 2;
	}
	if (gpus) {
		chi_gpu_simulate(gpus);
		cfg.gpu_enabled = CHI_ON;
		cfg.gpu_lanes = 1;
		cfg.gpu_segment_size = 16u << 20;
		cfg.gpu_workers = CHI_GPU_WORKERS_SHARED;
		if (!cfg.gpu_queue_depth)
			cfg.gpu_queue_depth = 256;
	} else {
		cfg.gpu_enabled = CHI_OFF;
	}
	st_crash_backtraces();
	chi_runtime *rt;
	int rc = chi_runtime_start(&cfg, &rt);
	if (rc) {
		fprintf(stderr, "runtime child: start: %s\n", chi_strerror(rc));
		return 3;
	}
	while (!chi_runtime_stop_requested(rt))
		st_nap_us(5000);
	chi_runtime_stop(rt);
	return 0;
}

/* Spawn a runtime child of this binary (`self`) named `name`, the shape
 * the soak and the buggy client run against: 2 workers, 2 CPU lanes of
 * depth 64, one simulated GPU lane with room for 4 GPU clients, a main
 * segment of `seg` bytes. Its pid, or -1. */
static inline pid_t st_runtime_spawn(char *self, const char *name, uint64_t seg)
{
	char segs[32];
	snprintf(segs, sizeof(segs), "seg=%llu", (unsigned long long)seg);
	char *argv[] = {self, (char *)"--runtime", (char *)name, (char *)"workers=2",
			(char *)"lanes=2", (char *)"depth=64", (char *)"gpus=1", (char *)"gpu_clients=4",
			segs, NULL};
	return st_spawn(argv, NULL, NULL);
}

/* ---- main(), after the child roles ----
 * What the three tests do once no child role of theirs (--victim,
 * --client, --garbage ...) took the command line: a runtime child
 * ("--runtime NAME key=value ...") for a test that spawns them; the length
 * from its environment variable (the sanitizer builds set it shorter),
 * then --seconds N (--minutes N), --seed S and the test's own flags;
 * skipped (77) under ThreadSanitizer, which cannot see the synchronization
 * through memory shared between processes (as tests/test_xproc.c); this
 * binary's path for the children; stdout by lines; the cmocka run. */
typedef struct st_main_args {
	const char *prog;  /* the binary's name: the usage and skip lines */
	const char *usage; /* its flags, for "usage: PROG USAGE" */
	const char *env;   /* the variable that sets the length */
	/* the length (one of the two set), the default in and what was asked
	 * for out: whole seconds (read with atoi, as the storm and the soak
	 * always took them) or any; an environment value of 0 or less is
	 * ignored */
	unsigned *whole_seconds;
	double *seconds;
	int minutes;    /* --minutes N (N * 60 s) as well */
	uint64_t *seed; /* --seed S, or NULL */
	int runtime;    /* it spawns runtime children (st_runtime_spawn) */
	/* its own flag at argv[*i]: 1 taken (*i moved past its value), 0 not */
	int (*flag)(int argc, char **argv, int *i);
	/* after the flags, before the skip: 0, or the exit status */
	int (*parsed)(void);
	char *self; /* receives this binary's path */
	size_t self_cap;
} st_main_args;

/* Set the length from text v, in seconds or minutes. */
static inline void st_set_seconds(const st_main_args *a, const char *v, int minutes)
{
	if (a->whole_seconds)
		*a->whole_seconds = minutes ? (unsigned)(atof(v) * 60) : (unsigned)atoi(v);
	else
		*a->seconds = minutes ? atof(v) * 60 : atof(v);
}

static inline int st_main(const st_main_args *a, int argc, char **argv,
			  const struct CMUnitTest *tests, size_t ntests)
{
	if (a->runtime && argc >= 3 && !strcmp(argv[1], "--runtime"))
		return st_runtime_main(argc, argv);
	const char *env = getenv(a->env);
	if (env && (a->whole_seconds ? atoi(env) : atof(env)) > 0)
		st_set_seconds(a, env, 0);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			st_set_seconds(a, argv[++i], 0);
		else if (a->minutes && !strcmp(argv[i], "--minutes") && i + 1 < argc)
			st_set_seconds(a, argv[++i], 1);
		else if (a->seed && !strcmp(argv[i], "--seed") && i + 1 < argc)
			*a->seed = strtoull(argv[++i], NULL, 0);
		else if (!a->flag || !a->flag(argc, argv, &i)) {
			fprintf(stderr, "usage: %s %s\n", a->prog, a->usage);
			return 2;
		}
	}
	int rc = a->parsed ? a->parsed() : 0;
	if (rc)
		return rc;
#if defined(CHI_TSAN)
	fprintf(stderr, "%s: skipped under ThreadSanitizer (cross-process)\n", a->prog);
	return 77;
#endif
	if (test_self_exe(a->self, a->self_cap))
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* what cmocka_run_group_tests(tests, NULL, NULL) expands to */
	return _cmocka_run_group_tests("tests", tests, ntests, NULL, NULL);
}

#endif
