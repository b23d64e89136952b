/* src/numa/numa.c: GPU locality (hwloc when built with it, else sysfs),
 * mbind and CPU affinity behind chi_numa_ops (numa.h, docs/numa.md). The worker placement rule is the
 * runtime's (chi_numa_worker_cpus, src/runtime/worker.c). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "numa/numa.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef CHI_HAVE_HWLOC
#include <hwloc.h>
#endif

#include "chi/config.h" /* CHI_NUMA_AUTO, CHI_NUMA_OFF */

/* ---- ops ---- */
static long real_mbind(void *addr, unsigned long len, int mode, const unsigned long *nodemask,
		       unsigned long maxnode, unsigned flags)
{
#ifdef SYS_mbind
	return syscall(SYS_mbind, addr, len, mode, nodemask, maxnode, flags);
#else
	(void)addr, (void)len, (void)mode, (void)nodemask, (void)maxnode, (void)flags;
	errno = ENOSYS;
	return -1;
#endif
}

static int real_set_affinity(pthread_t t, size_t setsize, const cpu_set_t *set)
{
	return pthread_setaffinity_np(t, setsize, set); /* an errno value */
}

static const chi_numa_ops real_ops = {real_mbind, real_set_affinity};
static const chi_numa_ops *cur_ops = &real_ops;

void chi_numa_set_ops(const chi_numa_ops *ops) { cur_ops = ops ? ops : &real_ops; }
const chi_numa_ops *chi_numa_get_ops(void) { return cur_ops; }

/* ---- sysfs root ---- */
static char sysfs_root[256] = "/sys";

void chi_numa_set_sysfs_root(const char *root)
{
	snprintf(sysfs_root, sizeof(sysfs_root), "%s", root && *root ? root : "/sys");
}
const char *chi_numa_sysfs_root(void) { return sysfs_root; }

/* ---- topology ---- */

/* Read a small file, trimmed of trailing white space. */
static int read_small(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	size_t n = fread(buf, 1, len - 1, f);
	int err = ferror(f);
	fclose(f);
	if (err)
		return -EIO;
	buf[n] = 0;
	while (n && isspace((unsigned char)buf[n - 1]))
		buf[--n] = 0;
	return 0;
}

