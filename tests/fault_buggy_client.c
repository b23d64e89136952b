/* tests/fault_buggy_client.c: a buggy client (label fault; issue 20,
 * Deliver 2). A process of the same user writes garbage, random and
 * crafted, into what it can reach in the main segment (and its simulated
 * GPU's segment) while an honest client in another process submits stamped
 * tasks. Each target runs against a runtime of its own (a child process:
 * 2 workers, 2 CPU lanes of depth 64, one simulated GPU lane), so a crash
 * is pinned to its target:
 *
 *   slots     ring slots of every CPU and GPU ring: random words, and
 *             crafted PUBLISHED / CLAIMED control words for the slots at and
 *             just past head, pointing at the writer's own garbage blocks,
 *             at offsets inside and outside the segment, at other segments
 *   claims    the rings' claim counters: random, a little back, a little or
 *             a lap ahead
 *   heads     the rings' consumer heads (ring.h C4): a step back or ahead,
 *             random, the claim counter
 *   futures   the writer's own future blocks (every header word: flags with
 *             POINTER / COMPLETE / STARTED / ABANDONED, result, out_size,
 *             data, data_cap, task_ptr, client, lane; random copy space),
 *             published on every ring, and rewritten while the worker may
 *             be reading them, and published again
 *   copy      a valid task header in copy space with wrong sizes and
 *             payloads (echo lengths past the wire, short double_plus)
 *   data      tasks in the writer's data blocks with wrong data_cap, data
 *             pointing outside the segment, into the runtime's structures
 *             below the arena, at random arena offsets, or at the block
 *             itself; the bytes rewritten while the task runs
 *   chunks    its own chunk lists (more clients connected in the writer):
 *             heads and links out of the segment, misaligned, self and
 *             two-cycles, sizes that are no class; each client then closed
 *             or left to die with the writer
 *   table     its own client-table entries and free ones: states (DEAD,
 *             CLOSED, LIVE, claims), pids (0, 1, -1, dead), epochs, chunk
 *             heads (free ones through a writable mapping of its own: RO2
 *             makes every entry but its own read-only in its client)
 *   lanes     the rest of the lane records: `claimed`, slots offsets,
 *             depth, shift, worker, id, the counters and histogram
 *   gpu       its GPU slice: inboxes (random words and words with the seal
 *             mark), its future and data blocks, and entries published on
 *             the GPU ring (sealed and not, packed counts) pointing at them
 *             and elsewhere
 * and, only when asked (--targets, --all, --dir), what only the runtime
 * writes:
 *   dir       the directory (nlanes, nworkers, depth, max_task_size,
 *             workers_off, lanes_off, clients_off, max_clients, ngpus,
 *             counters, pools), the allocator's header, the segment header
 *             and the GPU directory
 *   workers   worker records (sleep words, task_seq, handed / handled)
 *   others    other clients' table entries and chunk lists, and slots and
 *             data pointers aimed at the honest client's blocks
 * Offsets the writer puts in blocks, slots and links point, by default,
 * into its own memory, outside the segment or across its end; with
 * --structs (and for dir, others, --all) also into the runtime's
 * structures below the arena (segment header, directory, workers, lanes,
 * slots, client table), where a worker that takes one for a future block
 * writes a completion.
 * The honest client (2 CPU threads, lanes 0 and 1, and a GPU thread) keeps
 * 8 tasks in flight each, try-submits (-EAGAIN for 200 ms counts as
 * refused) and waits 1 s at most (a task the garbage swallowed counts as
 * timed out): every result it accepts must be right (wrong: 0) or a clean
 * negative errno. At the end the runtime process must be alive and answer
 * admin.stats on some ring (a probe process, connected before the
 * garbage, asks on each lane and priority). For the three ring-word
 * targets (slots, claims, heads) a runtime that lives but answers on no
 * ring is reported WEDGED and not failed (--strict fails it). Each such
 * word used to wedge a ring for good (a slot not EMPTY at the claim
 * counter made chi_ring_try_claim spin for ever; a claim counter moved
 * left unmarked holes or tickets handed out twice; the worker read its
 * head back from the segment); the runtime now repairs all three (holes.c:
 * stray slot words, CC1, RV1-RV2; its own head copy), and a --strict run
 * reports none wedged. The writer may die of its own
 * garbage (its SIGSEGV is counted, it is started again). Figures per
 * target are printed. Default: the default targets, 10 s of garbage in
 * all (--seconds N, or CHI_BUGGY_SECONDS; sanitizer builds run shorter),
 * seed fixed (--seed S); CHI_BC_CASE=k makes the writer use only shape k
 * of its target (to pin a finding down). The child roles: the writer in
 * tests/buggy_writer.h, the honest client and the probe in
 * tests/buggy_roles.h.
 *
 * Cross-process: skipped under ThreadSanitizer (as tests/test_xproc.c). */
