/* bench/bench_cluster.c: `chi-bench cluster`, tasks routed to another node
 * over UCX, each entry beside its anchor measured between the same two
 * processes in the same run.
 *
 *   chi-bench cluster [--json] [--quick] [--entries a,b] [--tls tcp|shm]
 *
 * One session per transport (tcp, then shm; --tls picks one; bench_cluster_
 * session.c), with UCX_NET_DEVICES=lo and UCX_TLS set in the environment of
 * both processes before any UCX call (tcp: "tcp"; shm: BC_SHM_TLS, shared
 * memory for the messages and tcp for the sockaddr connection manager, plus
 * what set_ucx_env in bench_cluster_session.c adds). In a session both processes first measure the
 * bare UCX anchors, then each runs a chi runtime (node 0 and node 1) and node
 * 0 measures the chi entries. Sessions run before the entry table
 * (chi_bench_run) is printed: the entries hand back what the sessions
 * measured. UCX logs to stdout: stdout points to stderr meanwhile, so that
 * --json keeps stdout for the JSON alone.
 *
 * The targets (docs/design.md, "Targets") are checked on stderr after each
 * session: remote round trip <= 1.3x the bare ping-pong over tcp, <= the
 * bare round trip + 2x chi's local round trip over shm; 256 in flight >=
 * 0.7x the bare stream. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_cluster.h"
#include "chi/chi.h"
#include "chi/log.h"

/* shared memory for the active messages, tcp for the connection manager */
#define BC_SHM_TLS "sm,tcp"

int bc_sample_calls(const bc_iters *it, int (*call)(void *), void *arg, uint64_t *s, uint64_t *n)
{
	uint64_t t = chi_bench_now_ns(), warm_ns = (uint64_t)(it->lat_seconds * 2e8);
	int rc = 0;
	*n = 0;
	for (uint64_t i = 0; i < it->lat_warmup && !rc && chi_bench_now_ns() - t < warm_ns; i++)
		rc = call(arg);
	t = chi_bench_now_ns();
	for (uint64_t t0 = t; *n < it->lat_samples && !rc && t0 - t < (uint64_t)(it->lat_seconds * 1e9);) {
		rc = call(arg);
		uint64_t t1 = chi_bench_now_ns();
		s[(*n)++] = t1 - t0;
		t0 = t1;
	}
	return rc;
}

int chi_bench_cluster(int argc, char **argv);
int chi_bench_cluster_child(int argc, char **argv);

bc_iters bc_iters_of(const chi_bench_opts *o)
{
	bc_iters it = {2000, 20000, 5.0, 20, 4000, 1.0, 1.0};
	if (o->quick)
		it = (bc_iters){200, 2000, 1.0, 5, 400, 0.2, 0.2};
	return it;
}

#ifndef CHI_HAVE_UCX

int chi_bench_cluster(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "chi-bench cluster: this build has no UCX (CHI_ENABLE_UCX=OFF, or "
			"pkg-config found no ucx/libcrypto: apt-get install libucx-dev libssl-dev)\n");
	return 77;
}

int chi_bench_cluster_child(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return 77;
}

#else

