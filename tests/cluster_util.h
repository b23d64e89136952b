/* tests/cluster_util.h: several chi daemons on this machine, one per node,
 * for the `cluster` tests (tests/cluster_*.c). Each node is a real daemon
 * (`chi start --config F`, the build's chi binary) with its own runtime
 * name and port, UCX pinned to loopback (UCX_NET_DEVICES=lo, UCX_TLS from
 * CHI_TEST_UCX_TLS or "tcp"), a key file of mode 0600 in a temporary
 * directory. The pools every node's config lists:
 *   admin 0, test 1 (every node its own), t<k> = 3 + k (a test pool whose
 *   home is node k), disk1 10 (a bdev on node 1, file <dir>/disk1.img).
 * Every wait is bounded. */
#ifndef CHI_TESTS_CLUSTER_UTIL_H
#define CHI_TESTS_CLUSTER_UTIL_H

#include "test_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "chi/cluster.h"
#include "chi/modules/admin.h"
#include "chi/modules/test.h"

#define CL_MAX 3
#define CL_POOL_T(k) (3u + (uint32_t)(k))
#define CL_POOL_DISK1 10u
#define CL_DISK_SIZE (64ull << 20)

typedef struct cl_cluster {
	uint32_t n;
	char dir[128];
	char chi[4200];
	char name[CL_MAX][48];
	char conf[CL_MAX][200];
	uint32_t port[CL_MAX];
	int pid[CL_MAX]; /* daemon pids (0: not running) */
} cl_cluster;

static inline uint64_t cl_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A TCP port nothing listens on now (the kernel's pick). */
static inline uint32_t cl_free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {0};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(a);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(s, (struct sockaddr *)&a, &len))
		fail_msg("no free port: %s", strerror(errno));
	close(s);
	return ntohs(a.sin_port);
}

static inline void cl_write(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	fchmod(fd, mode);
	close(fd);
}

/* Node k's config; key: the key file's name in dir. */
static inline void cl_write_conf(cl_cluster *cl, uint32_t k, const char *key)
{
	char y[4096];
	int n = snprintf(y, sizeof(y),
			 "runtime:\n  name: %s\n  num_workers: 2\n  first_busy_wait_us: 200\n"
			 "cluster:\n  node: %u\n  key_file: %s/%s\n  heartbeat_ms: 200\n"
			 "  peer_timeout_ms: 2000\n  task_timeout_ms: 20000\n  retry_ms: 200\n"
			 "  peers:\n",
			 cl->name[k], k, cl->dir, key);
	for (uint32_t j = 0; j < cl->n; j++)
		n += snprintf(y + n, sizeof(y) - (size_t)n,
			      "    - {node: %u, host: 127.0.0.1, port: %u}\n", j, cl->port[j]);
	n += snprintf(y + n, sizeof(y) - (size_t)n,
		      "pools:\n  - {name: admin, module: admin, id: 0}\n"
		      "  - {name: test, module: test, id: 1}\n");
	for (uint32_t j = 0; j < cl->n; j++)
		n += snprintf(y + n, sizeof(y) - (size_t)n,
			      "  - {name: t%u, module: test, id: %u, node: %u}\n", j, CL_POOL_T(j), j);
	if (cl->n > 1)
		snprintf(y + n, sizeof(y) - (size_t)n,
			 "  - {name: disk1, module: bdev, id: %u, node: 1, path: %s/disk1.img, "
			 "size: %llu}\n",
			 CL_POOL_DISK1, cl->dir, (unsigned long long)CL_DISK_SIZE);
	cl_write(cl->conf[k], y, 0600);
}

/* Every daemon a test of this process started: killed at exit, so that a
 * failed case (cmocka leaves it by longjmp, past cl_fini) leaves none
 * behind; each case's runtimes have names of their own (cl_seq), so the
 * next case does not find them "already running". */
static int cl_started[64];
static int cl_nstarted, cl_seq;

static void cl_kill_leftovers(void)
{
	for (int i = 0; i < cl_nstarted; i++)
		if (cl_started[i] > 0)
			kill(cl_started[i], SIGKILL);
}

/* n nodes' configs (none started). */
static inline void cl_init(cl_cluster *cl, uint32_t n)
{
	if (!cl_seq++)
		atexit(cl_kill_leftovers);
	memset(cl, 0, sizeof(*cl));
	cl->n = n;
	snprintf(cl->dir, sizeof(cl->dir), "/tmp/chi-cluster-XXXXXX");
	assert_non_null(mkdtemp(cl->dir));
	char self[4096];
	assert_int_equal(test_self_exe(self, sizeof(self)), 0);
	snprintf(cl->chi, sizeof(cl->chi), "%s/../chi", dirname(self));
	if (access(cl->chi, X_OK) != 0)
		fail_msg("no chi binary at %s", cl->chi);
	setenv("UCX_NET_DEVICES", "lo", 1);
	const char *tls = getenv("CHI_TEST_UCX_TLS");
	setenv("UCX_TLS", tls && *tls ? tls : "tcp", 1);
	setenv("UCX_WARN_UNUSED_ENV_VARS", "n", 1);
	unsetenv("CHI_SERVER_CONF");
	char key[300];
	snprintf(key, sizeof(key), "%s/key", cl->dir);
	cl_write(key, "chi-test-cluster-key-0123456789abcdef\n", 0600);
	snprintf(key, sizeof(key), "%s/badkey", cl->dir);
	cl_write(key, "some-other-key-that-is-not-the-cluster-key\n", 0600);
	for (uint32_t k = 0; k < n; k++) {
		snprintf(cl->name[k], sizeof(cl->name[k]), "cl%d_%d_%u", (int)getpid(), cl_seq, k);
		snprintf(cl->conf[k], sizeof(cl->conf[k]), "%s/node%u.yaml", cl->dir, k);
		cl->port[k] = cl_free_port();
	}
	for (uint32_t k = 0; k < n; k++)
		cl_write_conf(cl, k, "key");
}

