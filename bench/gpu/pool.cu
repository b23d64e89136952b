// bench/gpu/pool.cu: `chi-bench gpu` entries on the path users take: the
// general submit, chi_gpu_make_copy_future (blocks from the GPU client's
// slice pools), against a runtime of the DEFAULT configuration
// (chi_config_defaults + chi_config_apply_env, then only a unique name and
// gpu.lanes): num_workers 4, gpu.clients 4 (a client has a quarter of each
// lane's blocks), gpu.queue_depth and gpu.segment_size auto, as `chi start`
// leaves them. The owned-block entries of bench_gpu.cu use a bench-only
// configuration instead.
//   gpu_throughput_pool_lanes1  all SMs x 128 threads, test.double_plus, each
//                               thread keeps up to 4 futures in flight
//                               (-EAGAIN: wait for its oldest, or back off
//                               when it has none), 1 lane; median of 3 timed
//                               kernels; ratio over gpu_throughput_lanes1
//                               (owned blocks): pool / owned
//   gpu_throughput_pool_lanes4  the same with gpu.lanes 4; ratio over _lanes4
//   gpu_throughput_pool_mixed   the same, 1 lane, but 1 thread in 7 sends
//                               test.echo of 1..299 bytes (4 KiB data blocks
//                               past the copy space), checked byte for byte;
//                               ratio over gpu_throughput_pool_lanes1
//   gpu_throughput_3_processes  three client processes (`chi-bench gpu
//                               --pool-client NAME TASKS`) on GPU 0 against
//                               one embedded runtime, each runs the
//                               pool_lanes1 kernel once, all started
//                               together: tasks of all / (last end - first
//                               start); ratio over pool_lanes1 (one process
//                               alone). Without MPS the GPU time-slices the
//                               three contexts: that is what users get.
// Every result is checked; a wrong one fails the entry with -EIO.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gpu/grt.h"
extern "C" {
#include "chi/modules/test.h"
}

#define PF 4                      /* futures in flight per thread */
#define PF_WAIT_NS 30000000000ull /* a wait's deadline: 30 s */
#define PF_RUNS 3                 /* timed kernels, median reported (1 with --quick) */
#define ECHO_EVERY 7u             /* mixed: threads with tid % 7 == 0 echo */
#define ECHO_MAX 299u             /* mixed: echoes of 1..ECHO_MAX bytes */
#define ECHO_STRIDE 304u          /* an echo thread's buffer: PF replies, then its payload */
#define NPROC 3                   /* gpu_throughput_3_processes */

/* ---- the pool kernel (entries 1-4) ---- */

typedef struct pf_slot {
	chi_test_double_plus_task dp;
	chi_test_echo_task ec;
	chi_gpu_future f;
	uint32_t echo; /* 1: ec is the task, 0: dp */
	uint32_t seed; /* echo: its payload's pattern */
} pf_slot;

/* Task i of thread tid into slot k: an echo when the thread has an echo
 * buffer (payload stamped into its last ECHO_STRIDE bytes, the reply into
 * slot k's part), else double_plus of a value unique to (tid, i). */
__device__ static void pf_init(const chi_gpu_ctx *g, pf_slot *s, uint32_t k, uint32_t tid,
			       uint32_t i, uint8_t *mine)
{
	s->echo = mine != NULL;
	if (!s->echo) {
		chi_test_double_plus_init(&s->dp, CHI_POOL_TEST, ((uint64_t)tid << 20) | i, g->gpu_id);
		return;
	}
	uint32_t len = 1u + (tid * 37u + i * 11u) % ECHO_MAX;
	uint8_t *src = mine + PF * ECHO_STRIDE;
	s->seed = tid * 4096u + i;
	for (uint32_t j = 0; j < len; j++)
		src[j] = chi_test_pattern(s->seed, j);
	chi_test_echo_init(&s->ec, CHI_POOL_TEST, src, len, mine + k * ECHO_STRIDE, len);
}

__device__ static int pf_submit(const chi_gpu_ctx *g, uint32_t lane, pf_slot *s)
{
	if (s->echo)
		return chi_gpu_make_copy_future(g, lane, &s->ec.hdr, chi_test_echo_ser_in, &s->f);
	return chi_gpu_make_copy_future(g, lane, &s->dp.hdr, chi_test_double_plus_ser_in, &s->f);
}

/* Wait for slot s's task and check it: double_plus gives value * 2 +
 * gpu_id, echo its payload back byte for byte. 0 if right. */