/* Up to `max` hex digits (at least one) ending at `stop`; strict, unlike %x. */
static int hex_field(const char **p, char stop, int max, unsigned *out)
{
	unsigned v = 0;
	int n = 0;
	for (; isxdigit((unsigned char)**p); (*p)++, n++) {
		if (n == max)
			return -EINVAL;
		int c = tolower((unsigned char)**p);
		v = v * 16 + (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
	}
	if (!n || **p != stop)
		return -EINVAL;
	if (stop)
		(*p)++;
	*out = v;
	return 0;
}

int chi_numa_norm_busid(const char *busid, char *out, size_t len)
{
	unsigned dom = 0, bus, dev, fn;
	if (!busid)
		return -EINVAL;
	const char *p = busid;
	/* three ':'-separated fields before the '.': domain:bus:dev, else bus:dev */
	int colons = 0;
	for (const char *q = busid; *q; q++)
		colons += *q == ':';
	if (colons == 2 && hex_field(&p, ':', 8, &dom))
		return -EINVAL;
	if ((colons != 1 && colons != 2) || hex_field(&p, ':', 2, &bus) ||
	    hex_field(&p, '.', 2, &dev) || hex_field(&p, 0, 1, &fn))
		return -EINVAL;
	if (dom > 0xffff || dev > 0x1f || fn > 7)
		return -EINVAL;
	int n = snprintf(out, len, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

int chi_numa_have_hwloc(void)
{
#ifdef CHI_HAVE_HWLOC
	return 1;
#else
	return 0;
#endif
}

int chi_numa_hwloc_gpu_node(const char *pci_bus_id, int *node, char *cpulist, size_t len)
{
	char id[32];
	int rc = chi_numa_norm_busid(pci_bus_id, id, sizeof(id));
	if (rc)
		return rc;
#ifdef CHI_HAVE_HWLOC
	/* A topology per call: this runs once per GPU at runtime start, and
	 * loading one with I/O objects takes milliseconds; nothing is cached,
	 * so nothing is shared between threads or leaked. */
	hwloc_topology_t topo;
	if (hwloc_topology_init(&topo))
		return errno ? -errno : -ENOMEM;
	rc = hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
	if (!rc)
		rc = hwloc_topology_load(topo);
	if (rc) {
		rc = errno ? -errno : -EIO;
		hwloc_topology_destroy(topo);
		return rc;
	}
	int found = -1;
	hwloc_obj_t dev = hwloc_get_pcidev_by_busidstring(topo, id);
	hwloc_obj_t anc = dev ? hwloc_get_non_io_ancestor_obj(topo, dev) : NULL;
	if (anc && anc->nodeset && hwloc_bitmap_weight(anc->nodeset) == 1) {
		/* nodesets are indexed by OS node number, as mbind wants */
		int n = hwloc_bitmap_first(anc->nodeset);
		if (n >= 0 && n < CHI_NUMA_MAX_NODES)
			found = n;
	}
	if (cpulist && len) {
		cpulist[0] = 0;
		if (found >= 0 && anc->cpuset && !hwloc_bitmap_iszero(anc->cpuset)) {
			/* "0-3,8-11", the form of sysfs's local_cpulist */
			int n = hwloc_bitmap_list_snprintf(cpulist, len, anc->cpuset);
			if (n < 0 || (size_t)n >= len)
				cpulist[0] = 0;
		}
	}
	hwloc_topology_destroy(topo);
	*node = found;
	return 0;
#else
	(void)node, (void)cpulist, (void)len;
	return -ENOSYS;
#endif
}

int chi_numa_gpu_node(const char *root, const char *pci_bus_id, int *node, char *cpulist,
		      size_t len)
{
	char id[32], path[512], buf[32];
	int rc = chi_numa_norm_busid(pci_bus_id, id, sizeof(id));
	if (rc)
		return rc;
	if (!root || !*root)
		root = sysfs_root;
	/* The real machine: hwloc first. A fake root (tests) is only ever
	 * read as sysfs. hwloc without an answer (no such device, no single
	 * node: most VMs) falls through to sysfs. */
	if (!strcmp(root, "/sys")) {
		int hnode = -1;
		if (!chi_numa_hwloc_gpu_node(id, &hnode, cpulist, len) && hnode >= 0) {
			*node = hnode;
			return 0;
		}
	}
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/numa_node", root, id);
	rc = read_small(path, buf, sizeof(buf));
	if (rc)
		return rc;
	char *end;
	errno = 0;
	long v = strtol(buf, &end, 10);
	if (end == buf || *end || errno || v < -1 || v >= CHI_NUMA_MAX_NODES)
		return -EINVAL;
	*node = (int)v;
	if (cpulist && len) {
		snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/local_cpulist", root, id);
		if (read_small(path, cpulist, len))
			cpulist[0] = 0;
	}
	return 0;
}

int chi_numa_node_cpulist(const char *root, int node, char *cpulist, size_t len)
{
	char path[512];
	if (node < 0 || !len)
		return -EINVAL;
	if (!root || !*root)
		root = sysfs_root;
	snprintf(path, sizeof(path), "%s/devices/system/node/node%d/cpulist", root, node);
	return read_small(path, cpulist, len);
}

static int parse_cpu(const char **p, long *out)
{
	if (!isdigit((unsigned char)**p))
		return -EINVAL;
	char *end;
	errno = 0;
	long v = strtol(*p, &end, 10);
	if (errno || v < 0 || v >= CPU_SETSIZE)
		return -EINVAL;
	*p = end;
	*out = v;
	return 0;
}

int chi_numa_parse_cpulist(const char *s, cpu_set_t *set)
{
	cpu_set_t tmp;
	CPU_ZERO(&tmp);
	if (!s)
		return -EINVAL;
	const char *p = s;
	for (;;) {
		long a, b;
		if (parse_cpu(&p, &a))
			return -EINVAL;
		b = a;
		if (*p == '-') {
			p++;
			if (parse_cpu(&p, &b) || b < a)
				return -EINVAL;
		}
		for (long c = a; c <= b; c++)
			CPU_SET((int)c, &tmp);
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == '\n')
			p++;
		if (*p)
			return -EINVAL;
		break;
	}
	*set = tmp;
	return 0;
}

int chi_numa_resolve(int cfg_numa, int detected_node)
{
	if (cfg_numa == CHI_NUMA_OFF)
		return -1;
	if (cfg_numa >= 0)
		return cfg_numa;
	/* CHI_NUMA_AUTO */
	return detected_node >= 0 ? detected_node : -1;
}

/* ---- policy ---- */
int chi_numa_place(void *addr, uint64_t len, int node)
{
	if (node < 0)
		return 0;
	if (node >= CHI_NUMA_MAX_NODES || !addr)
		return -EINVAL;
	long page = sysconf(_SC_PAGESIZE);
	if (page <= 0)
		page = 4096;
	if ((uintptr_t)addr % (uintptr_t)page)
		return -EINVAL;
	uint64_t rlen = (len + (uint64_t)page - 1) / (uint64_t)page * (uint64_t)page;
	unsigned long mask[CHI_NUMA_MASK_LONGS];
	memset(mask, 0, sizeof(mask));
	mask[(unsigned)node / (8 * sizeof(unsigned long))] |=
		1ul << ((unsigned)node % (8 * sizeof(unsigned long)));
	errno = 0;
	long rc = cur_ops->mbind(addr, (unsigned long)rlen, CHI_MPOL_BIND, mask,
				 CHI_NUMA_MAX_NODES + 1, 0);
	if (rc == 0)
		return 0;
	return errno ? -errno : -EIO;
}

int chi_numa_pin_thread(pthread_t t, const cpu_set_t *set)
{
	if (!set || CPU_COUNT(set) == 0)
		return -EINVAL;
	int rc = cur_ops->set_affinity(t, sizeof(cpu_set_t), set);
	return rc > 0 ? -rc : rc;
}
