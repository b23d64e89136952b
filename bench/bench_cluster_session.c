/* bench/bench_cluster_session.c: one session of `chi-bench cluster` (see
 * bench_cluster.c for the command): node 0 (this process) and its helper
 * process, node 1, first with bare UCX, then with a chi runtime each.
 *   1. node 0 spawns the helper (`chi-bench __child cluster ...`,
 *      posix_spawn, its stdout on our stderr) with one end of a socketpair
 *      for control lines; the helper listens with a bare UCP worker and
 *      says its port;
 *   2. anchors (bench_cluster_ucx.c): node 0 connects and measures the bare
 *      AM ping-pong, stream and rendezvous it needs, sends QUIT; both tear
 *      their UCX objects down;
 *   3. when chi entries are wanted, each starts an embedded chi runtime
 *      (bench_cluster_rt.c: node 0/1, runtime.num_workers BC_WORKERS, both
 *      on 127.0.0.1, a key file 0600 in a mkdtemp directory); node 0 waits
 *      until admin.peers says node 1 is UP (BC_UP_NS at most), then
 *      measures the chi entries through its runtime's own client;
 *   4. node 0 stops its runtime and says "stop"; the helper stops its own
 *      and exits 0.
 * Every wait has a deadline and checks that the helper lives; a phase that
 * fails fails its entries with a message, never a hang; a helper that does
 * not take "stop" is killed at the reap's deadline.
 *
 * Control lines, helper -> node 0: "listen <port>", "bare <rc> <big>
 * <rndv>", "up <rc>"; node 0 -> helper: "rt" (start the runtime), "stop". */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_cluster.h"
#include "chi/chi.h"
#include "chi/log.h"
#include "xproc_util.h"

extern char **environ;

int bc_verbose;
int64_t bc_busy_us = -1;

/* chi's messages: INFO only with --verbose; the helper's prefixed. */
void bc_log_hook(int level, const char *msg, void *arg)
{
	if (level >= CHI_LOG_INFO && !bc_verbose)
		return;
	fprintf(stderr, "chi%s: %s\n", (const char *)arg, msg);
}

/* The environment of a session, set before any UCX call here and inherited
 * by the helper. shm needs two more settings in UCX 1.13: its shared-memory
 * transports (mm: sysv, posix) take part in an endpoint with error mode PEER
 * (chi's, and the anchors') only with UCX_MM_ERROR_HANDLING=y (else every
 * lane is tcp); and cma, the one shared-memory transport for rendezvous
 * gets, has no peer-failure handling, so the default rendezvous scheme uses
 * a tcp rma_bw lane: UCX_RNDV_SCHEME=get_zcopy leaves the endpoint without
 * one and large messages go through the sysv/posix lane. Either can be
 * overridden from the environment (e.g. UCX_RNDV_SCHEME=auto); tcp runs
 * without both. */
static const char *const shm_extra[2][2] = {{"UCX_MM_ERROR_HANDLING", "y"},
					     {"UCX_RNDV_SCHEME", "get_zcopy"}};
static char *user_extra[2]; /* their values before chi-bench set them */

void bc_save_user_env(void)
{
	for (int i = 0; i < 2; i++) {
		const char *v = getenv(shm_extra[i][0]);
		user_extra[i] = v ? strdup(v) : NULL;
	}
}

static void set_ucx_env(const char *tls, const char *ucx_tls)
{
	setenv("UCX_NET_DEVICES", "lo", 1);
	setenv("UCX_TLS", ucx_tls, 1);
	for (int i = 0; i < 2; i++) {
		if (user_extra[i])
			setenv(shm_extra[i][0], user_extra[i], 1);
		else if (!strcmp(tls, "shm"))
			setenv(shm_extra[i][0], shm_extra[i][1], 1);
		else
			unsetenv(shm_extra[i][0]);
	}
}

/* "UCX_TLS=sm,tcp UCX_MM_ERROR_HANDLING=y ..." as set now */
static void ucx_env_text(char *buf, size_t len)
{
	static const char *const keys[] = {"UCX_TLS", "UCX_NET_DEVICES", "UCX_MM_ERROR_HANDLING",
					   "UCX_RNDV_SCHEME"};
	size_t n = 0;
	buf[0] = 0;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) && n < len; i++) {
		const char *v = getenv(keys[i]);
		if (v)
			n += (size_t)snprintf(buf + n, len - n, "%s%s=%s", n ? " " : "", keys[i], v);
	}
}

/* ---- control lines ---- */

static int ctl_send(int fd, const char *line)
{
	size_t n = strlen(line);
	return write(fd, line, n) == (ssize_t)n ? 0 : -EPIPE;
}

/* One line (without its newline) within timeout_ns; with pid, the helper
 * must stay alive meanwhile. Bytes after the newline are kept for the next
 * call in `pend`. */