#include "test_util.h"
#include "stress_main.h"

#include <pthread.h>

#include "buggy_roles.h"
#include "buggy_writer.h"

static char self_path[4096];
static double bc_seconds = 10;
static int bc_strict;
static uint64_t bc_seed = 0xb06c11e7ull;

/* ======================= the test ======================= */

typedef struct bc_result {
	int target;
	int crashed, sig, code; /* the runtime died: by signal sig, or exited with code */
	int answered, rings;
	uint64_t g_lives, g_deaths, g_writes, g_published;
	int g_sig;
	char honest[256];
	int honest_rc;
} bc_result;

static int seq_name;

static void run_target(int target, double seconds, uint64_t seed, bc_result *res)
{
	memset(res, 0, sizeof(*res));
	res->target = target;
	char name[32];
	snprintf(name, sizeof(name), "bc%d_%d", (int)getpid(), seq_name++);
	pid_t rt = st_runtime_spawn(self_path, name, 128u << 20);
	assert_true(rt > 0);
	chi_client *m;
	assert_int_equal(st_connect_within(name, &m, 10000), 0);
	char line[512];
	/* the probe and the honest client connect before the garbage */
	int pin = -1, pout = -1, hin = -1, hout = -1;
	char *pargv[] = {self_path, (char *)"--probe", name, NULL};
	pid_t probe = st_spawn(pargv, &pout, &pin);
	assert_true(probe > 0);
	assert_true(st_read_line(pout, line, sizeof(line), 10000) > 0);
	char *hargv[] = {self_path, (char *)"--honest", name, NULL};
	pid_t honest = st_spawn(hargv, &hout, &hin);
	assert_true(honest > 0);
	assert_true(st_read_line(hout, line, sizeof(line), 10000) > 0);
	st_nap_us(100000);

	/* the writer, again whenever its garbage kills it first */
	uint64_t end = st_now_ns() + (uint64_t)(seconds * 1e9), rng = seed;
	while (st_now_ns() + 20000000ull < end) {
		char tn[8], ms[24], sd[24];
		snprintf(tn, sizeof(tn), "%d", target);
		snprintf(ms, sizeof(ms), "%llu", (unsigned long long)((end - st_now_ns()) / 1000000u));
		snprintf(sd, sizeof(sd), "%llu", (unsigned long long)st_rand(&rng));
		char *gargv[] = {self_path, (char *)"--garbage", name, tn, ms, sd, NULL};
		int gout = -1;
		pid_t gp = st_spawn(gargv, &gout, NULL);
		assert_true(gp > 0);
		int n = st_read_line(gout, line, sizeof(line), (int)(seconds * 1000) + 10000);
		int st;
		if (!st_wait_within(gp, &st, 5000)) {
			st_kill_reap(gp);
			st = 0;
		}
		close(gout);
		res->g_lives++;
		if (n > 0) {
			res->g_writes += st_kv(line, "writes", 0);
			res->g_published += st_kv(line, "published", 0);
		} else if (WIFSIGNALED(st)) {
			res->g_deaths++;
			res->g_sig = WTERMSIG(st);
		}
		if (waitpid(rt, &st, WNOHANG) == rt) { /* the runtime died */
			res->crashed = 1;
			res->sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
			res->code = WIFEXITED(st) ? WEXITSTATUS(st) : 0;
			rt = 0;
			break;
		}
	}
	/* the honest client stops and reports while the probe asks the
	 * runtime (both at once: each may wait out a wedged ring) */
	st_nap_us(100000);
	int go = rt && write(pin, "go\n", 3) == 3;
	close(hin);
	res->honest_rc = st_read_line(hout, res->honest, sizeof(res->honest), 8000);
	st_kill_reap(honest);
	close(hout);
	if (go && st_read_line(pout, line, sizeof(line), 8000) > 0) {
		res->answered = (int)st_kv(line, "answered", 0);
		res->rings = (int)st_kv(line, "rings", 0);
	}
	int st;
	if (rt && waitpid(rt, &st, WNOHANG) == rt) {
		res->crashed = 1;
		res->sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
		res->code = WIFEXITED(st) ? WEXITSTATUS(st) : 0;
		rt = 0;
	}
	st_kill_reap(probe);
	close(pin);
	close(pout);
	if (rt)
		st_kill_reap(rt);
	chi_client_close(m);
	st_cleanup(name);
}