__device__ static int pf_finish(const chi_gpu_ctx *g, pf_slot *s)
{
	if (!s->echo) {
		uint64_t want = s->dp.value * 2 + g->gpu_id;
		int64_t r = chi_gpu_future_wait(g, &s->f, &s->dp.hdr, chi_test_double_plus_de_out,
						PF_WAIT_NS);
		return r == (int64_t)want && s->dp.result == want ? 0 : -1;
	}
	int64_t r = chi_gpu_future_wait(g, &s->f, &s->ec.hdr, chi_test_echo_de_out, PF_WAIT_NS);
	if (r != (int64_t)s->ec.len || s->ec.reply_len != s->ec.len)
		return -1;
	for (uint32_t j = 0; j < s->ec.len; j++)
		if (s->ec.reply[j] != chi_test_pattern(s->seed, j))
			return -1;
	return 0;
}

/* `per` tasks per thread on lane tid % nlanes, up to PF in flight: submit
 * until PF are in flight or the pool says -EAGAIN; then wait for the oldest
 * (or, with none in flight, back off 32 ns doubling to 4 us and try again).
 * echo_buf (mixed, else NULL): (PF + 1) * ECHO_STRIDE bytes per thread; the
 * threads tid % ECHO_EVERY == 0 echo. A wrong result or failed submit
 * counts in *wrong and ends the thread. */
__global__ void pool_kernel(chi_gpu_ctx g, uint32_t per, uint8_t *echo_buf,
			    unsigned long long *wrong)
{
	uint32_t tid = blockIdx.x * blockDim.x + threadIdx.x, lane = tid % g.nlanes;
	uint8_t *mine = echo_buf && tid % ECHO_EVERY == 0
		? echo_buf + (size_t)tid * (PF + 1) * ECHO_STRIDE : NULL;
	pf_slot s[PF];
	uint32_t head = 0, n = 0, ns = 32, ready = UINT32_MAX; /* ready: task prepared */
	for (uint32_t i = 0; i < per || n;) {
		if (n == PF || (i == per && n)) { /* the oldest */
			if (pf_finish(&g, &s[head])) {
				atomicAdd(wrong, 1ull);
				return;
			}
			head = (head + 1) % PF;
			n--;
			continue;
		}
		uint32_t k = (head + n) % PF; /* the next free slot (kept while we wait) */
		if (ready != i) {
			pf_init(&g, &s[k], k, tid, i, mine);
			ready = i;
		}
		int rc = pf_submit(&g, lane, &s[k]);
		if (rc == 0) {
			n++;
			i++;
			ns = 32;
		} else if (rc != -CHI_EAGAIN) {
			atomicAdd(wrong, 1ull);
			return;
		} else if (n) { /* every block of the lane in flight: finish our oldest */
			if (pf_finish(&g, &s[head])) {
				atomicAdd(wrong, 1ull);
				return;
			}
			head = (head + 1) % PF;
			n--;
		} else { /* we hold none: others give blocks back */
			__nanosleep(ns);
			ns = ns < 4096 ? ns * 2 : 4096;
		}
	}
}

static void sort_f(float *v, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++)
		for (uint32_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
			float t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
}

/* ---- entries 1-3: one process ---- */