typedef struct ctl_in {
	int fd;
	char pend[512];
	size_t npend;
} ctl_in;

static int ctl_line(ctl_in *c, char *out, size_t len, uint64_t timeout_ns, pid_t *pid)
{
	uint64_t end = chi_bench_now_ns() + timeout_ns;
	for (;;) {
		char *nl = memchr(c->pend, '\n', c->npend);
		if (nl) {
			size_t l = (size_t)(nl - c->pend);
			snprintf(out, len, "%.*s", (int)l, c->pend);
			memmove(c->pend, nl + 1, c->npend - l - 1);
			c->npend -= l + 1;
			return 0;
		}
		if (c->npend == sizeof(c->pend))
			return -EPROTO;
		if (pid) {
			int rc = xp_child_alive("cluster", pid);
			if (rc)
				return rc;
		}
		if (chi_bench_now_ns() > end)
			return -ETIMEDOUT;
		struct pollfd p = {c->fd, POLLIN, 0};
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t r = read(c->fd, c->pend + c->npend, sizeof(c->pend) - c->npend);
		if (r == 0)
			return -EPIPE;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0)
			c->npend += (size_t)r;
	}
}

/* ---- node 0: one session ---- */

static void fail_from(bc_session *s, int first, int rc)
{
	for (int k = first; k < BC_NENTRIES; k++)
		if (s->want[k] && s->rc[k] == 77)
			s->rc[k] = rc;
}

int bc_wants_any(const bc_session *s, int from, int to)
{
	for (int k = from; k < to; k++)
		if (s->want[k])
			return 1;
	return 0;
}

/* Phase 2, node 0's side. */
static int bare_phase(bc_session *s, uint32_t port, ctl_in *ctl, pid_t *pid)
{
	const char *tag = s->tls;
	bc_iters it = bc_iters_of(s->o);
	char err[256] = "";
	bc_ucx *u = NULL;
	int rc = bc_ucx_open(&u, err, sizeof(err));
	if (!rc)
		rc = bc_ucx_connect(u, port, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "chi-bench cluster %s: bare UCX: %s\n", tag, err);
		bc_ucx_close(u);
		return rc;
	}
	typedef int (*anchor_fn)(bc_ucx *, const bc_iters *, chi_bench_result *);
	static const anchor_fn fns[3] = {bc_ucx_pingpong, bc_ucx_stream, bc_ucx_rndv};
	for (int k = BC_AM_PINGPONG; k <= BC_AM_RNDV; k++) {
		if (!s->want[k])
			continue;
		chi_bench_result_init(&s->res[k], bc_entry_base(k));
		s->rc[k] = fns[k](u, &it, &s->res[k]);
		if (s->rc[k])
			fprintf(stderr, "chi-bench cluster %s: %s: %s\n", tag, bc_entry_base(k),
				strerror(-s->rc[k]));
		if (k == BC_AM_PINGPONG || !s->lanes[0])
			bc_ucx_lanes(u, s->lanes, sizeof(s->lanes), bc_verbose ? stderr : NULL);
	}
	rc = bc_ucx_quit(u);
	char line[256];
	int brc = -EPROTO;
	unsigned long long big = 0, rndv = 0;
	if (!rc)
		rc = ctl_line(ctl, line, sizeof(line), BC_TIMEOUT_NS, pid);
	if (!rc && sscanf(line, "bare %d %llu %llu", &brc, &big, &rndv) != 3)
		rc = -EPROTO;
	bc_ucx_close(u);
	if (rc || brc) {
		fprintf(stderr, "chi-bench cluster %s: node 1's bare UCX loop: %s\n", tag,
			strerror(rc ? -rc : -brc));
		return rc ? rc : brc;
	}
	s->big_seen = big;
	s->rndv_seen = rndv;
	return 0;
}

static int write_key(const char *dir)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/key", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	static const char key[] = "chi-bench-cluster-key-5f0c7e1a9b3d2468\n";
	int rc = write(fd, key, sizeof(key) - 1) == (ssize_t)(sizeof(key) - 1) ? 0 : -EIO;
	fchmod(fd, 0600);
	close(fd);
	return rc;
}

static void remove_dir(const char *dir)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/key", dir);
	unlink(path);
	rmdir(dir);
}

/* A TCP port nothing listens on now (the kernel's pick). */
static int free_port(uint32_t *port)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {0};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(a);
	int rc = 0;
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(s, (struct sockaddr *)&a, &len))
		rc = -errno;
	if (s >= 0)
		close(s);
	*port = ntohs(a.sin_port);
	return rc;
}

/* Phases 3 and 4, node 0's side (the helper started its runtime on its own
 * after the bare phase). */
