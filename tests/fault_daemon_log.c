/* tests/fault_daemon_log.c: failure row "the daemon's log file is planted"
 * (docs/reliability.md). `chi start` makes the daemon write its messages
 * to /tmp/chi.<uid>.<name>.log, a name anyone can create first in /tmp. The
 * daemon opened it following symlinks and whoever owned it, so a planted
 * link made it append to (or create) any file the user can write, and a
 * planted file of another user received the log. Now it opens the log with
 * O_NOFOLLOW|O_CLOEXEC, mode 0600, and refuses a log that is not a regular
 * file owned by this user (with a message naming the file): the start fails
 * and no runtime is left. The chi binary (next to this test's directory)
 * runs as a real daemon.
 *   symlink: start fails, says so, the link's target is untouched;
 *   another user's file (only when running as root, who can make one):
 *     start fails, says so, the file is untouched;
 *   this user's file with mode 0644: start succeeds, the log is 0600 and
 *     holds the daemon's messages. */
#include "test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char chi_bin[4200];
static char rname[64], logpath[256], tmpdir[256];

static int chi_run(const char *cmd, char *out, size_t cap)
{
	char line[8192], outf[300];
	snprintf(outf, sizeof(outf), "%s/out", tmpdir);
	snprintf(line, sizeof(line),
		 "CHI_RUNTIME_NAME=%s CHI_RUNTIME_NUM_WORKERS=1 CHI_SERVER_CONF= %s %s >%s 2>&1",
		 rname, chi_bin, cmd, outf);
	int st = system(line);
	FILE *f = fopen(outf, "r");
	size_t n = f ? fread(out, 1, cap - 1, f) : 0;
	if (f)
		fclose(f);
	out[n] = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void read_file(const char *p, char *buf, size_t cap)
{
	FILE *f = fopen(p, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, cap - 1, f);
	buf[n] = 0;
	fclose(f);
}

static void write_file(const char *p, const char *s, mode_t mode)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	fchmod(fd, mode);
	close(fd);
}

static void setup_names(const char *tag)
{
	snprintf(rname, sizeof(rname), "dl%s%d", tag, (int)getpid());
	snprintf(logpath, sizeof(logpath), "/tmp/chi.%u.%s.log", (unsigned)getuid(), rname);
	unlink(logpath);
}

static void stop_if_running(void)
{
	char out[4096];
	chi_run("stop", out, sizeof(out));
}

static void test_symlink_refused(void **state)
{
	(void)state;
	setup_names("s");
	char victim[300], buf[256], out[4096];
	snprintf(victim, sizeof(victim), "%s/victim", tmpdir);
	write_file(victim, "precious\n", 0600);
	assert_int_equal(symlink(victim, logpath), 0);
	int rc = chi_run("start", out, sizeof(out));
	if (rc == 0)
		stop_if_running();
	assert_int_not_equal(rc, 0);
	assert_non_null(strstr(out, "symbolic link"));
	assert_non_null(strstr(out, logpath));
	read_file(victim, buf, sizeof(buf));
	assert_string_equal(buf, "precious\n");
	/* and no runtime is left behind */
	assert_int_not_equal(chi_run("status", out, sizeof(out)), 0);
	unlink(logpath);
}

static void test_foreign_owner_refused(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip(); /* only root can plant a file of another user here */
	setup_names("o");
	char buf[256], out[4096];
	write_file(logpath, "theirs\n", 0666);
	assert_int_equal(chown(logpath, 65534, 65534), 0);
	int rc = chi_run("start", out, sizeof(out));
	if (rc == 0)
		stop_if_running();
	assert_int_not_equal(rc, 0);
	assert_non_null(strstr(out, "not owned by"));
	read_file(logpath, buf, sizeof(buf));
	assert_string_equal(buf, "theirs\n");
	assert_int_not_equal(chi_run("status", out, sizeof(out)), 0);
	unlink(logpath);
}

static void test_own_log_tightened(void **state)
{
	(void)state;
	setup_names("g");
	char buf[8192], out[4096];
	write_file(logpath, "", 0644);
	int rc = chi_run("start", out, sizeof(out));
	struct stat st;
	int lrc = lstat(logpath, &st);
	int src = rc == 0 ? chi_run("stop", out, sizeof(out)) : 0; /* never leave it running */
	assert_int_equal(rc, 0);
	assert_int_equal(src, 0);
	assert_int_equal(lrc, 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	read_file(logpath, buf, sizeof(buf));
	assert_non_null(strstr(buf, "serving"));
	unlink(logpath);
}

int main(void)
{
	char self[4096];
	if (test_self_exe(self, sizeof(self)))
		return 1;
	snprintf(chi_bin, sizeof(chi_bin), "%s/../chi", dirname(self));
	if (access(chi_bin, X_OK) != 0) {
		fprintf(stderr, "fault_daemon_log: no chi binary at %s\n", chi_bin);
		return 77;
	}
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/chi_dl_XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_symlink_refused),
		cmocka_unit_test(test_foreign_owner_refused),
		cmocka_unit_test(test_own_log_tightened),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		rc = rc ? rc : 1;
	return rc;
}
