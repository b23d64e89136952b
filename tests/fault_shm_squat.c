/* tests/fault_shm_squat.c: failure rows "another user squats the segment
 * name" and "/dev/shm cannot back a segment". A main segment that is not
 * this user's with mode 0600 (a file another user planted: mode 0666 here,
 * and, when the test runs as root, owned by uid 65534) makes chi_seg_open,
 * a client's connect and the runtime's start refuse with -EACCES, and
 * `chi cleanup`'s scan leaves it alone; a segment larger than /dev/shm can
 * hold fails the start with -ENOSPC instead of a SIGBUS later, and leaves
 * nothing behind. */
#include "test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "shm/shm.h"

/* Plant a valid-looking main segment of runtime `rname` with `mode`. */
static void plant(const char *name, const char *rname, mode_t mode)
{
	chi_seg s;
	assert_int_equal(chi_seg_create(&s, name, 1 << 20, CHI_SEG_ID_MAIN, CHI_SEG_KIND_MAIN, 7,
					rname), 0);
	s.created = 0; /* left behind */
	chi_seg_close(&s);
	int fd = shm_open(name, O_RDWR, 0);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_squatted_name_refused(void **state)
{
	(void)state;
	chi_config cfg;
	test_config(&cfg, 1, 1, 64);
	char name[CHI_SEG_NAME_MAX];
	assert_int_equal(chi_shm_name(name, sizeof(name), cfg.name, "main", -1), 0);
	plant(name, cfg.name, 0666);
	chi_seg s;
	assert_int_equal(chi_seg_open(&s, name), -EACCES);
	assert_int_equal(chi_seg_check_ours(name), -EACCES);
	chi_client *c = NULL;
	assert_int_equal(chi_client_connect(cfg.name, &c), -EACCES);
	assert_null(c);
	chi_runtime *rt = NULL;
	assert_int_equal(chi_runtime_start(&cfg, &rt), -EACCES);
	assert_null(rt);
	/* cleanup does not remove what is not ours */
	chi_shm_cleanup(cfg.name, NULL, NULL);
	assert_int_equal(chi_seg_check_ours(name), -EACCES);
	if (geteuid() == 0) { /* another owner, mode 0600: refused too */
		int fd = shm_open(name, O_RDWR, 0);
		assert_true(fd >= 0);
		assert_int_equal(fchmod(fd, 0600), 0);
		assert_int_equal(fchown(fd, 65534, 65534), 0);
		close(fd);
		assert_int_equal(chi_seg_open(&s, name), -EACCES);
		assert_int_equal(chi_runtime_start(&cfg, &rt), -EACCES);
	}
	shm_unlink(name);
	/* the name free again: the start works */
	assert_int_equal(chi_runtime_start(&cfg, &rt), 0);
	chi_runtime_stop(rt);
}

static void test_segment_too_large(void **state)
{
	(void)state;
	struct statvfs vs;
	assert_int_equal(statvfs("/dev/shm", &vs), 0);
	uint64_t total = (uint64_t)vs.f_blocks * vs.f_frsize;
	chi_config cfg;
	test_config(&cfg, 1, 1, 64);
	/* twice /dev/shm's whole size: refused before any page is taken
	 * (tmpfs checks a reservation against its size first) */
	cfg.main_segment_size = total * 2 + (1ull << 30);
	chi_runtime *rt = NULL;
	assert_int_equal(chi_runtime_start(&cfg, &rt), -ENOSPC);
	assert_null(rt);
	char name[CHI_SEG_NAME_MAX];
	assert_int_equal(chi_shm_name(name, sizeof(name), cfg.name, "main", -1), 0);
	chi_seg s;
	assert_int_equal(chi_seg_open(&s, name), -ENOENT); /* nothing left behind */
	/* a configuration of terabytes of queues is refused the same way */
	test_config(&cfg, 1, 1, 1u << 24);
	cfg.lanes = 1024;
	assert_int_equal(chi_runtime_start(&cfg, &rt), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_squatted_name_refused),
		cmocka_unit_test(test_segment_too_large),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
