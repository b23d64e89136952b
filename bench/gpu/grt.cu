// bench/gpu/grt.cu: the benchmarks' runtime (grt.h).
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpu/grt.h"

int dev_count(void)
{
	int n = 0;
	return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
}

int g_numa = CHI_NUMA_AUTO;
uint64_t g_gpu_sleep_us;
uint32_t g_helpers;

/* The benchmarks' runtime: a unique name, one CPU lane, `lanes` GPU lanes
 * of `depth`, one GPU client owning every block, the quiet host of
 * bench_gpu.cu. */
void bench_config(chi_config *c, uint32_t lanes, uint32_t depth, uint32_t workers)
{
	static int seq;
	chi_config_defaults(c);
	snprintf(c->name, sizeof(c->name), "bg%d_%d", (int)getpid(), seq++);
	c->num_workers = workers;
	c->lanes = 1;
	c->queue_depth = 1024;
	c->first_busy_wait_us = 2000; /* idle workers sleep: the quiet host */
	c->gpu_lanes = lanes;
	c->gpu_queue_depth = depth;
	c->gpu_clients = 1; /* the one client owns every block: one per thread */
	c->gpu_segment_size = 256ull << 20;
	c->gpu_workers = CHI_GPU_WORKERS_DEDICATED;
	c->gpu_numa = g_numa;
	c->gpu_max_sleep_us = g_gpu_sleep_us;
	c->gpu_lane_helpers = g_helpers;
	c->npools = 2;
}

/* A queue depth for `need` blocks in flight on a lane: a power of two, at
 * least 1024. */
uint32_t bench_depth(uint32_t need)
{
	uint32_t d = 1u << chi_log2_u32(need);
	return d < 1024 ? 1024 : d;
}

int grt_start(grt *g, uint32_t lanes, uint32_t depth, uint32_t workers, int gpu_on)
{
	chi_config c;
	bench_config(&c, lanes, depth, workers);
	c.gpu_enabled = gpu_on ? CHI_ON : CHI_OFF;
	memset(g, 0, sizeof(*g));
	int rc = chi_runtime_start(&c, &g->rt);
	if (rc)
		return rc;
	if (!gpu_on)
		return 0;
	rc = chi_gpu_client_open(chi_runtime_client(g->rt), 0, &g->gc);
	if (rc) {
		chi_runtime_stop(g->rt);
		return rc;
	}
	g->ctx = *chi_gpu_client_ctx(g->gc);
	return 0;
}

void grt_stop(grt *g)
{
	if (g->gc)
		chi_gpu_client_close(g->gc);
	chi_runtime_stop(g->rt);
}

/* The default configuration (and CHI_* from the environment), a unique
 * name and gpu.lanes `lanes`. */
int grt_default_config(chi_config *c, uint32_t lanes)
{
	static unsigned seq;
	char err[256];
	chi_config_defaults(c);
	if (chi_config_apply_env(c, err, sizeof(err))) {
		fprintf(stderr, "chi-bench gpu: %s\n", err);
		return -EINVAL;
	}
	snprintf(c->name, sizeof(c->name), "bp%d_%u", (int)getpid(), seq++);
	c->gpu_lanes = lanes;
	return 0;
}

/* That runtime, embedded, and a GPU client of GPU 0. */
int grt_start_defaults(grt *g, uint32_t lanes)
{
	chi_config c;
	memset(g, 0, sizeof(*g));
	int rc = grt_default_config(&c, lanes);
	if (!rc)
		rc = chi_runtime_start(&c, &g->rt);
	if (rc)
		return rc;
	rc = chi_gpu_client_open(chi_runtime_client(g->rt), 0, &g->gc);
	if (rc) {
		fprintf(stderr, "chi-bench gpu: GPU client: %s\n", chi_strerror(rc));
		chi_runtime_stop(g->rt);
		return rc;
	}
	g->ctx = *chi_gpu_client_ctx(g->gc);
	return 0;
}
