/* tests/cluster_routing.c (label cluster): tasks routed between real chi
 * daemons on this machine (tests/cluster_util.h), each result checked:
 *   - 2 nodes, 2 client processes per node, 2 threads each, stamped
 *     double_plus tasks to a pool on each node (by home and by naming the
 *     node) and to the local pool; every result checked, and the tasks
 *     each node ran for the other counted exactly (admin.peers);
 *   - 3 nodes: every node asked through node 0 (admin.peers and
 *     admin.stats addressed with CHI_POOL_ON_NODE), a task from every node
 *     to every node's pool;
 *   - 8 MiB written in 512 KiB blocks to a bdev pool on another node, read
 *     back byte for byte, and the file on that node checked. */
#include "cluster_util.h"

#include <pthread.h>
#include <spawn.h>

#include "chi/modules/bdev.h"

#define CL_THREADS 2
#define CL_PER_THREAD 400 /* a multiple of the 4 kinds of destination */
#define CL_INFLIGHT 16

typedef struct cl_job {
	chi_client *c;
	uint32_t node, other, stamp;
	int bad;
	char why[200];
} cl_job;

/* The destination of task i from node `node`: t<node>, t<other>, the local
 * test pool, the test pool of `other` named by node. */
static chi_pool_id cl_dest(const cl_job *j, uint32_t i)
{
	switch (i % 4) {
	case 0: return CL_POOL_T(j->node);
	case 1: return CL_POOL_T(j->other);
	case 2: return CHI_POOL_TEST;
	default: return CHI_POOL_ON_NODE(CHI_POOL_TEST, j->other);
	}
}

static void *cl_thread(void *arg)
{
	cl_job *j = arg;
	chi_test_double_plus_task t[CL_INFLIGHT];
	chi_future f[CL_INFLIGHT];
	uint32_t idx[CL_INFLIGHT];
	for (uint32_t base = 0; base < CL_PER_THREAD && !j->bad; base += CL_INFLIGHT) {
		uint32_t n = CL_PER_THREAD - base < CL_INFLIGHT ? CL_PER_THREAD - base : CL_INFLIGHT;
		for (uint32_t k = 0; k < n; k++) {
			idx[k] = base + k;
			uint64_t v = ((uint64_t)j->stamp << 20) | idx[k];
			chi_test_double_plus_init(&t[k], cl_dest(j, idx[k]), v, idx[k] % 4);
			int rc = chi_make_copy_future(j->c, &t[k].hdr, &chi_test_double_plus_codec, &f[k]);
			if (rc) {
				snprintf(j->why, sizeof(j->why), "submit %u: %s", idx[k], chi_strerror(rc));
				j->bad = 1;
				n = k;
				break;
			}
		}
		for (uint32_t k = 0; k < n; k++) {
			uint64_t v = ((uint64_t)j->stamp << 20) | idx[k];
			int64_t r = chi_future_wait_timeout(&f[k], 30ull * 1000 * 1000 * 1000);
			if (r < 0 || t[k].result != 2 * v + idx[k] % 4) {
				if (!j->bad)
					snprintf(j->why, sizeof(j->why),
						 "task %u to pool 0x%x: result %lld value %llu, want %llu",
						 idx[k], cl_dest(j, idx[k]), (long long)r,
						 (unsigned long long)t[k].result,
						 (unsigned long long)(2 * v + idx[k] % 4));
				j->bad = 1;
			}
		}
	}
	return NULL;
}

/* Client process: "--client NAME NODE OTHER STAMP". */
static int cl_client_main(char **argv)
{
	chi_client *c;
	if (chi_client_connect(argv[2], &c))
		return 3;
	cl_job j[CL_THREADS];
	pthread_t th[CL_THREADS];
	for (uint32_t i = 0; i < CL_THREADS; i++) {
		memset(&j[i], 0, sizeof(j[i]));
		j[i].c = c;
		j[i].node = (uint32_t)atoi(argv[3]);
		j[i].other = (uint32_t)atoi(argv[4]);
		j[i].stamp = (uint32_t)atoi(argv[5]) * CL_THREADS + i;
		pthread_create(&th[i], NULL, cl_thread, &j[i]);
	}
	int bad = 0;
	for (uint32_t i = 0; i < CL_THREADS; i++) {
		pthread_join(th[i], NULL);
		if (j[i].bad) {
			fprintf(stderr, "client %s thread %u: %s\n", argv[2], i, j[i].why);
			bad = 1;
		}
	}
	chi_client_close(c);
	return bad;
}