static int bc_targets[T_N], bc_ntargets;

static void test_buggy_client(void **state)
{
	(void)state;
	bc_result res[T_N];
	double per = bc_seconds / bc_ntargets;
	if (per < 0.3)
		per = 0.3;
	int failed = 0;
	char crashed[128] = "", wedged[128] = "";
	uint64_t ok = 0, refused = 0, errs = 0, lost = 0, writes = 0, wrongs = 0;
	for (int i = 0; i < bc_ntargets; i++) {
		bc_result *r = &res[i];
		run_target(bc_targets[i], per, bc_seed + (uint64_t)i, r);
		uint64_t wrong = st_kv(r->honest, "wrong", 0);
		int ring_word = r->target <= T_HEADS;
		ok += st_kv(r->honest, "ok", 0);
		wrongs += wrong;
		errs += st_kv(r->honest, "errors", 0);
		lost += st_kv(r->honest, "timeouts", 0);
		refused += st_kv(r->honest, "refused", 0);
		writes += r->g_writes;
		printf("buggy_client: %-8s %.1f s, writer: %llu lives (%llu died of their own garbage, "
		       "last signal %d), %llu words written, %llu entries published | honest: %s | runtime: "
		       "%s, admin.stats answered on %d of %d rings\n",
		       tname[r->target], per, (unsigned long long)r->g_lives,
		       (unsigned long long)r->g_deaths, r->g_sig, (unsigned long long)r->g_writes,
		       (unsigned long long)r->g_published,
		       r->honest_rc > 0 ? r->honest : "(no report)",
		       r->crashed ? "DIED" : "alive", r->answered, r->rings);
		if (r->crashed) {
			printf("buggy_client: %-8s the runtime died: signal %d (%s), exit code %d\n",
			       tname[r->target], r->sig, r->sig ? strsignal(r->sig) : "-", r->code);
			snprintf(crashed + strlen(crashed), sizeof(crashed) - strlen(crashed), " %s",
				 tname[r->target]);
		}
		const char *why = wrong ? "an honest task accepted a wrong result"
				  : r->crashed ? "the runtime died"
				  : r->honest_rc <= 0 ? "the honest client did not report"
				  : r->answered <= 0 ? "admin.stats answered on no ring"
						     : NULL;
		if (why && r->answered <= 0 && !r->crashed && !wrong && r->honest_rc > 0 && ring_word &&
		    !bc_strict) {
			/* a ring word only the ring's protocol guards: the
			 * runtime lives, its rings are wedged (reported) */
			printf("buggy_client: %-8s WEDGED (not asserted without --strict): the runtime "
			       "lives but answers on no ring\n", tname[r->target]);
			snprintf(wedged + strlen(wedged), sizeof(wedged) - strlen(wedged), " %s",
				 tname[r->target]);
		} else if (why) {
			failed++;
			printf("buggy_client: %-8s FAILED: %s\n", tname[r->target], why);
		}
	}
	printf("buggy_client: %d targets, %.0f s of garbage, %llu words written; honest: %llu right, "
	       "%llu wrong accepted, %llu clean errors, %llu lost (timed out), %llu refused (-EAGAIN); "
	       "runtime died on:%s; wedged on:%s\n",
	       bc_ntargets, per * bc_ntargets, (unsigned long long)writes, (unsigned long long)ok,
	       (unsigned long long)wrongs,
	       (unsigned long long)errs, (unsigned long long)lost, (unsigned long long)refused,
	       crashed[0] ? crashed : " none", wedged[0] ? wedged : " none");
	assert_int_equal(failed, 0);
}