static const struct {
	const char *base;
	chi_bench_kind kind;
	int anchor; /* enum bc_entry, -1 for anchors */
	const char *what;
} table[BC_NENTRIES] = {
	[BC_AM_PINGPONG] = {"am_pingpong", CHI_BENCH_ANCHOR, -1,
			    "bare UCP AM ping-pong, 48 B each way, full round trip (floor)"},
	[BC_AM_STREAM] = {"am_stream_256", CHI_BENCH_ANCHOR, -1,
			  "bare UCP AM, 48 B, 256 in flight, each reply refills one"},
	[BC_AM_RNDV] = {"am_rndv_512k", CHI_BENCH_ANCHOR, -1,
			"bare UCP AM of 512 KiB (rendezvous), 48 B reply, one in flight"},
	[BC_REMOTE_ROUNDTRIP] = {"remote_roundtrip", CHI_BENCH_LATENCY, BC_AM_PINGPONG,
				 "test.noop to a pool on node 1, one in flight; shm target: <= bare "
				 "round trip + 2x chi's local round trip (stderr)"},
	[BC_REMOTE_THROUGHPUT] = {"remote_throughput_256", CHI_BENCH_THROUGHPUT, BC_AM_STREAM,
				  "test.noop to a pool on node 1, 256 futures in flight"},
	[BC_REMOTE_BDEV_WRITE] = {"remote_bdev_write_512k", CHI_BENCH_THROUGHPUT, BC_AM_RNDV,
				  "bdev write of 512 KiB to a RAM bdev on node 1, one in flight"},
	[BC_REMOTE_BDEV_READ] = {"remote_bdev_read_512k", CHI_BENCH_THROUGHPUT, BC_AM_RNDV,
				 "bdev read of 512 KiB from a RAM bdev on node 1, one in flight"},
};

static const struct {
	const char *tls, *ucx_tls;
} transports[2] = {{"tcp", "tcp"}, {"shm", BC_SHM_TLS}};

static char names[2][BC_NENTRIES][CHI_BENCH_NAME_MAX];
static char anchors[2][BC_NENTRIES][CHI_BENCH_NAME_MAX];
static bc_session sessions[2];

static void name_entries(void)
{
	for (int t = 0; t < 2; t++)
		for (int k = 0; k < BC_NENTRIES; k++) {
			snprintf(names[t][k], CHI_BENCH_NAME_MAX, "%s_%s", table[k].base, transports[t].tls);
			if (table[k].anchor >= 0)
				snprintf(anchors[t][k], CHI_BENCH_NAME_MAX, "%s_%s",
					 table[table[k].anchor].base, transports[t].tls);
		}
}

const char *bc_entry_base(int k)
{
	return k >= 0 && k < BC_NENTRIES ? table[k].base : "?";
}

/* ---- the command ---- */

static chi_bench_entry ents[2][BC_NENTRIES];

/* An entry hands back what its session measured. */
static int cached(const chi_bench_opts *o, chi_bench_result *r)
{
	(void)o;
	for (int t = 0; t < 2; t++)
		for (int k = 0; k < BC_NENTRIES; k++) {
			if (strcmp(r->name, names[t][k]) != 0)
				continue;
			if (sessions[t].rc[k] == 0)
				*r = sessions[t].res[k]; /* the runner names it */
			return sessions[t].rc[k];
		}
	return -ENOENT;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: chi-bench cluster [--json] [--quick] [--entries a,b] [--tls tcp|shm]\n"
		     "                         [--busy-us N]\n"
		     "  two processes (node 0: this one, node 1: a helper) on 127.0.0.1,\n"
		     "  UCX_NET_DEVICES=lo; tcp: UCX_TLS=tcp; shm: UCX_TLS=%s,\n"
		     "  UCX_MM_ERROR_HANDLING=y, UCX_RNDV_SCHEME=get_zcopy (unless set)\n"
		     "  runtimes: runtime.num_workers %u; --busy-us N: runtime.first_busy_wait_us\n"
		     "  of both (default: chi's, 10000)\n"
		     "entries (each transport):\n", BC_SHM_TLS, BC_WORKERS);
	for (int k = 0; k < BC_NENTRIES; k++)
		fprintf(out, "  %-26s %s\n", names[0][k], table[k].what);
}

static const char *verdict(int met)
{
	return met ? "met" : "NOT met";
}