static void two_nodes_stamped(void **state)
{
	(void)state;
	cl_cluster cl;
	cl_init(&cl, 2);
	cl_start(&cl, 0);
	cl_start(&cl, 1);
	chi_client *c0, *c1;
	assert_int_equal(chi_client_connect(cl.name[0], &c0), 0);
	assert_int_equal(chi_client_connect(cl.name[1], &c1), 0);
	assert_true(cl_wait_up(c0, 1, 10000));
	assert_true(cl_wait_up(c1, 0, 10000));
	char self[4096];
	assert_int_equal(test_self_exe(self, sizeof(self)), 0);
	pid_t pids[4];
	for (int p = 0; p < 4; p++) {
		uint32_t node = (uint32_t)p / 2;
		char nb[8], ob[8], sb[8];
		snprintf(nb, sizeof(nb), "%u", node);
		snprintf(ob, sizeof(ob), "%u", 1 - node);
		snprintf(sb, sizeof(sb), "%d", p);
		char *args[] = {self, "--client", cl.name[node], nb, ob, sb, NULL};
		assert_int_equal(posix_spawn(&pids[p], self, NULL, NULL, args, environ), 0);
	}
	for (int p = 0; p < 4; p++) {
		int st;
		assert_int_equal(waitpid(pids[p], &st, 0), pids[p]);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			fail_msg("client process %d failed (status 0x%x)", p, st);
	}
	/* exact counts: each thread sent half of its tasks to the other node */
	uint64_t want = 2ull * CL_THREADS * CL_PER_THREAD / 2;
	chi_admin_peers_task *t = malloc(sizeof(*t));
	for (uint32_t k = 0; k < 2; k++) {
		assert_true(cl_peers(k ? c1 : c0, -1, t) >= 0);
		assert_int_equal(t->node, (int32_t)k);
		const chi_net_peer_info *o = cl_peer(t, 1 - k), *me = cl_peer(t, k);
		assert_non_null(o);
		assert_non_null(me);
		assert_int_equal(me->state, CHI_PEER_SELF);
		assert_int_equal(o->state, CHI_PEER_UP);
		if (o->tasks_received != want || o->tasks_sent != want || o->tasks_done != want)
			fail_msg("node %u about node %u: received %llu sent %llu done %llu, want %llu",
				 k, 1 - k, (unsigned long long)o->tasks_received,
				 (unsigned long long)o->tasks_sent, (unsigned long long)o->tasks_done,
				 (unsigned long long)want);
		assert_int_equal(o->tasks_failed, 0);
		assert_int_equal(o->in_flight, 0);
		assert_true(o->rtt_count > 0);
	}
	free(t);
	chi_client_close(c0);
	chi_client_close(c1);
	cl_fini(&cl);
}