static int pool_runs(const chi_bench_opts *o, chi_bench_result *r, const grt *g, int mixed)
{
	cudaDeviceProp p;
	CUDA_TRY(cudaGetDeviceProperties(&p, 0));
	uint32_t blocks = (uint32_t)p.multiProcessorCount, threads = 128, total = blocks * threads;
	uint32_t per = o->quick ? 16 : 128, nruns = o->quick ? 1 : PF_RUNS;
	uint8_t *echo = NULL;
	unsigned long long *wrong, herr = 0;
	cudaEvent_t a, b;
	if (mixed)
		CUDA_TRY(cudaMalloc(&echo, (size_t)total * (PF + 1) * ECHO_STRIDE));
	CUDA_TRY(cudaMalloc(&wrong, 8));
	CUDA_TRY(cudaMemset(wrong, 0, 8));
	CUDA_TRY(cudaEventCreate(&a));
	CUDA_TRY(cudaEventCreateWithFlags(&b, cudaEventBlockingSync));
	pool_kernel<<<blocks, threads>>>(g->ctx, 2, echo, wrong); /* warm-up */
	CUDA_TRY(cudaGetLastError());
	CUDA_TRY(cudaDeviceSynchronize());
	float ms[PF_RUNS];
	for (uint32_t k = 0; k < nruns; k++) {
		CUDA_TRY(cudaEventRecord(a));
		pool_kernel<<<blocks, threads>>>(g->ctx, per, echo, wrong);
		CUDA_TRY(cudaEventRecord(b));
		CUDA_TRY(cudaEventSynchronize(b));
		CUDA_TRY(cudaGetLastError());
		CUDA_TRY(cudaEventElapsedTime(&ms[k], a, b));
	}
	CUDA_TRY(cudaMemcpy(&herr, wrong, 8, cudaMemcpyDeviceToHost));
	cudaEventDestroy(a);
	cudaEventDestroy(b);
	cudaFree(wrong);
	if (echo)
		cudaFree(echo);
	if (herr) {
		fprintf(stderr, "chi-bench gpu: %s: %llu wrong results or failed submits\n", r->name,
			herr);
		return -EIO;
	}
	sort_f(ms, nruns);
	double tasks = (double)total * per, med = ms[nruns / 2];
	r->ops_per_s = tasks / (med / 1e3);
	r->median_ns = med * 1e6 / tasks;
	r->p99_ns = ms[nruns - 1] * 1e6 / tasks; /* the slowest run */
	r->lanes = g->ctx.nlanes;
	r->depth = g->ctx.depth;
	chi_bench_log(o, "%s: %u SMs x %u threads x %u tasks (%s), %d in flight per thread; "
			 "default config: depth %u, %u blocks of each lane per client, %u workers: "
			 "median of %u runs %.1f ms (%.1f..%.1f ms)\n",
		      r->name, blocks, threads, per, mixed ? "1 in 7 threads echo 1..299 B" : "double_plus",
		      PF, g->ctx.depth, g->ctx.blk_count, chi_runtime_config(g->rt)->num_workers, nruns,
		      med, ms[0], ms[nruns - 1]);
	return 0;
}

static int pool_entry(const chi_bench_opts *o, chi_bench_result *r, uint32_t lanes, int mixed)
{
	if (!dev_count())
		return 77;
	grt g;
	int rc = grt_start_defaults(&g, lanes);
	if (rc)
		return rc;
	rc = pool_runs(o, r, &g, mixed);
	grt_stop(&g);
	return rc;
}

int e_pool_lanes1(const chi_bench_opts *o, chi_bench_result *r) { return pool_entry(o, r, 1, 0); }
int e_pool_lanes4(const chi_bench_opts *o, chi_bench_result *r) { return pool_entry(o, r, 4, 0); }
int e_pool_mixed(const chi_bench_opts *o, chi_bench_result *r) { return pool_entry(o, r, 1, 1); }

/* ---- entry 4: three client processes ---- */

/* A client process (`chi-bench gpu --pool-client NAME TASKS`): attach to
 * runtime NAME, open a GPU client on GPU 0, warm up, print "ready", wait for
 * a byte on stdin (the go), run the pool kernel once with TASKS per thread
 * and print "done START END TASKS WRONG DEPTH" (CLOCK_MONOTONIC ns). Exit 0
 * only if every result was right. */
static int pool_client_run(const chi_gpu_ctx *g, uint32_t per)
{
	cudaDeviceProp p;
	CUDA_TRY(cudaGetDeviceProperties(&p, 0));
	uint32_t blocks = (uint32_t)p.multiProcessorCount, threads = 128;
	unsigned long long *wrong, herr = 0;
	cudaEvent_t b;
	CUDA_TRY(cudaMalloc(&wrong, 8));
	CUDA_TRY(cudaMemset(wrong, 0, 8));
	CUDA_TRY(cudaEventCreateWithFlags(&b, cudaEventBlockingSync));
	pool_kernel<<<blocks, threads>>>(*g, 2, NULL, wrong); /* warm-up */
	CUDA_TRY(cudaGetLastError());
	CUDA_TRY(cudaDeviceSynchronize());
	printf("ready\n");
	fflush(stdout);
	struct pollfd pf = {0, POLLIN, 0};
	char go = 0;
	if (poll(&pf, 1, 300 * 1000) != 1 || read(0, &go, 1) != 1 || go != 'g') {
		fprintf(stderr, "chi-bench gpu --pool-client: no go from the parent\n");
		return -ETIMEDOUT;
	}
	uint64_t t0 = chi_bench_now_ns();
	pool_kernel<<<blocks, threads>>>(*g, per, NULL, wrong);
	CUDA_TRY(cudaEventRecord(b));
	CUDA_TRY(cudaEventSynchronize(b));
	uint64_t t1 = chi_bench_now_ns();
	CUDA_TRY(cudaGetLastError());
	CUDA_TRY(cudaMemcpy(&herr, wrong, 8, cudaMemcpyDeviceToHost));
	cudaEventDestroy(b);
	cudaFree(wrong);
	printf("done %llu %llu %llu %llu %u\n", (unsigned long long)t0, (unsigned long long)t1,
	       (unsigned long long)blocks * threads * per, herr, g->depth);
	fflush(stdout);
	return herr ? -EIO : 0;
}

