// tests/gpu/test_gpu_cluster.cu (labels gpu, cluster): GPU kernels whose
// tasks go to a pool on another runtime (docs/cluster.md). Two runtimes in
// this process, node 0 with the GPU queues and node 1 without, connected
// over UCX on loopback (UCX_NET_DEVICES=lo, UCX_TLS from CHI_TEST_UCX_TLS or
// tcp). Kernels on node 0 submit test.double_plus to pool t1 (home: node 1)
// by the default path (sealed), the fenced path and warp batches (forwarded
// and waited on the worker, route.c R2), and to node 1's own test pool by
// naming the node; every result is checked, and node 1's count of tasks it
// ran for node 0 must equal what the kernels sent. Needs a GPU and a UCX
// build: exits 77 without (fails instead with CHI_REQUIRE_GPU=1 when the
// GPU is missing).
#include <cuda_runtime.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

extern "C" {
#include "chi/chi.h"
#include "chi/cluster.h"
#include "chi/modules/admin.h"
#include "chi/modules/test.h"
}
#include "chi/gpu/api.h"

#include "gpu_check.cuh"

static const uint64_t WAIT_NS = 30ull * 1000 * 1000 * 1000;
#define POOL_T1 4u

// mode 0: default submit (sealed), 1: fenced, 2: warp batch, 3: node 1's
// own test pool named by node
__global__ void remote_kernel(chi_gpu_ctx g, int mode, unsigned long long *errors,
			      unsigned long long *done)
{
	uint32_t tid = blockIdx.x * blockDim.x + threadIdx.x, warp = tid / 32;
	chi_test_double_plus_task t;
	chi_gpu_future f;
	chi_pool_id pool = mode == 3 ? CHI_POOL_ON_NODE(CHI_POOL_TEST, 1) : POOL_T1;
	chi_test_double_plus_init(&t, pool, ((uint64_t)mode << 32) | tid, 7);
	int rc;
	if (mode == 2)
		rc = chi_gpu_make_copy_future_warp(&g, warp % g.nlanes, (warp / g.nlanes) * 32, &t.hdr,
						   chi_test_double_plus_ser_in, &f);
	else if (mode == 1)
		rc = chi_gpu_submit_pool(&g, tid, &t.hdr, chi_test_double_plus_ser_in, &f, 0);
	else
		rc = chi_gpu_make_copy_future(&g, tid, &t.hdr, chi_test_double_plus_ser_in, &f);
	uint64_t want = t.value * 2 + 7;
	int64_t r = rc ? rc
		: mode == 2 ? chi_gpu_future_wait_warp(&g, &f, &t.hdr, chi_test_double_plus_de_out, WAIT_NS)
			    : chi_gpu_future_wait(&g, &f, &t.hdr, chi_test_double_plus_de_out, WAIT_NS);
	if (r != (int64_t)want || t.result != want)
		atomicAdd(errors, 1ull);
	atomicAdd(done, 1ull);
	if (mode == 2)
		__syncwarp();
}

static uint32_t free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(a);
	bind(s, (struct sockaddr *)&a, sizeof(a));
	getsockname(s, (struct sockaddr *)&a, &len);
	close(s);
	return ntohs(a.sin_port);
}

static chi_config node_config(uint32_t node, const char *key, const uint32_t port[2])
{
	chi_config c;
	chi_config_defaults(&c);
	snprintf(c.name, sizeof(c.name), "gc%d_%u", (int)getpid(), node);
	c.gpu_enabled = node == 0 ? CHI_AUTO : CHI_OFF;
	c.num_workers = node == 0 ? 0 : 2;
	c.cluster.node = (int32_t)node;
	snprintf(c.cluster.key_file, sizeof(c.cluster.key_file), "%s", key);
	c.cluster.npeers = 2;
	for (uint32_t k = 0; k < 2; k++) {
		c.cluster.peers[k].node = k;
		snprintf(c.cluster.peers[k].host, sizeof(c.cluster.peers[k].host), "127.0.0.1");
		c.cluster.peers[k].port = port[k];
	}
	chi_pool_conf *p = &c.pools[c.npools++];
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "t1");
	snprintf(p->module, sizeof(p->module), "test");
	p->id = POOL_T1;
	p->node = 1;
	return c;
}

static int peer_up(chi_client *c, uint32_t node, chi_admin_peers_task *t)
{
	chi_admin_peers_init(t, CHI_NODE_ANY);
	if (chi_call(c, &t->hdr, &chi_admin_peers_codec) < 0)
		return 0;
	for (uint32_t i = 0; i < t->count; i++)
		if (t->peers[i].node == node)
			return t->peers[i].state == CHI_PEER_UP;
	return 0;
}