static int runtime_phase(bc_session *s, const char *dir, const uint32_t ports[2], ctl_in *ctl,
			 pid_t *pid)
{
	const char *tag = s->tls;
	chi_config cfg;
	char name[CHI_NAME_MAX];
	snprintf(name, sizeof(name), "cb%ld_%s_0", (long)getpid(), tag);
	bc_rt_config(&cfg, 0, name, dir, ports, bc_busy_us);
	chi_runtime *rt = NULL;
	int rc = ctl_send(ctl->fd, "rt\n");
	if (!rc && (rc = chi_runtime_start(&cfg, &rt)))
		fprintf(stderr, "chi-bench cluster %s: chi_runtime_start (node 0): %s\n", tag,
			chi_strerror(rc));
	char line[256];
	int urc = -EPROTO;
	if (!rc) {
		rc = ctl_line(ctl, line, sizeof(line), BC_TIMEOUT_NS, pid);
		if (!rc && sscanf(line, "up %d", &urc) != 1)
			rc = -EPROTO;
		if (!rc && urc) {
			fprintf(stderr, "chi-bench cluster %s: node 1's runtime did not start: %s\n",
				tag, chi_strerror(urc));
			rc = urc;
		} else if (rc) {
			fprintf(stderr, "chi-bench cluster %s: no word from node 1's runtime: %s\n",
				tag, strerror(-rc));
		}
	}
	if (!rc)
		rc = bc_rt_wait_up(chi_runtime_client(rt), BC_UP_NS);
	if (!rc)
		bc_rt_entries(s, chi_runtime_client(rt));
	if (rt)
		chi_runtime_stop(rt);
	return rc;
}

/* The helper, with its stdout on our stderr: UCX logs to stdout, and
 * stdout is for the table or the JSON only. */
static int spawn_helper(char *const argv[], pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	int rc = posix_spawn_file_actions_init(&fa);
	if (!rc)
		rc = posix_spawn_file_actions_adddup2(&fa, 2, 1);
	if (!rc)
		rc = posix_spawn(pid, chi_bench_self(), &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc)
		fprintf(stderr, "chi-bench cluster: posix_spawn(%s): %s\n", chi_bench_self(),
			strerror(rc));
	return -rc;
}

