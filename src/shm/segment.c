/* src/shm/segment.c: create, open and close named POSIX shared-memory
 * segments. See shm.h for naming; proto/segment.h for the header protocol. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "shm.h"
#include "numa/numa.h"
#include "chi/log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

int chi_shm_name(char *out, size_t cap, const char *runtime, const char *kind, int n)
{
	int len;
	if (!runtime || !*runtime || strchr(runtime, '/') || strchr(runtime, '.'))
		return -EINVAL;
	if (n < 0)
		len = snprintf(out, cap, "/chi.%u.%s.%s", (unsigned)getuid(), runtime, kind);
	else
		len = snprintf(out, cap, "/chi.%u.%s.%s.%d", (unsigned)getuid(), runtime, kind, n);
	return (len < 0 || (size_t)len >= cap) ? -ENAMETOOLONG : 0;
}

/* Trust rule (another user must not squat a name): a segment is ours only
 * if this user owns it and nobody else may open it (mode 0600). */
static int check_ours(int fd, const char *name)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -errno;
	if (st.st_uid != geteuid() || (st.st_mode & 0777) != 0600) {
		chi_log(CHI_LOG_ERROR, "segment %s is not this user's (owner uid %u, mode %03o; "
				       "expected uid %u, mode 600): refused",
			name, (unsigned)st.st_uid, (unsigned)(st.st_mode & 0777), (unsigned)geteuid());
		return -EACCES;
	}
	return 0;
}

int chi_seg_check_ours(const char *name)
{
	int fd = shm_open(name, O_RDONLY, 0);
	if (fd < 0)
		return -errno;
	int rc = check_ours(fd, name);
	close(fd);
	return rc;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int chi_seg_create(chi_seg *s, const char *name, uint64_t size, uint32_t seg_id,
		   uint32_t kind, uint64_t epoch, const char *runtime_name)
{
	return chi_seg_create_on_node(s, name, size, seg_id, kind, epoch, runtime_name, -1, NULL);
}

int chi_seg_create_on_node(chi_seg *s, const char *name, uint64_t size, uint32_t seg_id,
			   uint32_t kind, uint64_t epoch, const char *runtime_name, int node,
			   int *place_rc)
{
	if (place_rc)
		*place_rc = 0;
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if (strlen(name) >= sizeof(s->name) || size < 4096)
		return -EINVAL;
	int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return -errno;
	/* larger than the whole tmpfs: refused before anything is mapped (a
	 * mapping of terabytes can itself fail, with a less useful error) */
	struct statvfs vs;
	if (fstatvfs(fd, &vs) == 0 && vs.f_blocks &&
	    size / vs.f_frsize > (uint64_t)vs.f_blocks) {
		chi_log(CHI_LOG_ERROR, "cannot reserve %llu bytes (%llu MiB) for segment %s: /dev/shm "
				       "holds %llu MiB in all (%llu MiB free)",
			(unsigned long long)size, (unsigned long long)(size >> 20), name,
			(unsigned long long)vs.f_blocks * vs.f_frsize >> 20,
			(unsigned long long)vs.f_bavail * vs.f_frsize >> 20);
		close(fd);
		shm_unlink(name);
		return -ENOSPC;
	}
	if (fchmod(fd, 0600) != 0 || size > (uint64_t)INT64_MAX || ftruncate(fd, (off_t)size) != 0) {
		int e = -errno;
		close(fd);
		shm_unlink(name);
		return e;
	}
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int e = -errno;
		close(fd);
		shm_unlink(name);
		return e;
	}
	s->base = p;
	s->size = size;
	s->fd = fd;
	s->created = 1;
	snprintf(s->name, sizeof(s->name), "%s", name);

	/* bind before the header write below, the mapping's first touch; the
	 * policy of a shm mapping is the object's, so it also holds for pages
	 * other processes fault in (cudaHostRegister in a client included) */
	int prc = chi_numa_place(p, size, node);
	if (place_rc)
		*place_rc = prc;
	/* the whole segment reserved now (after the placement, which the
	 * object's pages then follow): a tmpfs that cannot back it fails the
	 * start here, instead of SIGBUS at some later first touch */
	int frc = posix_fallocate(fd, 0, (off_t)size);
	if (frc) {
		unsigned long long avail = fstatvfs(fd, &vs) == 0 ? (unsigned long long)vs.f_bavail * vs.f_frsize : 0;
		chi_log(CHI_LOG_ERROR, "cannot reserve %llu bytes (%llu MiB) for segment %s: %s "
				       "(/dev/shm has %llu MiB free)",
			(unsigned long long)size, (unsigned long long)(size >> 20), name, strerror(frc),
			avail >> 20);
		munmap(p, size);
		close(fd);
		shm_unlink(name);
		memset(s, 0, sizeof(*s));
		s->fd = -1;
		return frc == EINVAL || frc == EFBIG ? -ENOSPC : -frc;
	}

	chi_seg_hdr *h = (chi_seg_hdr *)p;
	h->version = CHI_LAYOUT_VERSION;
	h->seg_id = seg_id;
	h->size = size;
	h->epoch = epoch;
	h->owner_pid = (int32_t)getpid();
	h->kind = kind;
	h->created_ns = now_ns();
	snprintf(h->name, sizeof(h->name), "%s", runtime_name ? runtime_name : "");
	/* SG1: magic last, release; pairs with SG2 in chi_seg_open */
	__atomic_store_n(&h->magic, CHI_SEG_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

int chi_seg_open(chi_seg *s, const char *name)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if (strlen(name) >= sizeof(s->name))
		return -EINVAL;
	int fd = shm_open(name, O_RDWR, 0600);
	if (fd < 0)
		return -errno;
	int orc = check_ours(fd, name);
	if (orc) {
		close(fd);
		return orc;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || (uint64_t)st.st_size < sizeof(chi_seg_hdr)) {
		close(fd);
		return -EPROTO;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int e = -errno;
		close(fd);
		return e;
	}
	chi_seg_hdr *h = (chi_seg_hdr *)p;
	/* SG2: acquire; pairs with SG1 */
	if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != CHI_SEG_MAGIC ||
	    h->version != CHI_LAYOUT_VERSION || h->size != (uint64_t)st.st_size) {
		munmap(p, (size_t)st.st_size);
		close(fd);
		return -EPROTO;
	}
	s->base = p;
	s->size = (uint64_t)st.st_size;
	s->fd = fd;
	snprintf(s->name, sizeof(s->name), "%s", name);
	return 0;
}

void chi_seg_close(chi_seg *s)
{
	if (s->base)
		munmap(s->base, s->size);
	if (s->fd >= 0)
		close(s->fd);
	if (s->created)
		shm_unlink(s->name);
	s->base = NULL;
	s->fd = -1;
	s->created = 0;
}

int chi_seg_owner_alive(const chi_seg_hdr *h)
{
	pid_t pid = (pid_t)h->owner_pid;
	if (pid <= 0)
		return 0;
	return kill(pid, 0) == 0 || errno == EPERM;
}