int main(void)
{
	int n = 0;
	cudaError_t e = cudaGetDeviceCount(&n);
	if (e != cudaSuccess || n == 0) {
		const char *req = getenv("CHI_REQUIRE_GPU");
		fprintf(stderr, "test_gpu_cluster: no GPU (%s)\n", e ? cudaGetErrorString(e) : "0 devices");
		return req && !strcmp(req, "1") ? 1 : 77;
	}
	setenv("UCX_NET_DEVICES", "lo", 1);
	const char *tls = getenv("CHI_TEST_UCX_TLS");
	setenv("UCX_TLS", tls && *tls ? tls : "tcp", 1);
	char dir[] = "/tmp/chi-gpu-cluster-XXXXXX", key[128];
	if (!mkdtemp(dir))
		return 1;
	snprintf(key, sizeof(key), "%s/key", dir);
	int fd = open(key, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && write(fd, "gpu-cluster-test-key\n", 21) == 21);
	close(fd);
	uint32_t port[2] = {free_port(), free_port()};
	chi_config c1 = node_config(1, key, port);
	chi_runtime *rt1 = NULL, *rt0 = NULL;
	int rc = chi_runtime_start(&c1, &rt1);
	if (rc == -ENOTSUP) {
		fprintf(stderr, "test_gpu_cluster: built without UCX\n");
		return 77;
	}
	CHECK(rc == 0);
	chi_gpu_cuda_enable();
	chi_config c0 = node_config(0, key, port);
	CHECK(chi_runtime_start(&c0, &rt0) == 0);
	if (!rt0 || !rt1)
		return 1;
	chi_client *c = chi_runtime_client(rt0);
	chi_admin_peers_task *pt = (chi_admin_peers_task *)malloc(sizeof(*pt));
	int up = 0;
	for (int i = 0; i < 500 && !up; i++) {
		up = peer_up(c, 1, pt);
		if (!up)
			usleep(20000);
	}
	CHECK(up);
	chi_gpu_client *gc;
	CHECK(chi_gpu_client_open(c, 0, &gc) == 0);
	const chi_gpu_ctx *g = chi_gpu_client_ctx(gc);
	unsigned long long *d, h[2], sent = 0;
	CUDA_OK(cudaMalloc(&d, 16));
	const char *what[4] = {"default submit (sealed)", "fenced", "warp batches", "named node 1"};
	for (int mode = 0; mode < 4; mode++) {
		uint32_t blocks = 16, threads = 128;
		CUDA_OK(cudaMemset(d, 0, 16));
		uint64_t t0 = 0;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		t0 = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		remote_kernel<<<blocks, threads>>>(*g, mode, d, d + 1);
		CUDA_OK(cudaGetLastError());
		CUDA_OK(cudaDeviceSynchronize());
		clock_gettime(CLOCK_MONOTONIC, &ts);
		double ms = ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec - t0) / 1e6;
		CUDA_OK(cudaMemcpy(h, d, 16, cudaMemcpyDeviceToHost));
		printf("remote %s: %llu tasks from %u GPU threads to node 1, %llu wrong, %.1f ms\n",
		       what[mode], h[1], blocks * threads, h[0], ms);
		CHECK(h[0] == 0 && h[1] == (unsigned long long)blocks * threads);
		sent += h[1];
	}
	cudaFree(d);
	chi_gpu_client_close(gc);
	// node 1 counted exactly what the kernels sent
	chi_admin_peers_init(pt, 1);
	CHECK(chi_call(c, &pt->hdr, &chi_admin_peers_codec) >= 0);
	CHECK(pt->node == 1);
	for (uint32_t i = 0; i < pt->count; i++)
		if (pt->peers[i].node == 0) {
			printf("node 1 ran %llu tasks for node 0 (kernels sent %llu, and 1 admin.peers)\n",
			       (unsigned long long)pt->peers[i].tasks_received, sent);
			CHECK(pt->peers[i].tasks_received == sent + 1);
		}
	free(pt);
	chi_runtime_stop(rt0);
	chi_runtime_stop(rt1);
	char rm[128];
	snprintf(rm, sizeof(rm), "rm -rf %s", dir);
	CHECK(system(rm) == 0);
	printf("test_gpu_cluster: %s (%d failed checks)\n", failures ? "FAILED" : "OK", failures);
	return failures ? 1 : 0;
}