void bc_run_session(bc_session *s, const char *tls, const char *ucx_tls)
{
	for (int k = 0; k < BC_NENTRIES; k++)
		s->rc[k] = 77;
	s->tls = tls;
	s->ucx_tls = ucx_tls;
	set_ucx_env(s->tls, s->ucx_tls);
	ucx_env_text(s->ucx_env, sizeof(s->ucx_env));
	char dir[] = "/tmp/chi-bench-cluster-XXXXXX";
	uint32_t ports[2] = {0, 0};
	int sv[2] = {-1, -1};
	pid_t pid = 0;
	int rc = 0;
	if (!mkdtemp(dir)) {
		rc = -errno;
		dir[0] = 0;
	}
	if (!rc)
		rc = write_key(dir);
	if (!rc)
		rc = free_port(&ports[0]);
	if (!rc)
		rc = free_port(&ports[1]);
	if (!rc && socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		rc = -errno;
	if (rc)
		fprintf(stderr, "chi-bench cluster %s: setup: %s\n", s->tls, strerror(-rc));
	if (!rc) {
		fcntl(sv[0], F_SETFD, FD_CLOEXEC); /* the helper keeps sv[1] only */
		char p0[16], p1[16], fd[16], busy[24];
		snprintf(busy, sizeof(busy), "%lld", (long long)bc_busy_us);
		snprintf(p0, sizeof(p0), "%u", ports[0]);
		snprintf(p1, sizeof(p1), "%u", ports[1]);
		snprintf(fd, sizeof(fd), "%d", sv[1]);
		char *argv[] = {(char *)chi_bench_self(), (char *)CHI_BENCH_CHILD_ARG,
				(char *)"cluster", (char *)s->tls, (char *)s->ucx_tls, dir, p0, p1,
				fd, (char *)(bc_verbose ? "v" : "q"), busy, NULL};
		rc = spawn_helper(argv, &pid);
		close(sv[1]);
		sv[1] = -1;
	}
	ctl_in ctl = {.fd = sv[0]};
	char line[256];
	unsigned port = 0;
	if (!rc)
		rc = ctl_line(&ctl, line, sizeof(line), BC_TIMEOUT_NS, &pid);
	if (!rc && sscanf(line, "listen %u", &port) != 1) {
		fprintf(stderr, "chi-bench cluster %s: node 1 says '%s'\n", s->tls, line);
		rc = -EPROTO;
	}
	if (!rc)
		rc = bare_phase(s, port, &ctl, &pid);
	if (rc)
		fail_from(s, 0, rc);
	if (!rc && bc_wants_any(s, BC_REMOTE_ROUNDTRIP, BC_NENTRIES)) {
		rc = runtime_phase(s, dir, ports, &ctl, &pid);
		if (rc)
			fprintf(stderr, "chi-bench cluster %s: chi entries not run: %s\n", s->tls,
				strerror(-rc));
		fail_from(s, BC_REMOTE_ROUNDTRIP, rc ? rc : -EPROTO);
	}
	if (pid) {
		/* "stop" lets it stop its runtime (its segments go); a helper
		 * that does not take it is killed at the reap's deadline */
		if (sv[0] < 0 || ctl_send(sv[0], "stop\n"))
			kill(pid, SIGTERM);
		int rrc = xp_reap_child("cluster", &pid, 15ull * 1000000000ull);
		if (rrc && !rc)
			fail_from(s, 0, rrc); /* entries already measured keep their figures */
	}
	if (sv[0] >= 0)
		close(sv[0]);
	if (dir[0])
		remove_dir(dir);
}

/* ---- node 1: the helper ---- */

static int child_runtime(const char *tls, const char *dir, const uint32_t ports[2], ctl_in *ctl)
{
	chi_config cfg;
	char name[CHI_NAME_MAX], line[64];
	snprintf(name, sizeof(name), "cb%ld_%s_1", (long)getppid(), tls);
	bc_rt_config(&cfg, 1, name, dir, ports, bc_busy_us);
	chi_runtime *rt = NULL;
	int rc = chi_runtime_start(&cfg, &rt);
	snprintf(line, sizeof(line), "up %d\n", rc);
	if (ctl_send(ctl->fd, line) || rc)
		return rc ? rc : -EPIPE;
	/* until "stop", EOF (node 0 gone) or 10 minutes */
	rc = ctl_line(ctl, line, sizeof(line), 600ull * 1000000000ull, NULL);
	chi_runtime_stop(rt);
	if (rc == 0 && strcmp(line, "stop") != 0)
		rc = -EPROTO;
	return rc == -EPIPE ? 0 : rc;
}

int chi_bench_cluster_child(int argc, char **argv)
{
	/* __child cluster <tls> <UCX_TLS> <dir> <port0> <port1> <fd> <v|q> <busy_us> */
	if (argc != 10) {
		fprintf(stderr, "chi-bench child cluster: usage: cluster <tls> <UCX_TLS> <dir> "
				"<port0> <port1> <fd> <v|q> <busy_us>\n");
		return 2;
	}
	bc_busy_us = strtoll(argv[9], NULL, 10);
	const char *tls = argv[2];
	uint32_t ports[2] = {(uint32_t)strtoul(argv[5], NULL, 10),
			     (uint32_t)strtoul(argv[6], NULL, 10)};
	int fd = atoi(argv[7]);
	bc_verbose = argv[8][0] == 'v';
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	setenv("UCX_NET_DEVICES", "lo", 1); /* the rest as node 0 left it */
	setenv("UCX_TLS", argv[3], 1);
	chi_set_log(bc_log_hook, (void *)" (node 1)");
	signal(SIGPIPE, SIG_IGN);

	char err[256] = "", line[128];
	bc_ucx *u = NULL;
	uint32_t port = 0;
	int rc = bc_ucx_open(&u, err, sizeof(err));
	if (!rc)
		rc = bc_ucx_listen(u, &port, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "chi-bench child cluster %s: %s\n", tls, err);
		ctl_send(fd, "listen fail\n");
		bc_ucx_close(u);
		return 3;
	}
	snprintf(line, sizeof(line), "listen %u\n", port);
	if (ctl_send(fd, line)) {
		bc_ucx_close(u);
		return 3;
	}
	uint64_t big = 0, rndv = 0;
	rc = bc_ucx_serve(u, chi_bench_now_ns() + 4 * BC_TIMEOUT_NS, &big, &rndv);
	bc_ucx_close(u);
	snprintf(line, sizeof(line), "bare %d %llu %llu\n", rc, (unsigned long long)big,
		 (unsigned long long)rndv);
	if (ctl_send(fd, line) || rc)
		return 4;
	ctl_in ctl = {.fd = fd}; /* "rt": start the runtime; "stop": done */
	rc = ctl_line(&ctl, line, sizeof(line), BC_TIMEOUT_NS, NULL);
	if (rc == -EPIPE || (rc == 0 && !strcmp(line, "stop")))
		return 0;
	if (rc == 0 && strcmp(line, "rt") != 0)
		rc = -EPROTO;
	if (!rc)
		rc = child_runtime(tls, argv[4], ports, &ctl);
	if (rc) {
		fprintf(stderr, "chi-bench child cluster %s: %s\n", tls, chi_strerror(rc));
		return 5;
	}
	return 0;
}
