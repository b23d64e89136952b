/* tools/cmd_runtime.c: chi start and chi stop.
 *
 * chi start daemonizes before anything else happens in the process (no
 * threads, no CUDA: neither survives fork): fork, setsid, fork again; the
 * grandchild starts the runtime and reports through a pipe, and the command
 * returns only once clients can connect (or prints why the start failed).
 * The daemon runs until SIGTERM/SIGINT or an admin.stop task, then stops in
 * order (draining published tasks). Its messages go to
 * /tmp/chi.<uid>.<name>.log, each line with a timestamp and, for the
 * library's messages, its level; the error lines of a start that fails also
 * go back through the pipe, and `chi start` prints them on its terminal. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chi/chi.h"
#include "chi/modules/admin.h"
#include "cli.h"
#include "metrics_http.h"
#include "shm/shm.h"

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* What a daemon tells `chi start` through its pipe: the start's result,
 * when it failed which step failed, and the error lines it logged. */
enum { START_RUNTIME = 0, START_METRICS = 1 };
#define WHY_MAX 3072
struct start_msg {
	int rc, step;
	char why[WHY_MAX]; /* the error lines, '\n'-separated, NUL-terminated */
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char errors_logged[WHY_MAX]; /* the newest error lines that fit */

/* "2026-12-04T18:52:01.123+0000 " */
static void stamp(char *ts, size_t cap)
{
	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	localtime_r(&now.tv_sec, &tm);
	char a[24], z[8];
	strftime(a, sizeof(a), "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(z, sizeof(z), "%z", &tm);
	snprintf(ts, cap, "%s.%03ld%s ", a, now.tv_nsec / 1000000, z);
}

/* One line of the daemon's own on stderr (the log), with its timestamp. */
__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
	char ts[64], line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	stamp(ts, sizeof(ts));
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s%s\n", ts, line);
	pthread_mutex_unlock(&log_lock);
}

/* chi_log hook of the daemon: a timestamp and the level on every line;
 * error lines are also kept for the pipe. */
static void daemon_log(int level, const char *msg, void *arg)
{
	(void)arg;
	char ts[64];
	stamp(ts, sizeof(ts));
	const char *lv = level == CHI_LOG_ERROR ? "error" : level == CHI_LOG_WARN ? "warning" : "info";
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%schi: %s: %s\n", ts, lv, msg);
	if (level == CHI_LOG_ERROR) {
		size_t have = strlen(errors_logged), need = strlen(msg) + 1;
		while (have && have + need >= sizeof(errors_logged)) { /* drop the oldest line */
			char *nl = strchr(errors_logged, '\n');
			size_t drop = nl ? (size_t)(nl - errors_logged) + 1 : have;
			memmove(errors_logged, errors_logged + drop, have - drop + 1);
			have -= drop;
		}
		snprintf(errors_logged + have, sizeof(errors_logged) - have, "%s\n", msg);
	}
	pthread_mutex_unlock(&log_lock);
}

static void tell(int ready, int rc, int step)
{
	if (ready < 0)
		return;
	struct start_msg m;
	memset(&m, 0, sizeof(m));
	m.rc = rc;
	m.step = step;
	if (rc) {
		pthread_mutex_lock(&log_lock);
		snprintf(m.why, sizeof(m.why), "%s", errors_logged);
		pthread_mutex_unlock(&log_lock);
	}
	const char *p = (const char *)&m;
	size_t left = sizeof(m);
	while (left) {
		ssize_t w = write(ready, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		p += w;
		left -= (size_t)w;
	}
	close(ready);
}

/* Run the runtime until asked to stop; `ready` (if >= 0) gets the start's
 * result once clients can connect and the metrics port (if asked for)
 * listens: `chi start` returns only then, so a scrape right after it finds
 * the port open. A port that cannot be bound fails the start: the runtime
 * is stopped again rather than left running without what was asked. */
static int serve(const chi_config *cfg, int ready, int metrics_port)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	chi_runtime *rt;
	chi_set_log(daemon_log, NULL);
#ifdef CHI_WITH_CUDA
	chi_gpu_cuda_enable(); /* after daemonizing: the first CUDA call comes next */
#endif
	int rc = chi_runtime_start(cfg, &rt);
	if (rc) {
		say("chi: cannot start runtime '%s': %s", cfg->name,
		    rc == -EADDRINUSE ? "a runtime with this name is already running" : chi_strerror(rc));
		tell(ready, rc, START_RUNTIME);
		return 1;
	}
	chi_metrics m;
	memset(&m, 0, sizeof(m));
	if (metrics_port > 0) {
		rc = chi_metrics_start(&m, rt, cfg->name, metrics_port);
		if (rc) {
			say("chi: cannot serve metrics on 127.0.0.1:%d: %s", metrics_port,
			    chi_strerror(rc));
			chi_runtime_stop(rt);
			tell(ready, rc, START_METRICS);
			return 1;
		}
		say("chi: metrics on http://127.0.0.1:%d/metrics", metrics_port);
	}
	/* logged before start is told, so the log says it once start returns */
	say("chi: runtime '%s' serving (pid %d)", cfg->name, (int)getpid());
	tell(ready, 0, START_RUNTIME);
	while (!got_signal && !chi_runtime_stop_requested(rt))
		sleep_ms(20);
	say("chi: runtime '%s' stopping (%s)", cfg->name, got_signal ? "signal" : "admin.stop");
	chi_metrics_stop(&m);
	chi_runtime_stop(rt);
	say("chi: runtime '%s' stopped", cfg->name);
	chi_set_log(NULL, NULL);
	return 0;
}

/* The daemon's log, /tmp/chi.<uid>.<name>.log: a name in a directory
 * everyone may write, so another process may have made it first. Never
 * followed if it is a symbolic link (O_NOFOLLOW), created 0600, and used
 * only if it is a regular file owned by this user; an existing one of ours
 * is narrowed to 0600. O_CLOEXEC: nothing the daemon runs inherits it (the
 * dup2 onto stdout and stderr are the daemon's own). Returns the
 * descriptor, or a negative errno after a message on stderr (still the
 * terminal of `chi start`) that names the file. */
static int open_daemon_log(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
		      0600);
	if (fd < 0) {
		int e = errno;
		struct stat ls;
		if (e == ELOOP)
			fprintf(stderr, "chi: refusing the log file %s: it is a symbolic link "
					"(remove it, it is not chi's)\n", path);
		else if (lstat(path, &ls) == 0 && ls.st_uid != geteuid()) /* protected_regular */
			fprintf(stderr, "chi: refusing the log file %s: not owned by this user "
					"(owner uid %u, this user %u); remove it, it is not chi's\n",
				path, (unsigned)ls.st_uid, (unsigned)geteuid());
		else
			fprintf(stderr, "chi: cannot open the log file %s: %s\n", path, strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		fprintf(stderr, "chi: cannot check the log file %s: %s\n", path, strerror(e));
		close(fd);
		return -e;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		fprintf(stderr, "chi: refusing the log file %s: %s (owner uid %u, this user %u); "
				"remove it, it is not chi's\n", path,
			S_ISREG(st.st_mode) ? "not owned by this user" : "not a regular file",
			(unsigned)st.st_uid, (unsigned)geteuid());
		close(fd);
		return -EPERM;
	}
	if ((st.st_mode & 0777) != 0600 && fchmod(fd, 0600) != 0) {
		int e = errno;
		fprintf(stderr, "chi: cannot make the log file %s private (0600): %s\n", path,
			strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

static void start_usage(FILE *o)
{
	fprintf(o, "usage: chi start [--name NAME] [--foreground] [--config FILE] [--metrics-port PORT]\n"
		   "Starts a runtime; without --foreground it becomes a daemon and this\n"
		   "command returns once clients can connect.\n");
}

int chi_cmd_start(int argc, char **argv)
{
	static const struct option opts[] = {{"foreground", no_argument, 0, 'f'},
					     {"config", required_argument, 0, 'c'},
					     {"metrics-port", required_argument, 0, 'm'},
					     {"name", required_argument, 0, 'n'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	int fg = 0, o, port = 0;
	const char *conf = NULL, *name = NULL;
	unsigned long long v;
	optind = 1;
	while ((o = getopt_long(argc, argv, "fc:n:h", opts, NULL)) != -1) {
		switch (o) {
		case 'f': fg = 1; break;
		case 'c': conf = optarg; break;
		case 'n': name = optarg; break;
		case 'm':
			if (chi_cli_number("start", "metrics-port", optarg, 1, 65535, &v))
				return 2;
			port = (int)v;
			break;
		case 'h': start_usage(stdout); return 0;
		default: start_usage(stderr); return 2;
		}
	}
	if (chi_cli_no_args("start", argc, argv))
		return 2;
	chi_config cfg;
	if (chi_cli_load_config(&cfg, conf) || chi_cli_set_name(&cfg, name))
		return 1;
	if (fg)
		return serve(&cfg, -1, port);

	int p[2];
	if (pipe(p) != 0) {
		perror("chi: pipe");
		return 1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		perror("chi: fork");
		return 1;
	}
	if (pid == 0) {
		close(p[0]);
		setsid();
		pid_t g = fork();
		if (g != 0)
			_exit(g < 0 ? 1 : 0);
		char log[256];
		snprintf(log, sizeof(log), "/tmp/chi.%u.%s.log", (unsigned)getuid(), cfg.name);
		int lfd = open_daemon_log(log);
		if (lfd < 0) { /* said why on the command's stderr, still ours */
			tell(p[1], lfd, START_RUNTIME);
			_exit(1);
		}
		int devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(lfd, 1);
		dup2(lfd, 2);
		close(lfd);
		if (chdir("/") != 0)
			_exit(1);
		_exit(serve(&cfg, p[1], port));
	}
	close(p[1]);
	int st;
	static struct start_msg msg;
	memset(&msg, 0, sizeof(msg));
	waitpid(pid, &st, 0);
	size_t got = 0;
	while (got < sizeof(msg)) {
		ssize_t n = read(p[0], (char *)&msg + got, sizeof(msg) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(p[0]);
	if (got < offsetof(struct start_msg, why)) {
		msg.rc = -EPIPE;
		msg.step = START_RUNTIME;
	}
	msg.why[sizeof(msg.why) - 1] = 0;
	if (msg.rc && msg.step == START_METRICS) {
		fprintf(stderr, "chi: cannot start runtime '%s': cannot serve metrics on 127.0.0.1:%d: %s\n",
			cfg.name, port, chi_strerror(msg.rc));
		return 1;
	}
	if (msg.rc) {
		/* the error lines the daemon logged, as the log has them: the cause */
		char *save = NULL;
		for (char *l = strtok_r(msg.why, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
			fprintf(stderr, "chi: error: %s\n", l);
		fprintf(stderr, "chi: cannot start runtime '%s': %s (log: /tmp/chi.%u.%s.log)\n",
			cfg.name,
			msg.rc == -EADDRINUSE ? "a runtime with this name is already running"
					      : chi_strerror(msg.rc),
			(unsigned)getuid(), cfg.name);
		return 1;
	}
	printf("chi: runtime '%s' started\n", cfg.name);
	return 0;
}

/* The daemon's process has exited: gone, or a zombie (state Z or X in
 * /proc) that its parent, PID 1 for a daemon, has not reaped yet (that took
 * ~1.4 s on these VMs, and kill(pid, 0) says a zombie is alive). */
static int exited(pid_t pid)
{
	char p[64], buf[512];
	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(p, "re");
	if (!f)
		return 1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *r = strrchr(buf, ')');
	return r && r[1] == ' ' && (r[2] == 'Z' || r[2] == 'X');
}

int chi_cmd_stop(int argc, char **argv)
{
	static const struct option opts[] = {{"name", required_argument, 0, 'n'},
					     {"config", required_argument, 0, 'c'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	const char *name = NULL, *conf = NULL;
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "n:c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'n': name = optarg; break;
		case 'c': conf = optarg; break;
		case 'h': printf("usage: chi stop [--name NAME] [--config FILE]\n"); return 0;
		default: fprintf(stderr, "usage: chi stop [--name NAME] [--config FILE]\n"); return 2;
		}
	}
	if (chi_cli_no_args("stop", argc, argv))
		return 2;
	chi_config cfg;
	chi_client *c = chi_cli_connect(&name, conf, &cfg);
	if (!c)
		return 1;
	char shm_name[CHI_SEG_NAME_MAX];
	chi_shm_name(shm_name, sizeof(shm_name), name, "main", -1);
	pid_t pid = (pid_t)chi_client_owner_pid(c);
	chi_task t;
	chi_task_init(&t, CHI_POOL_ADMIN, CHI_ADMIN_STOP, 0);
	int64_t r = chi_call(c, &t, &chi_admin_stop_codec);
	if (r < 0) {
		chi_cli_call_failed(c, name, "admin.stop", r);
		chi_client_close(c);
		return 1;
	}
	chi_client_close(c);
	/* the runtime unlinks its segment last, then its process exits */
	for (int i = 0; i < 1500; i++) {
		chi_seg s;
		int gone = chi_seg_open(&s, shm_name) == -ENOENT;
		if (s.base)
			chi_seg_close(&s);
		if (gone && (pid <= 0 || (kill(pid, 0) != 0 && errno == ESRCH) || exited(pid))) {
			printf("chi: runtime '%s' stopped\n", name);
			return 0;
		}
		sleep_ms(10);
	}
	fprintf(stderr, "chi: runtime '%s' did not stop within 15 s\n", name);
	return 1;
}