/* The test's own flags: --targets a,b,... or else the default targets
 * (--all: every one, with --structs; --dir: and dir), --strict, --structs. */
static int bc_dir, bc_all;
static const char *bc_list;

static int bc_flag(int argc, char **argv, int *i)
{
	if (!strcmp(argv[*i], "--targets") && *i + 1 < argc)
		bc_list = argv[++*i];
	else if (!strcmp(argv[*i], "--dir"))
		bc_dir = 1;
	else if (!strcmp(argv[*i], "--all"))
		bc_all = 1;
	else if (!strcmp(argv[*i], "--strict"))
		bc_strict = 1;
	else if (!strcmp(argv[*i], "--structs"))
		setenv("CHI_BC_STRUCTS", "1", 1); /* the writers inherit it */
	else
		return 0;
	return 1;
}

static int bc_pick_targets(void)
{
	if (bc_list) {
		char buf[256];
		snprintf(buf, sizeof(buf), "%s", bc_list);
		for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
			int t = 0;
			while (t < T_N && strcmp(tname[t], tok))
				t++;
			if (t == T_N) {
				fprintf(stderr, "fault_buggy_client: no target %s\n", tok);
				return 2;
			}
			bc_targets[bc_ntargets++] = t;
		}
	} else {
		for (int t = 0; t < (bc_all ? T_N : T_NDEFAULT); t++)
			bc_targets[bc_ntargets++] = t;
		if (bc_all)
			setenv("CHI_BC_STRUCTS", "1", 1);
		if (bc_dir && !bc_all)
			bc_targets[bc_ntargets++] = T_DIR;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "--garbage"))
		return garbage_main(argv[2], atoi(argv[3]), strtoull(argv[4], NULL, 10),
				    strtoull(argv[5], NULL, 10));
	if (argc == 3 && !strcmp(argv[1], "--honest"))
		return honest_main(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "--probe"))
		return probe_main(argv[2]);
	static char usage[512] = "[--seconds N] [--seed S] [--dir] [--all] [--strict] [--structs] "
				 "[--targets a,b,...]\ntargets:";
	for (int t = 0; t < T_N; t++)
		snprintf(usage + strlen(usage), sizeof(usage) - strlen(usage), " %s%s", tname[t],
			 t < T_NDEFAULT ? "" : "*");
	snprintf(usage + strlen(usage), sizeof(usage) - strlen(usage), " (* not by default)");
	static const st_main_args args = {
		.prog = "fault_buggy_client",
		.usage = usage,
		.env = "CHI_BUGGY_SECONDS",
		.seconds = &bc_seconds,
		.seed = &bc_seed,
		.runtime = 1,
		.flag = bc_flag,
		.parsed = bc_pick_targets,
		.self = self_path,
		.self_cap = sizeof(self_path),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buggy_client),
	};
	return st_main(&args, argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
