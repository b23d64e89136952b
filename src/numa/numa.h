/* src/numa/numa.h: NUMA placement of the GPU queue segments and of the
 * workers that poll GPU lanes (docs/numa.md).
 *
 *   - topology: a GPU's node and local CPUs come from hwloc when chi was
 *     built with it (CHI_HAVE_HWLOC) and the sysfs root is the real "/sys";
 *     otherwise, or when hwloc has no single-node answer, from sysfs under a
 *     configurable root ("/sys" by default; tests point it at a fake tree,
 *     and then hwloc is never consulted):
 *     <root>/bus/pci/devices/<bus id>/{numa_node,local_cpulist}. A node's
 *     CPUs come from <root>/devices/system/node/node<N>/cpulist. Node -1
 *     means the platform gives no NUMA information (typical of virtual
 *     machines): the caller logs it and places nothing.
 *   - policy: mbind(MPOL_BIND, {node}) on a mapping before its first touch,
 *     and pthread CPU affinity, both through chi_numa_ops so a test can
 *     record the exact calls. The real mbind is syscall(SYS_mbind): no
 *     libnuma is needed.
 * Every function returns 0 or a negative errno; none of them logs. */
#ifndef CHI_SRC_NUMA_H
#define CHI_SRC_NUMA_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>

/* <numaif.h> values, so that header (libnuma-dev) is not needed */
#define CHI_MPOL_BIND 2
#define CHI_MPOL_F_NODE (1u << 0)
#define CHI_MPOL_F_ADDR (1u << 1)

/* Nodes a placement can name (the nodemask passed to mbind has this many
 * bits; maxnode is CHI_NUMA_MAX_NODES + 1, the kernel's off-by-one that
 * libnuma also applies). */
#define CHI_NUMA_MAX_NODES 1024
#define CHI_NUMA_MASK_LONGS (CHI_NUMA_MAX_NODES / (8 * sizeof(unsigned long)))

typedef struct chi_numa_ops {
	long (*mbind)(void *addr, unsigned long len, int mode, const unsigned long *nodemask,
		      unsigned long maxnode, unsigned flags);
	int (*set_affinity)(pthread_t t, size_t setsize, const cpu_set_t *set);
} chi_numa_ops;

/* Replace the ops (tests); NULL restores the real ones. */
void chi_numa_set_ops(const chi_numa_ops *ops);
const chi_numa_ops *chi_numa_get_ops(void);

/* Process-wide sysfs root: NULL or "" restores "/sys". */
void chi_numa_set_sysfs_root(const char *root);
const char *chi_numa_sysfs_root(void);

/* "0000:3B:00.0", "3b:00.0" or "00000000:3b:00.0" -> "0000:3b:00.0"
 * (sysfs form: lower case, 4-digit domain). -EINVAL if it is not one. */
int chi_numa_norm_busid(const char *busid, char *out, size_t len);

/* The GPU at pci_bus_id: its node (-1: no NUMA information) and its local
 * CPUs as a cpulist ("0-3,8-11"; "" if unknown). With the real root
 * ("/sys", or sysfs_root NULL/"" while the process-wide root is "/sys") and
 * hwloc built in, hwloc's answer when it has one; else sysfs
 * (numa_node, local_cpulist). -ENOENT if the device or its numa_node file
 * is missing from sysfs (and hwloc had no answer), -EINVAL on a malformed
 * bus id or file. */
int chi_numa_gpu_node(const char *sysfs_root, const char *pci_bus_id, int *node, char *cpulist,
		      size_t len);
/* hwloc alone: load this machine's topology with I/O devices, find the PCI
 * device, and take the nodeset of its first non-I/O ancestor. Exactly one
 * node: *node is it and cpulist that ancestor's CPUs. No such device, or no
 * single node (none, or several: a VM, or a device hanging off the whole
 * machine): 0 with *node = -1 and cpulist "" ("no information").
 * -ENOSYS when chi was built without hwloc, -EINVAL on a malformed bus id,
 * another negative errno if hwloc cannot load the topology. */
int chi_numa_hwloc_gpu_node(const char *pci_bus_id, int *node, char *cpulist, size_t len);
/* 1 if chi was built with hwloc (CHI_HAVE_HWLOC), else 0. */
int chi_numa_have_hwloc(void);

/* <root>/devices/system/node/node<node>/cpulist, trimmed. */
int chi_numa_node_cpulist(const char *sysfs_root, int node, char *cpulist, size_t len);
/* "0-3,8,10-11" (a trailing newline allowed) -> exactly those CPUs.
 * -EINVAL on anything else (empty, "3-1", "a", "1,,2", CPU >= CPU_SETSIZE). */
int chi_numa_parse_cpulist(const char *s, cpu_set_t *set);

/* gpu.numa (CHI_NUMA_AUTO, CHI_NUMA_OFF or a node) and the detected node
 * (-1: unknown) -> the node to place on, or -1 for no placement. */
int chi_numa_resolve(int cfg_numa, int detected_node);

/* mbind(addr, len rounded up to pages, MPOL_BIND, {node}, flags 0): call it
 * before the first touch of the mapping (pages already faulted stay where
 * they are). On a MAP_SHARED shm mapping the policy is the object's, so it
 * holds for every process that maps it. node < 0: no call, returns 0. */
int chi_numa_place(void *addr, uint64_t len, int node);

/* Pin a thread to `set`. */
int chi_numa_pin_thread(pthread_t t, const cpu_set_t *set);

/* (Which CPUs a GPU-lane worker runs on is the runtime's choice,
 * chi_numa_worker_cpus in src/runtime/runtime.h: this layer knows neither
 * workers nor GPUs.) */

#endif
