/* tests/test_numa.c: NUMA placement of GPU queue segments and of the workers
 * that own GPU lanes (src/numa/, docs/numa.md). Simulated GPUs get PCI bus
 * ids (chi_gpu_simulate_pci) that a fake sysfs tree, built in a temporary
 * directory, maps to nodes; fake chi_numa_ops record the exact mbind and
 * affinity calls: with a fake root set, the GPU's node is read from that
 * tree, never from hwloc. One test uses the real mbind on this machine, one
 * asks hwloc (when built in) about this machine's PCI devices. Label numa. */
#include "test_util.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gpu/gpu.h"
#include "numa/numa.h"
#include "runtime/runtime.h"
#include "shm/shm.h"

/* ---- fake sysfs ---- */
static char root[64];

static void put_file(const char *rel, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			mkdir(path, 0700);
			*p = '/';
		}
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void rm_tree(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

/* nodes[i]: cpulist of node i; gpus: sysfs bus id and node of each GPU */
typedef struct fake_gpu {
	const char *sysfs_id; /* directory name under bus/pci/devices */
	const char *cuda_id;  /* what the backend reports */
	const char *node;     /* numa_node file content */
	const char *local;    /* local_cpulist */
} fake_gpu;

static void make_tree(const char *const *nodes, int nnodes, const fake_gpu *g, int ngpus)
{
	snprintf(root, sizeof(root), "/tmp/chi_numa_XXXXXX");
	assert_non_null(mkdtemp(root));
	char rel[256];
	for (int i = 0; i < nnodes; i++) {
		snprintf(rel, sizeof(rel), "devices/system/node/node%d/cpulist", i);
		put_file(rel, nodes[i]);
	}
	for (int i = 0; i < ngpus; i++) {
		snprintf(rel, sizeof(rel), "bus/pci/devices/%s/numa_node", g[i].sysfs_id);
		put_file(rel, g[i].node);
		snprintf(rel, sizeof(rel), "bus/pci/devices/%s/local_cpulist", g[i].sysfs_id);
		put_file(rel, g[i].local);
	}
	chi_numa_set_sysfs_root(root);
}

/* ---- recording ops ---- */
typedef struct mbind_call {
	void *addr;
	unsigned long len;
	int mode;
	unsigned long mask[CHI_NUMA_MASK_LONGS];
	unsigned long maxnode;
	unsigned flags;
} mbind_call;

static mbind_call calls[16];
static int ncalls;
static int mbind_fail; /* errno the fake mbind fails with, 0: succeeds */
static int naff;
static size_t aff_size;
static cpu_set_t aff_set;
static pthread_t aff_thread;

static long fake_mbind(void *addr, unsigned long len, int mode, const unsigned long *nodemask,
		       unsigned long maxnode, unsigned flags)
{
	if (ncalls < 16) {
		mbind_call *c = &calls[ncalls];
		c->addr = addr;
		c->len = len;
		c->mode = mode;
		memcpy(c->mask, nodemask, sizeof(c->mask)); /* maxnode - 1 bits */
		c->maxnode = maxnode;
		c->flags = flags;
	}
	ncalls++;
	if (mbind_fail) {
		errno = mbind_fail;
		return -1;
	}
	return 0;
}

static int fake_affinity(pthread_t t, size_t setsize, const cpu_set_t *set)
{
	naff++;
	aff_thread = t;
	aff_size = setsize;
	aff_set = *set;
	return 0;
}

static const chi_numa_ops fake_ops = {fake_mbind, fake_affinity};

static int setup(void **state)
{
	(void)state;
	ncalls = 0;
	naff = 0;
	mbind_fail = 0;
	memset(calls, 0, sizeof(calls));
	chi_numa_set_ops(&fake_ops);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	chi_numa_set_ops(NULL);
	chi_numa_set_sysfs_root(NULL);
	chi_gpu_simulate(0);
	if (root[0])
		rm_tree();
	root[0] = 0;
	return 0;
}

static chi_runtime *start(const fake_gpu *g, uint32_t ngpus, uint32_t workers, int numa,
			  chi_gpu_workers policy)
{
	chi_gpu_simulate(ngpus);
	for (uint32_t i = 0; g && i < ngpus; i++)
		chi_gpu_simulate_pci(i, g[i].cuda_id);
	chi_config cfg;
	test_config(&cfg, workers, 0, 256);
	cfg.gpu_lanes = 1;
	cfg.gpu_queue_depth = 64;
	cfg.gpu_segment_size = 16u << 20;
	cfg.gpu_workers = policy;
	cfg.gpu_numa = numa;
	chi_runtime *rt;
	assert_int_equal(chi_runtime_start(&cfg, &rt), 0);
	return rt;
}

static chi_gpu_seg *seg_of(chi_runtime *rt, uint32_t g)
{
	chi_gpu_state *st = rt->gpu;
	assert_non_null(st);
	assert_true(g < st->n);
	return &st->segs[g];
}

/* exactly one mbind of GPU g's whole segment, MPOL_BIND, nodemask = {node} */
static void assert_bound_once(chi_runtime *rt, uint32_t g, int node)
{
	chi_gpu_seg *gs = seg_of(rt, g);
	int found = 0;
	for (int i = 0; i < ncalls && i < 16; i++) {
		mbind_call *c = &calls[i];
		if (c->addr != gs->seg.base)
			continue;
		found++;
		assert_int_equal(c->len, 16u << 20);
		assert_int_equal(c->len, gs->seg.size);
		assert_int_equal(c->mode, 2); /* MPOL_BIND */
		assert_int_equal(c->flags, 0);
		assert_int_equal(c->maxnode, CHI_NUMA_MAX_NODES + 1);
		for (int b = 0; b < CHI_NUMA_MAX_NODES; b++) {
			int set = (int)(c->mask[b / 64] >> (b % 64) & 1);
			assert_int_equal(set, b == node);
		}
	}
	assert_int_equal(found, 1);
	assert_int_equal(gs->numa_node, node);
	assert_int_equal(gs->dir->numa_node, node);
}

static void assert_cpus(const cpu_set_t *got, const char *list)
{
	cpu_set_t want;
	assert_int_equal(chi_numa_parse_cpulist(list, &want), 0);
	assert_true(CPU_EQUAL(got, &want));
}

/* the worker that owns GPU g's (single) lane */
static uint32_t owner_of(chi_runtime *rt, uint32_t g)
{
	for (uint32_t l = 0; l < rt->nlane_refs; l++)
		if (rt->lane_refs[l].gpu && rt->lane_refs[l].seg_id == CHI_SEG_ID_GPU_BASE + g)
			return rt->lane_refs[l].shm->worker;
	fail();
	return 0;
}

/* ---- pure functions ---- */
static void test_cpulist(void **state)
{
	(void)state;
	cpu_set_t s;
	assert_int_equal(chi_numa_parse_cpulist("0-3,8,10-11", &s), 0);
	assert_int_equal(CPU_COUNT(&s), 7);
	for (int c = 0; c < CPU_SETSIZE; c++)
		assert_int_equal(!!CPU_ISSET(c, &s), (c <= 3) || c == 8 || c == 10 || c == 11);
	assert_int_equal(chi_numa_parse_cpulist("5\n", &s), 0);
	assert_int_equal(CPU_COUNT(&s), 1);
	assert_true(CPU_ISSET(5, &s));
	assert_int_equal(chi_numa_parse_cpulist("1023", &s), 0);
	assert_true(CPU_ISSET(1023, &s));
	static const char *bad[] = {"", "\n", "a", "3-1", "1,,2", "1-", "-1", "1,", ",1",
				    "0-3 ", " 0", "1-2-3", "0x3", "1024", "99999999999999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(chi_numa_parse_cpulist(bad[i], &s), -EINVAL);
	assert_int_equal(chi_numa_parse_cpulist(NULL, &s), -EINVAL);
}

static void test_busid_resolve(void **state)
{
	(void)state;
	char b[32];
	assert_int_equal(chi_numa_norm_busid("0000:3B:00.0", b, sizeof(b)), 0);
	assert_string_equal(b, "0000:3b:00.0");
	assert_int_equal(chi_numa_norm_busid("00000000:AF:1f.7", b, sizeof(b)), 0);
	assert_string_equal(b, "0000:af:1f.7");
	assert_int_equal(chi_numa_norm_busid("3b:00.1", b, sizeof(b)), 0);
	assert_string_equal(b, "0000:3b:00.1");
	assert_int_equal(chi_numa_norm_busid("gpu0", b, sizeof(b)), -EINVAL);
	static const char *bad[] = {"0000:3b:00.0x", "0000:3b:00.0 ", " 3b:00.0", "0000:3b:00",
				    "0000:3b:20.0", "0000:3b:00.8", "0000:0x3b:00.0", "3b.00.0",
				    "1:2:3:00.0", "000000000:3b:00.0", "10000:3b:00.0", ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(chi_numa_norm_busid(bad[i], b, sizeof(b)), -EINVAL);

	assert_int_equal(chi_numa_resolve(CHI_NUMA_AUTO, 3), 3);
	assert_int_equal(chi_numa_resolve(CHI_NUMA_AUTO, -1), -1);
	assert_int_equal(chi_numa_resolve(CHI_NUMA_OFF, 3), -1);
	assert_int_equal(chi_numa_resolve(1, 0), 1);
	assert_int_equal(chi_numa_resolve(1, -1), 1);

	/* no call for node < 0 */
	assert_int_equal(chi_numa_place(&b, 4096, -1), 0);
	assert_int_equal(ncalls, 0);
}

/* ---- 2 nodes, 2 GPUs ---- */
static const char *const nodes2[] = {"0-3,8-11\n", "4-7,12-15\n"};
static const fake_gpu gpus2[] = {
	{"0000:3b:00.0", "0000:3B:00.0", "0\n", "0-3,8-11\n"},
	{"0000:af:00.0", "af:00.0", "1\n", "4-7,12-15\n"},
};

static void test_two_nodes(void **state)
{
	(void)state;
	make_tree(nodes2, 2, gpus2, 2);
	chi_runtime *rt = start(gpus2, 2, 3, CHI_NUMA_AUTO, CHI_GPU_WORKERS_DEDICATED);
	assert_int_equal(ncalls, 2);
	assert_bound_once(rt, 0, 0);
	assert_bound_once(rt, 1, 1);
	assert_string_equal(seg_of(rt, 0)->dir->cpulist, "0-3,8-11");
	assert_string_equal(seg_of(rt, 1)->dir->cpulist, "4-7,12-15");
	/* the runtime pinned the two GPU-lane workers when it started them */
	int base = naff;
	assert_int_equal(base, 2);
	for (uint32_t g = 0; g < 2; g++) {
		cpu_set_t s;
		uint32_t w = owner_of(rt, g);
		assert_int_equal(chi_numa_worker_cpus(rt, w, &s), 0);
		assert_cpus(&s, nodes2[g]);
		/* what pinning passes to the affinity call, exactly */
		assert_int_equal(chi_numa_pin_thread(rt->workers[w].thread, &s), 0);
		assert_int_equal(naff, base + (int)g + 1);
		assert_true(pthread_equal(aff_thread, rt->workers[w].thread));
		assert_int_equal(aff_size, sizeof(cpu_set_t));
		assert_cpus(&aff_set, nodes2[g]);
	}
	cpu_set_t s;
	assert_int_equal(chi_numa_worker_cpus(rt, 0, &s), -ENOENT); /* CPU lanes only */
	assert_int_equal(owner_of(rt, 0) == 0 || owner_of(rt, 1) == 0, 0);
	chi_runtime_stop(rt);
	assert_int_equal(ncalls, 2);
}

static void test_numa_off(void **state)
{
	(void)state;
	make_tree(nodes2, 2, gpus2, 2);
	chi_runtime *rt = start(gpus2, 2, 3, CHI_NUMA_OFF, CHI_GPU_WORKERS_DEDICATED);
	assert_int_equal(ncalls, 0);
	for (uint32_t g = 0; g < 2; g++) {
		assert_int_equal(seg_of(rt, g)->numa_node, -1);
		assert_int_equal(seg_of(rt, g)->dir->numa_node, -1);
		assert_string_equal(seg_of(rt, g)->dir->cpulist, "");
		cpu_set_t s;
		assert_int_equal(chi_numa_worker_cpus(rt, owner_of(rt, g), &s), -ENOENT);
	}
	chi_runtime_stop(rt);
}

static void test_numa_forced(void **state)
{
	(void)state;
	make_tree(nodes2, 2, gpus2, 2);
	chi_runtime *rt = start(gpus2, 2, 3, 1, CHI_GPU_WORKERS_DEDICATED);
	assert_int_equal(ncalls, 2);
	assert_bound_once(rt, 0, 1); /* detected 0, gpu.numa says 1 */
	assert_bound_once(rt, 1, 1);
	for (uint32_t g = 0; g < 2; g++) {
		cpu_set_t s;
		assert_int_equal(chi_numa_worker_cpus(rt, owner_of(rt, g), &s), 0);
		assert_cpus(&s, nodes2[1]);
	}
	chi_runtime_stop(rt);
}

/* one worker owning both GPU lanes (shared): the union of both nodes */
static void test_shared_union(void **state)
{
	(void)state;
	make_tree(nodes2, 2, gpus2, 2);
	chi_runtime *rt = start(gpus2, 2, 1, CHI_NUMA_AUTO, CHI_GPU_WORKERS_SHARED);
	assert_int_equal(ncalls, 2);
	assert_bound_once(rt, 0, 0);
	assert_bound_once(rt, 1, 1);
	cpu_set_t s;
	assert_int_equal(chi_numa_worker_cpus(rt, 0, &s), 0);
	assert_cpus(&s, "0-15");
	chi_runtime_stop(rt);
}

/* ---- 4 nodes, 4 GPUs on nodes 2, 0, 3, 1 ---- */
static const char *const nodes4[] = {"0-3\n", "4-7\n", "8-11\n", "12-13,30,40-41\n"};
static const fake_gpu gpus4[] = {
	{"0000:17:00.0", "0000:17:00.0", "2\n", "8-11\n"},
	{"0000:3b:00.0", "0000:3B:00.0", "0\n", "0-3\n"},
	{"0001:86:00.0", "00000001:86:00.0", "3\n", "12-13,30,40-41\n"},
	{"0000:d8:00.0", "0000:D8:00.0", "1\n", "4-7\n"},
};

static void test_four_nodes(void **state)
{
	(void)state;
	static const int node_of[] = {2, 0, 3, 1};
	make_tree(nodes4, 4, gpus4, 4);
	chi_runtime *rt = start(gpus4, 4, 5, CHI_NUMA_AUTO, CHI_GPU_WORKERS_DEDICATED);
	assert_int_equal(ncalls, 4);
	for (uint32_t g = 0; g < 4; g++) {
		assert_bound_once(rt, g, node_of[g]);
		cpu_set_t s;
		assert_int_equal(chi_numa_worker_cpus(rt, owner_of(rt, g), &s), 0);
		assert_cpus(&s, nodes4[node_of[g]]);
	}
	assert_string_equal(seg_of(rt, 2)->dir->cpulist, "12-13,30,40-41");
	chi_runtime_stop(rt);
}

/* ---- no NUMA information ---- */
static void test_node_minus_one(void **state)
{
	(void)state;
	static const char *const nodes1[] = {"0-7\n"};
	static const fake_gpu vm[] = {
		{"0000:00:04.0", "0000:00:04.0", "-1\n", "0-7\n"},
		{"0000:00:05.0", "0000:00:05.0", "-1\n", "0-7\n"},
	};
	make_tree(nodes1, 1, vm, 2);
	chi_runtime *rt = start(vm, 2, 3, CHI_NUMA_AUTO, CHI_GPU_WORKERS_DEDICATED);
	assert_int_equal(ncalls, 0);
	for (uint32_t g = 0; g < 2; g++) {
		assert_int_equal(seg_of(rt, g)->dir->numa_node, -1);
		cpu_set_t s;
		assert_int_equal(chi_numa_worker_cpus(rt, owner_of(rt, g), &s), -ENOENT);
	}
	chi_runtime_stop(rt);
}

/* bus ids absent from sysfs, or a backend without pci_bus_id: no placement */
static void test_no_topology(void **state)
{
	(void)state;
	make_tree(nodes2, 2, gpus2, 0);
	chi_runtime *rt = start(gpus2, 2, 3, CHI_NUMA_AUTO, CHI_GPU_WORKERS_DEDICATED);
	assert_int_equal(ncalls, 0);
	assert_int_equal(seg_of(rt, 1)->dir->numa_node, -1);
	chi_runtime_stop(rt);
	rt = start(NULL, 2, 3, CHI_NUMA_AUTO, CHI_GPU_WORKERS_DEDICATED);
	assert_null(chi_gpu_get_ops()->pci_bus_id);
	assert_int_equal(ncalls, 0);
	chi_runtime_stop(rt);
}

/* a failing mbind is logged; the runtime runs unplaced */
static void test_mbind_fails(void **state)
{
	(void)state;
	make_tree(nodes2, 2, gpus2, 2);
	mbind_fail = EINVAL;
	chi_runtime *rt = start(gpus2, 2, 3, CHI_NUMA_AUTO, CHI_GPU_WORKERS_DEDICATED);
	assert_int_equal(ncalls, 2);
	for (uint32_t g = 0; g < 2; g++) {
		assert_int_equal(seg_of(rt, g)->numa_node, -1);
		assert_int_equal(seg_of(rt, g)->dir->numa_node, -1);
		cpu_set_t s;
		assert_int_equal(chi_numa_worker_cpus(rt, owner_of(rt, g), &s), -ENOENT);
	}
	chi_runtime_stop(rt);
}

/* ---- hwloc on this machine ---- */
/* A made-up bus id: hwloc answers "no information" (node -1, 0), never an
 * error; a device that exists gets a node or "no information"; with the real
 * root, chi_numa_gpu_node falls through to sysfs, where it is missing. */
static void test_hwloc_lookup(void **state)
{
	(void)state;
	static const char *madeup = "ffff:fe:1f.7";
	int node = 7;
	char list[1024] = "x";
	int rc = chi_numa_hwloc_gpu_node(madeup, &node, list, sizeof(list));
	if (!chi_numa_have_hwloc()) {
		assert_int_equal(rc, -ENOSYS);
		printf("SKIP hwloc lookup: chi was built without hwloc\n");
		return;
	}
	assert_int_equal(rc, 0);
	assert_true(node == -1 || (node >= 0 && node < CHI_NUMA_MAX_NODES));
	if (node < 0)
		assert_string_equal(list, "");
	assert_int_equal(chi_numa_hwloc_gpu_node("gpu0", &node, list, sizeof(list)), -EINVAL);
	node = 7;
	assert_int_equal(chi_numa_gpu_node("/sys", madeup, &node, list, sizeof(list)), -ENOENT);
	assert_int_equal(node, 7);

	/* the PCI devices of this machine that sysfs lists (the first 32) */
	FILE *p = popen("ls /sys/bus/pci/devices 2>/dev/null | head -n 32", "r");
	assert_non_null(p);
	char id[64];
	while (fgets(id, sizeof(id), p)) {
		id[strcspn(id, "\n")] = 0;
		node = 7;
		assert_int_equal(chi_numa_hwloc_gpu_node(id, &node, list, sizeof(list)), 0);
		assert_true(node == -1 || (node >= 0 && node < CHI_NUMA_MAX_NODES));
		printf("hwloc: %s: node %d cpus '%s'\n", id, node, list);
		if (node >= 0 && list[0]) {
			cpu_set_t s;
			assert_int_equal(chi_numa_parse_cpulist(list, &s), 0);
		}
	}
	pclose(p);
}

/* ---- the real mbind on this machine ---- */
static int real_policy(void *addr, int *mode, unsigned long *mask, int *node)
{
	if (syscall(SYS_get_mempolicy, mode, mask, (unsigned long)CHI_NUMA_MAX_NODES + 1, addr,
		    CHI_MPOL_F_ADDR))
		return -errno;
	if (syscall(SYS_get_mempolicy, node, NULL, 0UL, addr, CHI_MPOL_F_NODE | CHI_MPOL_F_ADDR))
		return -errno;
	return 0;
}

static void test_real_mbind(void **state)
{
	(void)state;
	chi_numa_set_ops(NULL);
	size_t len = 16 * 4096;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	int rc = chi_numa_place(p, len, 0);
	if (rc == -ENOSYS || rc == -EPERM) {
		printf("SKIP real mbind: %s (kernel without NUMA or a sandbox)\n", strerror(-rc));
		munmap(p, len);
		return;
	}
	assert_int_equal(rc, 0);
	memset(p, 1, len); /* first touch, after the binding */
	int mode = -1, node = -1;
	unsigned long mask[CHI_NUMA_MASK_LONGS] = {0};
	rc = real_policy(p, &mode, mask, &node);
	if (rc == -ENOSYS) {
		printf("SKIP get_mempolicy: ENOSYS\n");
		munmap(p, len);
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(mode, CHI_MPOL_BIND);
	assert_int_equal(mask[0], 1ul);
	assert_int_equal(node, 0);
	munmap(p, len);

	/* a shm segment: bound before its header is written */
	char name[CHI_SEG_NAME_MAX];
	snprintf(name, sizeof(name), "/chi.%u.numa%d.test", (unsigned)getuid(), (int)getpid());
	chi_seg s;
	int prc = 1;
	assert_int_equal(chi_seg_create_on_node(&s, name, 1u << 20, 7, 0, 1, "numa", 0, &prc), 0);
	assert_int_equal(prc, 0);
	mode = -1;
	node = -1;
	memset(mask, 0, sizeof(mask));
	assert_int_equal(real_policy(s.base, &mode, mask, &node), 0);
	assert_int_equal(mode, CHI_MPOL_BIND);
	assert_int_equal(mask[0], 1ul);
	assert_int_equal(node, 0);
	memset((char *)s.base + 4096, 1, 8192);
	assert_int_equal(real_policy((char *)s.base + 8192, &mode, mask, &node), 0);
	assert_int_equal(node, 0);
	chi_seg_close(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cpulist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busid_resolve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_nodes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_numa_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_numa_forced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_union, setup, teardown),
		cmocka_unit_test_setup_teardown(test_four_nodes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_minus_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_topology, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mbind_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_mbind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hwloc_lookup, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