static void three_nodes_every_way(void **state)
{
	(void)state;
	cl_cluster cl;
	cl_init(&cl, 3);
	chi_client *c[3];
	for (uint32_t k = 0; k < 3; k++)
		cl_start(&cl, k);
	for (uint32_t k = 0; k < 3; k++)
		assert_int_equal(chi_client_connect(cl.name[k], &c[k]), 0);
	for (uint32_t k = 0; k < 3; k++)
		for (uint32_t j = 0; j < 3; j++)
			if (j != k)
				assert_true(cl_wait_up(c[k], j, 10000));
	/* every node asked through node 0 */
	chi_admin_peers_task *t = malloc(sizeof(*t));
	chi_admin_stats_task *st = malloc(sizeof(*st));
	for (uint32_t k = 0; k < 3; k++) {
		assert_true(cl_peers(c[0], (int32_t)k, t) >= 0);
		assert_int_equal(t->node, (int32_t)k);
		assert_int_equal(t->count, 3);
		for (uint32_t j = 0; j < 3; j++)
			assert_int_equal(cl_peer(t, j)->state, j == k ? CHI_PEER_SELF : CHI_PEER_UP);
		chi_admin_stats_init(st);
		st->hdr.pool = CHI_POOL_ON_NODE(CHI_POOL_ADMIN, k);
		assert_int_equal(chi_call(c[0], &st->hdr, &chi_admin_stats_codec), 0);
		assert_int_equal(st->nworkers, 2);
	}
	/* every node to every node's pool, by home and by name */
	for (uint32_t k = 0; k < 3; k++)
		for (uint32_t j = 0; j < 3; j++) {
			assert_int_equal(cl_double_plus(c[k], CL_POOL_T(j), 1000 * k + j, j), 2 * (1000 * k + j) + j);
			assert_int_equal(cl_double_plus(c[k], CHI_POOL_ON_NODE(CHI_POOL_TEST, j), 7 * k + j, 1),
					 2 * (7 * k + j) + 1);
		}
	/* a node that is not in the cluster */
	assert_int_equal(cl_double_plus(c[0], CHI_POOL_ON_NODE(CHI_POOL_TEST, 9), 1, 1), -EHOSTUNREACH);
	free(st);
	free(t);
	for (uint32_t k = 0; k < 3; k++)
		chi_client_close(c[k]);
	cl_fini(&cl);
}

static uint8_t cl_byte(uint64_t i)
{
	return (uint8_t)((i * 2654435761u) >> 13);
}

static void bdev_on_another_node(void **state)
{
	(void)state;
	cl_cluster cl;
	cl_init(&cl, 2);
	cl_start(&cl, 0);
	cl_start(&cl, 1);
	chi_client *c;
	assert_int_equal(chi_client_connect(cl.name[0], &c), 0);
	assert_true(cl_wait_up(c, 1, 10000));
	const uint32_t blk = 512u << 10, total = 8u << 20;
	chi_bdev_alloc_task a;
	chi_bdev_allocate_init(&a, CL_POOL_DISK1, total);
	assert_true(chi_call(c, &a.hdr, &chi_bdev_allocate_codec) >= 0);
	uint64_t off = a.offset;
	uint8_t *buf = malloc(blk), *back = malloc(blk);
	for (uint32_t b = 0; b < total / blk; b++) {
		for (uint32_t i = 0; i < blk; i++)
			buf[i] = cl_byte((uint64_t)b * blk + i);
		chi_bdev_write_task w;
		chi_bdev_write_init(&w, CL_POOL_DISK1, off + (uint64_t)b * blk, buf, blk);
		assert_true(chi_call(c, &w.hdr, &chi_bdev_write_codec) >= 0);
		assert_int_equal(w.written, blk);
	}
	for (uint32_t b = 0; b < total / blk; b++) {
		chi_bdev_read_task r;
		memset(back, 0, blk);
		chi_bdev_read_init(&r, CL_POOL_DISK1, off + (uint64_t)b * blk, back, blk);
		assert_true(chi_call(c, &r.hdr, &chi_bdev_read_codec) >= 0);
		assert_int_equal(r.got, blk);
		for (uint32_t i = 0; i < blk; i++)
			if (back[i] != cl_byte((uint64_t)b * blk + i))
				fail_msg("read back: byte %u of block %u differs", i, b);
	}
	/* the file on node 1 holds the bytes */
	char path[300];
	snprintf(path, sizeof(path), "%s/disk1.img", cl.dir);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	for (uint32_t b = 0; b < total / blk; b++) {
		assert_int_equal(pread(fd, back, blk, (off_t)(off + (uint64_t)b * blk)), (ssize_t)blk);
		for (uint32_t i = 0; i < blk; i++)
			if (back[i] != cl_byte((uint64_t)b * blk + i))
				fail_msg("file on node 1: byte %u of block %u differs", i, b);
	}
	close(fd);
	free(buf);
	free(back);
	chi_client_close(c);
	cl_fini(&cl);
}

int main(int argc, char **argv)
{
	if (argc > 5 && !strcmp(argv[1], "--client"))
		return cl_client_main(argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(two_nodes_stamped),
		cmocka_unit_test(three_nodes_every_way),
		cmocka_unit_test(bdev_on_another_node),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