int chi_bench_gpu_pool_client(int argc, char **argv)
{
	char *end = NULL;
	unsigned long per = argc == 2 ? strtoul(argv[1], &end, 10) : 0;
	if (argc != 2 || *end || per == 0 || per > (1ul << 20)) {
		fprintf(stderr, "usage: chi-bench gpu --pool-client NAME TASKS_PER_THREAD\n");
		return 2;
	}
	if (!dev_count()) {
		fprintf(stderr, "chi-bench gpu --pool-client: no GPU\n");
		return 77;
	}
	chi_gpu_cuda_enable();
	chi_client *c;
	int rc = chi_client_connect(argv[0], &c);
	if (rc) {
		fprintf(stderr, "chi-bench gpu --pool-client: runtime %s: %s\n", argv[0],
			chi_strerror(rc));
		return 1;
	}
	chi_gpu_client *gc;
	rc = chi_gpu_client_open(c, 0, &gc);
	if (rc) {
		fprintf(stderr, "chi-bench gpu --pool-client: GPU client: %s\n", chi_strerror(rc));
		chi_client_close(c);
		return 1;
	}
	rc = pool_client_run(chi_gpu_client_ctx(gc), (uint32_t)per);
	chi_gpu_client_close(gc);
	chi_client_close(c);
	return rc ? 1 : 0;
}

typedef struct pchild {
	pid_t pid;
	int out; /* its stdout */
	int go;  /* its stdin */
	char line[256];
} pchild;

/* Start `chi-bench gpu --pool-client name per` with pipes on its stdin and
 * stdout (close-on-exec here, so no other child inherits them). */