/* The targets of docs/design.md ("Targets"), on stderr. */
static void summary(const bc_session *s)
{
	const chi_bench_result *r = s->res;
	const int *rc = s->rc;
	fprintf(stderr, "chi-bench cluster %s: %s; bare endpoint lanes: %s\n", s->tls, s->ucx_env,
		s->lanes[0] ? s->lanes : "-");
	if (s->want[BC_AM_RNDV] && rc[BC_AM_RNDV] == 0)
		fprintf(stderr, "chi-bench cluster %s: %llu of %llu bare 512 KiB messages arrived "
				"by rendezvous\n", s->tls, (unsigned long long)s->rndv_seen,
			(unsigned long long)s->big_seen);
	if (rc[BC_REMOTE_ROUNDTRIP] == 0 && rc[BC_AM_PINGPONG] == 0) {
		double rt = r[BC_REMOTE_ROUNDTRIP].median_ns, pp = r[BC_AM_PINGPONG].median_ns;
		fprintf(stderr, "chi-bench cluster %s: remote round trip %.1f us (p99 %.1f), bare "
				"ping-pong %.1f us: %.2fx; chi's local round trip %.1f us (p99 %.1f)\n",
			s->tls, rt / 1e3, r[BC_REMOTE_ROUNDTRIP].p99_ns / 1e3, pp / 1e3, rt / pp,
			s->local_rt_ns / 1e3, s->local_rt_p99_ns / 1e3);
		if (!strcmp(s->tls, "shm")) {
			double bound = pp + 2 * s->local_rt_ns;
			fprintf(stderr, "chi-bench cluster %s: target remote <= bare + 2 x local = "
					"%.1f + 2 x %.1f = %.1f us: %s\n", s->tls, pp / 1e3,
				s->local_rt_ns / 1e3, bound / 1e3, verdict(rt <= bound));
		} else {
			fprintf(stderr, "chi-bench cluster %s: target remote <= 1.3x bare: %s\n",
				s->tls, verdict(rt <= 1.3 * pp));
		}
	}
	if (rc[BC_REMOTE_THROUGHPUT] == 0 && rc[BC_AM_STREAM] == 0) {
		double a = r[BC_REMOTE_THROUGHPUT].ops_per_s, b = r[BC_AM_STREAM].ops_per_s;
		fprintf(stderr, "chi-bench cluster %s: 256 in flight: chi %.0f/s, bare AM stream "
				"%.0f/s: %.2fx (target >= 0.7x: %s)\n", s->tls, a, b, a / b,
			verdict(a >= 0.7 * b));
	}
	const double gb = (double)BC_BIG / 1e9;
	if (rc[BC_AM_RNDV] == 0)
		fprintf(stderr, "chi-bench cluster %s: 512 KiB: bare rendezvous %.2f GB/s", s->tls,
			r[BC_AM_RNDV].ops_per_s * gb);
	if (rc[BC_AM_RNDV] == 0 && rc[BC_REMOTE_BDEV_WRITE] == 0)
		fprintf(stderr, ", bdev write %.2f GB/s", r[BC_REMOTE_BDEV_WRITE].ops_per_s * gb);
	if (rc[BC_AM_RNDV] == 0 && rc[BC_REMOTE_BDEV_READ] == 0)
		fprintf(stderr, ", bdev read %.2f GB/s", r[BC_REMOTE_BDEV_READ].ops_per_s * gb);
	if (rc[BC_AM_RNDV] == 0)
		fputc('\n', stderr);
}