/* chi <args> for node k, its output in out: the exit status. */
static inline int cl_chi(cl_cluster *cl, uint32_t k, const char *args, char *out, size_t cap)
{
	char line[8192], outf[200];
	snprintf(outf, sizeof(outf), "%s/out%u", cl->dir, k);
	snprintf(line, sizeof(line), "timeout 60 %s %s --config %s >%s 2>&1", cl->chi, args,
		 cl->conf[k], outf);
	int st = system(line);
	FILE *f = fopen(outf, "r");
	size_t n = f ? fread(out, 1, cap - 1, f) : 0;
	if (f)
		fclose(f);
	out[n] = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Start node k's daemon (chi start returns once clients can connect). */
static inline void cl_start(cl_cluster *cl, uint32_t k)
{
	char out[4096];
	int rc = cl_chi(cl, k, "start", out, sizeof(out));
	if (rc)
		fail_msg("chi start node %u: exit %d: %s", k, rc, out);
	chi_client *c;
	assert_int_equal(chi_client_connect(cl->name[k], &c), 0);
	cl->pid[k] = chi_client_owner_pid(c);
	chi_client_close(c);
	if (cl_nstarted < (int)(sizeof(cl_started) / sizeof(cl_started[0])))
		cl_started[cl_nstarted++] = cl->pid[k];
}

/* a daemon that is gone is not killed at exit (its pid may be reused) */
static inline void cl_forget(int pid)
{
	for (int i = 0; i < cl_nstarted; i++)
		if (cl_started[i] == pid)
			cl_started[i] = 0;
}

static inline void cl_stop(cl_cluster *cl, uint32_t k)
{
	if (!cl->pid[k])
		return;
	char out[4096];
	cl_chi(cl, k, "stop", out, sizeof(out));
	for (int i = 0; i < 1000 && kill(cl->pid[k], 0) == 0; i++)
		usleep(10000);
	cl_forget(cl->pid[k]);
	cl->pid[k] = 0;
}

static inline void cl_kill(cl_cluster *cl, uint32_t k)
{
	if (!cl->pid[k])
		return;
	kill(cl->pid[k], SIGKILL);
	for (int i = 0; i < 1000 && kill(cl->pid[k], 0) == 0; i++)
		usleep(10000);
	cl_forget(cl->pid[k]);
	cl->pid[k] = 0;
	char out[4096];
	cl_chi(cl, k, "cleanup", out, sizeof(out));
}

static inline void cl_fini(cl_cluster *cl)
{
	for (uint32_t k = 0; k < cl->n; k++) {
		if (cl->pid[k])
			kill(cl->pid[k], SIGCONT);
		cl_stop(cl, k);
	}
	char line[300];
	snprintf(line, sizeof(line), "rm -rf %s", cl->dir);
	if (system(line) != 0)
		fprintf(stderr, "could not remove %s\n", cl->dir);
}

/* One double_plus on pool p through c: its result, or the error. */
static inline int64_t cl_double_plus(chi_client *c, chi_pool_id p, uint64_t v, uint32_t add)
{
	chi_test_double_plus_task t;
	chi_future f;
	chi_test_double_plus_init(&t, p, v, add);
	int rc = chi_make_copy_future(c, &t.hdr, &chi_test_double_plus_codec, &f);
	if (rc)
		return rc;
	int64_t r = chi_future_wait_timeout(&f, 30ull * 1000 * 1000 * 1000);
	if (r >= 0 && t.result != 2 * v + add)
		return -EBADMSG;
	return r;
}

/* Node `node`'s peers as seen from the runtime c is attached to (node -1:
 * that runtime itself). */
static inline int64_t cl_peers(chi_client *c, int32_t node, chi_admin_peers_task *t)
{
	chi_admin_peers_init(t, node);
	return chi_call(c, &t->hdr, &chi_admin_peers_codec);
}

static inline const chi_net_peer_info *cl_peer(const chi_admin_peers_task *t, uint32_t node)
{
	for (uint32_t i = 0; i < t->count; i++)
		if (t->peers[i].node == node)
			return &t->peers[i];
	return NULL;
}

/* Wait (at most ms) until the runtime c is attached to sees `node` up. */
static inline int cl_wait_up(chi_client *c, uint32_t node, uint64_t ms)
{
	chi_admin_peers_task *t = malloc(sizeof(*t));
	int up = 0;
	for (uint64_t end = cl_now_ms() + ms; !up && cl_now_ms() < end;) {
		if (cl_peers(c, -1, t) >= 0) {
			const chi_net_peer_info *p = cl_peer(t, node);
			up = p && p->state == CHI_PEER_UP;
		}
		if (!up)
			usleep(20000);
	}
	free(t);
	return up;
}

#endif