static int pchild_spawn(pchild *k, const char *name, const char *per)
{
	int out[2], go[2];
	if (pipe2(out, O_CLOEXEC))
		return -errno;
	if (pipe2(go, O_CLOEXEC)) {
		int e = errno;
		close(out[0]);
		close(out[1]);
		return -e;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, go[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	char *argv[] = {(char *)chi_bench_self(), (char *)"gpu", (char *)"--pool-client",
			(char *)name, (char *)per, NULL};
	int rc = posix_spawn(&k->pid, chi_bench_self(), &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(go[0]);
	close(out[1]);
	if (rc) {
		fprintf(stderr, "chi-bench gpu: posix_spawn(%s): %s\n", chi_bench_self(), strerror(rc));
		close(go[1]);
		close(out[0]);
		k->pid = 0;
		return -rc;
	}
	k->out = out[0];
	k->go = go[1];
	return 0;
}

/* The child's next line that starts with `word`, by `deadline` (other
 * lines are skipped). -EPIPE when the child closed its stdout. */
static int pchild_line(pchild *k, const char *word, uint64_t deadline)
{
	size_t len = 0, wl = strlen(word);
	for (;;) {
		uint64_t now = chi_bench_now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd pf = {k->out, POLLIN, 0};
		int n = poll(&pf, 1, (int)((deadline - now) / 1000000 + 1));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			continue; /* the deadline check above ends it */
		char ch;
		ssize_t got = read(k->out, &ch, 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -EPIPE;
		if (ch != '\n') {
			if (len < sizeof(k->line) - 1)
				k->line[len++] = ch;
			continue;
		}
		k->line[len] = 0;
		if (!strncmp(k->line, word, wl))
			return 0;
		len = 0;
	}
}

/* Reap a child within timeout_ns (then kill it): 0 if it exited 0. */
static int pchild_reap(pchild *k, uint64_t timeout_ns)
{
	if (k->pid <= 0)
		return 0;
	uint64_t end = chi_bench_now_ns() + timeout_ns;
	int st = 0;
	pid_t w;
	while ((w = waitpid(k->pid, &st, WNOHANG)) == 0 && chi_bench_now_ns() < end)
		usleep(10 * 1000);
	if (w == 0) {
		fprintf(stderr, "chi-bench gpu: client process %d did not end; killing it\n",
			(int)k->pid);
		kill(k->pid, SIGKILL);
		waitpid(k->pid, &st, 0);
		k->pid = 0;
		return -ETIMEDOUT;
	}
	pid_t pid = k->pid;
	k->pid = 0;
	if (w < 0)
		return -ECHILD;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st))
		fprintf(stderr, "chi-bench gpu: client process %d exited with status %d\n", (int)pid,
			WEXITSTATUS(st));
	else
		fprintf(stderr, "chi-bench gpu: client process %d ended by a signal\n", (int)pid);
	return -ECHILD;
}

int e_pool_3_processes(const chi_bench_opts *o, chi_bench_result *r)
{
	if (!dev_count())
		return 77;
	chi_config c;
	chi_runtime *rt;
	int rc = grt_default_config(&c, 1);
	if (!rc)
		rc = chi_runtime_start(&c, &rt);
	if (rc)
		return rc;
	uint32_t per = o->quick ? 16 : 128;
	char per_s[16];
	snprintf(per_s, sizeof(per_s), "%u", per);
	pchild k[NPROC];
	memset(k, 0, sizeof(k));
	for (int i = 0; i < NPROC; i++)
		k[i].out = k[i].go = -1;
	for (int i = 0; i < NPROC && !rc; i++)
		rc = pchild_spawn(&k[i], c.name, per_s);
	/* each attaches, opens its GPU client and warms up: ready */
	uint64_t deadline = chi_bench_now_ns() + 120ull * 1000000000ull;
	for (int i = 0; i < NPROC && !rc; i++)
		if ((rc = pchild_line(&k[i], "ready", deadline)))
			fprintf(stderr, "chi-bench gpu: client process %d not ready: %s\n",
				(int)k[i].pid, strerror(-rc));
	if (!rc) { /* go, to all three at once; a dead child's pipe: EPIPE, not SIGPIPE */
		struct sigaction ign, old;
		memset(&ign, 0, sizeof(ign));
		ign.sa_handler = SIG_IGN;
		sigaction(SIGPIPE, &ign, &old);
		for (int i = 0; i < NPROC; i++)
			if (write(k[i].go, "g", 1) != 1 && !rc)
				rc = -EPIPE;
		sigaction(SIGPIPE, &old, NULL);
	}
	unsigned long long t0[NPROC], t1[NPROC], n[NPROC], bad[NPROC];
	unsigned depth = 0;
	deadline = chi_bench_now_ns() + 300ull * 1000000000ull;
	for (int i = 0; i < NPROC && !rc; i++) {
		if ((rc = pchild_line(&k[i], "done", deadline))) {
			fprintf(stderr, "chi-bench gpu: client process %d did not finish: %s\n",
				(int)k[i].pid, strerror(-rc));
		} else if (sscanf(k[i].line, "done %llu %llu %llu %llu %u", &t0[i], &t1[i], &n[i],
				  &bad[i], &depth) != 5 || t1[i] < t0[i]) {
			fprintf(stderr, "chi-bench gpu: client process %d: bad line '%s'\n",
				(int)k[i].pid, k[i].line);
			rc = -EPROTO;
		} else if (bad[i]) {
			fprintf(stderr, "chi-bench gpu: client process %d: %llu wrong results\n",
				(int)k[i].pid, bad[i]);
			rc = -EIO;
		}
	}
	for (int i = 0; i < NPROC; i++) { /* on an error, end them now */
		if (rc && k[i].pid > 0) {
			int st;
			kill(k[i].pid, SIGKILL);
			waitpid(k[i].pid, &st, 0);
			k[i].pid = 0;
		}
		if (k[i].go >= 0)
			close(k[i].go);
		if (k[i].out >= 0)
			close(k[i].out);
	}
	for (int i = 0; i < NPROC; i++) {
		int rr = pchild_reap(&k[i], 30ull * 1000000000ull);
		if (!rc)
			rc = rr;
	}
	chi_runtime_stop(rt);
	if (rc)
		return rc;
	unsigned long long first = t0[0], last_start = t0[0], last = t1[0], tasks = 0;
	for (int i = 0; i < NPROC; i++) {
		first = t0[i] < first ? t0[i] : first;
		last_start = t0[i] > last_start ? t0[i] : last_start;
		last = t1[i] > last ? t1[i] : last;
		tasks += n[i];
	}
	double ns = (double)(last - first);
	r->ops_per_s = (double)tasks / (ns / 1e9);
	r->median_ns = ns / (double)tasks;
	r->p99_ns = r->median_ns;
	r->lanes = 1;
	r->depth = depth;
	chi_bench_log(o, "gpu_throughput_3_processes: %d processes x %llu tasks in %.1f ms "
			 "(each: %.1f, %.1f, %.1f ms; starts within %.2f ms), depth %u\n",
		      NPROC, n[0], ns / 1e6, (t1[0] - t0[0]) / 1e6, (t1[1] - t0[1]) / 1e6,
		      (t1[2] - t0[2]) / 1e6, (last_start - first) / 1e6, depth);
	return 0;
}