int chi_bench_cluster(int argc, char **argv)
{
	chi_bench_opts o = {0, 0, 0};
	const char *filter = NULL;
	int t_first = 0, t_end = 2;
	name_entries();
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (chi_bench_common_arg(argc, argv, &i, &o, &filter))
			continue;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(a, "--busy-us") && i + 1 < argc) {
			char *end;
			bc_busy_us = strtoll(argv[++i], &end, 10);
			if (*end || bc_busy_us < 0) {
				fprintf(stderr, "chi-bench cluster: --busy-us takes microseconds\n");
				return 2;
			}
			continue;
		}
		if (!strcmp(a, "--tls") && i + 1 < argc) {
			const char *v = argv[++i];
			if (!strcmp(v, "tcp")) {
				t_first = 0, t_end = 1;
			} else if (!strcmp(v, "shm")) {
				t_first = 1, t_end = 2;
			} else {
				fprintf(stderr, "chi-bench cluster: --tls tcp or shm, not '%s'\n", v);
				return 2;
			}
			continue;
		}
		fprintf(stderr, "chi-bench cluster: unknown argument '%s'\n", a);
		usage(stderr);
		return 2;
	}
	const chi_bench_entry *e[2 * BC_NENTRIES];
	size_t n = 0;
	for (int t = t_first; t < t_end; t++)
		for (int k = 0; k < BC_NENTRIES; k++) {
			ents[t][k] = (chi_bench_entry){names[t][k], table[k].kind,
						       table[k].anchor >= 0 ? anchors[t][k] : NULL,
						       cached, table[k].what};
			e[n++] = &ents[t][k];
		}
	/* what the sessions must measure: the entries named and their anchors */
	unsigned char want[2][BC_NENTRIES];
	memset(want, filter && *filter ? 0 : 1, sizeof(want));
	for (const char *p = filter; p && *p;) {
		size_t len = strcspn(p, ","), hit = 0;
		for (int t = t_first; t < t_end && len; t++)
			for (int k = 0; k < BC_NENTRIES; k++)
				if (strlen(names[t][k]) == len && !strncmp(names[t][k], p, len))
					want[t][k] = 1, hit = 1;
		if (len && !hit) {
			fprintf(stderr, "chi-bench cluster: unknown entry '%.*s'%s\n", (int)len, p,
				t_end - t_first < 2 ? " (for this --tls)" : "");
			return 2;
		}
		p += len + (p[len] == ',');
	}
	for (int t = 0; t < 2; t++)
		for (int k = 0; k < BC_NENTRIES; k++)
			if (want[t][k] && table[k].anchor >= 0)
				want[t][table[k].anchor] = 1;

	bc_verbose = o.verbose;
	chi_set_log(bc_log_hook, (void *)"");
	signal(SIGPIPE, SIG_IGN);
	char device[1024];
	chi_bench_cpu_device(device, sizeof(device));
	size_t dl = strlen(device);
	chi_config dflt;
	chi_config_defaults(&dflt);
	dl += (size_t)snprintf(device + dl, sizeof(device) - dl,
			       "; runtimes: num_workers %u, first_busy_wait_us %llu; UCX %s, lo",
			       BC_WORKERS,
			       (unsigned long long)(bc_busy_us >= 0 ? (uint64_t)bc_busy_us
								 : dflt.first_busy_wait_us),
			       bc_ucx_version());
	bc_save_user_env();
	/* UCX writes its messages to stdout: ours goes to stderr meanwhile */
	fflush(stdout);
	int out_fd = dup(1);
	if (out_fd >= 0)
		dup2(2, 1);
	for (int t = t_first; t < t_end; t++) {
		bc_session *s = &sessions[t];
		memset(s, 0, sizeof(*s));
		memcpy(s->want, want[t], sizeof(s->want));
		s->o = &o;
		s->local_rt_ns = s->local_rt_p99_ns = NAN;
		if (!bc_wants_any(s, 0, BC_NENTRIES))
			continue;
		chi_bench_log(&o, "chi-bench cluster: %s session ...\n", transports[t].tls);
		bc_run_session(s, transports[t].tls, transports[t].ucx_tls);
		summary(s);
		if (dl < sizeof(device))
			dl += (size_t)snprintf(device + dl, sizeof(device) - dl, "; %s: %s: %s",
					       s->tls, s->ucx_env, s->lanes[0] ? s->lanes : "?");
	}
	chi_set_log(NULL, NULL);
	fflush(stdout);
	if (out_fd >= 0) {
		dup2(out_fd, 1);
		close(out_fd);
	}
	return chi_bench_run(e, n, filter, &o, device);
}

#endif
