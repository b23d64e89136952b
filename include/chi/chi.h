/* chi/chi.h: the public API of chi, a task runtime.
 *
 * A client (any thread of any process, or a GPU kernel through
 * include/chi/gpu/) submits a task to a pool: the task is serialized into a
 * future block in shared memory and published on a lane; a runtime worker
 * runs the pool's module method and completes the future. Every function
 * returns 0 (or a non-negative value) on success and a negative errno on
 * failure; nothing sets errno for you.
 *
 *   #include <chi/chi.h>
 *   #include <chi/modules/test.h>                        // the test module's tasks
 *
 *   chi_config cfg;  chi_config_defaults(&cfg);          // pools admin, test, ram0
 *   chi_runtime *rt;  chi_runtime_start(&cfg, &rt);      // embedded runtime
 *   chi_client *c = chi_runtime_client(rt);
 *   chi_test_double_plus_task t;
 *   chi_test_double_plus_init(&t, CHI_POOL_TEST, 20, 2); // value * 2 + id
 *   chi_future f;  chi_make_copy_future(c, &t.hdr, &chi_test_double_plus_codec, &f);
 *   chi_future_wait(&f);                                  // t.result == 42
 *   chi_runtime_stop(rt);
 *
 * Messages of the library (a stale segment removed, a bad configuration) go
 * to stderr as "chi: <msg>"; chi_set_log (chi/log.h) redirects them.
 */
#ifndef CHI_CHI_H
#define CHI_CHI_H

#include <stddef.h>
#include <stdint.h>

#include "chi/config.h"
#include "chi/log.h"
#include "chi/proto/archive.h"
#include "chi/proto/future.h"
#include "chi/proto/gpu.h"
#include "chi/proto/task.h"
#include "chi/version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct chi_runtime chi_runtime;
typedef struct chi_client chi_client;
typedef struct chi_ctx chi_ctx;

/* How a method's task travels: the client serializes inputs (ser_in) and
 * decodes outputs (de_out); the runtime decodes inputs (de_in) into a task
 * struct of task_size bytes and serializes outputs (ser_out). The task's
 * header carries in_size/out_size, set by the task's init function, so the
 * submitter knows the room it needs before serializing. */
typedef struct chi_codec {
	int (*ser_in)(chi_ar *a, const chi_task *t);
	int (*de_in)(chi_ar *a, chi_task *t);
	int (*ser_out)(chi_ar *a, const chi_task *t);
	int (*de_out)(chi_ar *a, chi_task *t);
	uint32_t task_size;
} chi_codec;

/* A future: a process-local handle on a future block. Value type; many may be
 * in flight per client. */
/* Thread safety, per handle:
 *   chi_runtime  chi_runtime_start and chi_runtime_stop once each, from one
 *                thread, with no call on the runtime or its client still
 *                running; chi_runtime_client / _config / _stop_requested
 *                from any thread in between.
 *   chi_client   may be shared by the threads of its process: submits (copy
 *                futures, batches) claim ring slots by CAS and allocate from
 *                a lock-free allocator; the lane is chosen per thread; waits
 *                on different futures run concurrently (their only shared
 *                client state is the runtime-heartbeat bookkeeping, a
 *                benign race of plain words). chi_client_close must not run
 *                concurrently with any other call on the client, and only
 *                after every future of it was waited.
 *   chi_future   one waiter: chi_future_wait / _wait_timeout /
 *                _wait_any on one future from one thread at a time;
 *                chi_future_test from any thread. Moving the handle to
 *                another thread between calls is fine.
 *   chi_task     the task struct a future was made from (and its codec)
 *                must outlive the future until its wait returns: the wait
 *                decodes outputs into it (chi_future.task). Inputs are
 *                copied at submit (copy futures), so the caller may change
 *                them after the make call returns, but not the struct's
 *                storage. A pointer future (module code) uses the task in
 *                place until the wait returns. */
typedef struct chi_future {
	chi_future_shm *shm;
	chi_client *client;
	chi_task *task;          /* the submitter's task: outputs land here */
	const chi_codec *codec;
	uint64_t off;            /* block offset in the main segment */
	uint32_t kind;           /* copy or pointer */
	int32_t state;           /* 0 pending, 1 consumed */
} chi_future;

/* ---- runtime (embedded or daemon) ---- */

/* chi_server_init + workers: a full runtime in this process that creates the
 * named segments, so other processes can attach to it. -EADDRINUSE if a live
 * runtime with the same name exists (stale segments of a dead one are
 * removed). */
int chi_runtime_start(const chi_config *cfg, chi_runtime **out);
/* Orderly stop: refuses new submissions, drains published tasks, joins the
 * workers, removes the segments. Waits of clients in other processes return
 * an error. */
void chi_runtime_stop(chi_runtime *rt);
/* The runtime's own in-process client. */
chi_client *chi_runtime_client(chi_runtime *rt);
const chi_config *chi_runtime_config(const chi_runtime *rt);
/* Has an admin.stop task asked this runtime to stop? */
int chi_runtime_stop_requested(const chi_runtime *rt);

/* ---- client ---- */

/* Connect to a running runtime by name (NULL: $CHI_RUNTIME_NAME or "chi").
 * -ENOENT when none runs; -EPROTO for an incompatible layout; -EAGAIN while
 * it is still starting; -ECONNREFUSED for a dead or stopping runtime's
 * segment. */
int chi_client_connect(const char *name, chi_client **out);
void chi_client_close(chi_client *c);
uint32_t chi_client_id(const chi_client *c);
/* CPU lanes of the runtime it is attached to. */
uint32_t chi_client_lanes(const chi_client *c);
/* Process id of the runtime this client is attached to. */
int chi_client_owner_pid(const chi_client *c);

/* ---- futures ---- */

/* Serialize `t` into a future block and publish it (client path). Waits with
 * backoff while the lane is full. -EMSGSIZE if in_size or out_size exceeds
 * memory.max_task_size (nothing is enqueued), -ENOMEM if the arena is
 * exhausted, -ESHUTDOWN if the runtime is stopping. */
int chi_make_copy_future(chi_client *c, chi_task *t, const chi_codec *codec, chi_future *f);
/* As above but never waits: -EAGAIN when the lane is full (counted in the
 * lane's queue_full). */
int chi_try_make_copy_future(chi_client *c, chi_task *t, const chi_codec *codec, chi_future *f);
/* As chi_try_make_copy_future on CPU lane `lane` (0 .. chi_client_lanes - 1)
 * instead of the calling thread's: spreads one thread's tasks over the
 * workers (the net thread does so with tasks of other nodes). -EINVAL for
 * no such lane. */
int chi_try_make_copy_future_on(chi_client *c, uint32_t lane, chi_task *t, const chi_codec *codec,
				chi_future *f);
/* Runtime only (from inside a module method): publish the task itself, zero
 * copy, on the calling worker's lane. -EPERM outside a worker. */
int chi_make_pointer_future(chi_ctx *ctx, chi_task *t, chi_future *f);
/* The same on CPU lane `lane` (0 .. lanes-1; another worker's, to spread
 * sub-tasks over workers): -EINVAL for no such lane. */
int chi_make_pointer_future_on(chi_ctx *ctx, chi_task *t, uint32_t lane, chi_future *f);
/* Pointer future on a worker thread, copy future elsewhere. */
int chi_make_future(chi_client *c, chi_task *t, const chi_codec *codec, chi_future *f);

/* Wait for completion, decode the outputs into the task, release the block.
 * Spins for runtime.first_busy_wait_us, then sleeps on the future's futex.
 * On a worker thread it keeps processing the worker's lanes meanwhile.
 * Returns the method's result (>= 0) or its negative error; -ESHUTDOWN if
 * the runtime stopped (after running everything published before the
 * stop). When the runtime dies or goes silent (its heartbeat still for 2 s:
 * killed, hung, or stopped by SIGSTOP or a debugger): -EOWNERDEAD if the task
 * had not started, and then it never will, even if the runtime goes on
 * (the block is marked abandoned; submitting it again is safe);
 * -ENOTRECOVERABLE if it had started: it may have run in part or whole.
 * (CPU lanes; FA1-FA3 in chi/proto/future.h.) */
int64_t chi_future_wait(chi_future *f);
/* As chi_future_wait with a deadline: -ETIMEDOUT leaves the future pending
 * (wait again later). */
int64_t chi_future_wait_timeout(chi_future *f, uint64_t timeout_ns);
/* Non-blocking: 1 if complete, 0 if not. */
int chi_future_test(const chi_future *f);

/* Wait until any of the n futures fs[0..n) completes: 0 and *which = its
 * index (the lowest complete one at the moment seen). The future is NOT
 * finished: call chi_future_wait on it, which then returns its result at
 * once (decoding outputs, releasing the block); futures not chosen stay
 * pending. -EINVAL for n == 0, NULL fs / which / entries, or an entry
 * already waited; -ETIMEDOUT after timeout_ns (UINT64_MAX: none; 0: one
 * look); -ESHUTDOWN or -EOWNERDEAD when none completed and the runtime
 * stopped or died (the futures stay pending; chi_future_wait on each
 * returns that error too). Spins for runtime.first_busy_wait_us; then, with
 * one future, sleeps on its futex as chi_future_wait; with several, sleeps
 * on the first one's futex in short slices (at most 200 us) and polls the
 * others between slices, so a completion of another future is seen within
 * about 200 us (no core burnt meanwhile). On a worker thread it runs the
 * worker's lanes instead of sleeping, as chi_future_wait. The futures may
 * belong to different clients. */
int chi_future_wait_any(chi_future *const *fs, size_t n, uint64_t timeout_ns, size_t *which);

/* Batch submit (host clients): make copy futures for ts[0..n) (codecs[i]
 * serializes ts[i]) into fs[0..n). All the batch goes to one lane (the
 * calling thread's); each run of up to 64 consecutive tasks of one
 * priority claims its ring slots with one CAS of the claim counter (as
 * many as are free, waiting with backoff while the ring is full, like
 * chi_make_copy_future), publishes each slot (one release store per slot:
 * the ring has no multi-slot publish for CPU lanes) and wakes the worker
 * once. Returns how many were submitted, in order (a prefix): k == n on
 * success; 0 < k < n when ts[k] failed (-EMSGSIZE, -EINVAL from its
 * codec, -ENOMEM, or the runtime stopping while waiting for room): fs[0..k)
 * are live futures to wait as usual, ts[k..n) were not enqueued (submit
 * ts + k again to learn the error); a negative errno when ts[0] failed
 * (nothing enqueued). n == 0 returns 0. */
int chi_make_copy_futures(chi_client *c, chi_task *const *ts, const chi_codec *const *codecs,
			  chi_future *fs, size_t n);

/* A pool's id by name, asked of the runtime with an admin.list_pools task
 * (a round trip; cache it). 0 and *id, -ENOENT when no pool has that name,
 * -EINVAL for NULLs, or the submit / wait error. */
int chi_pool_lookup(chi_client *c, const char *name, chi_pool_id *id);

/* Submit and wait in one call. */
int64_t chi_call(chi_client *c, chi_task *t, const chi_codec *codec);

/* ---- GPU submission (kernels use include/chi/gpu/api.h) ---- */

typedef struct chi_gpu_client chi_gpu_client;
/* GPU queue segments the runtime made (0 without GPUs or a GPU backend). */
uint32_t chi_gpu_count(const chi_client *c);
/* Attach to GPU `gpu`'s queues: maps and registers its pinned segment in this
 * process, takes a free slice of its arena (gpu.clients slices: each GPU
 * client gets depth / gpu.clients future blocks per lane, ctx->blk_count)
 * and builds this client's block pools over it in device memory. -EBUSY when
 * gpu.clients GPU clients are attached (a closed or dead one's slice returns
 * once nothing of it is queued or running); -ENODEV without such a GPU. */
int chi_gpu_client_open(chi_client *c, uint32_t gpu, chi_gpu_client **out);
/* What `chi status` shows of GPU g's queues (without attaching). */
typedef struct chi_gpu_info {
	uint32_t backend_id; /* 1000 + g */
	uint32_t lanes;
	uint32_t depth;
	int32_t numa_node;   /* -1: no placement */
	char cpulist[64];    /* CPUs of that node */
	uint32_t worker;     /* worker polling its first lane */
	uint32_t clients;    /* slices held by GPU clients (attached or draining) */
	uint32_t slices;     /* gpu.clients: GPU clients at once */
	uint32_t blocks;     /* future blocks per lane each GPU client gets: futures
				in flight per lane before -EAGAIN */
	uint32_t data[3];    /* data blocks per lane each client gets, by class: */
	uint64_t data_size[3]; /*   of 4 KiB, 64 KiB, and a whole max_task_size task */
	uint64_t segment_size; /* bytes of the pinned segment */
} chi_gpu_info;
int chi_gpu_info_get(chi_client *c, uint32_t gpu, chi_gpu_info *out);
/* The context kernels take (by value) to submit and wait. */
const chi_gpu_ctx *chi_gpu_client_ctx(const chi_gpu_client *gc);
/* Detach. Wait on every future first: the slice is released at once when
 * nothing of it is queued or running, else by the runtime's reaper later. */
void chi_gpu_client_close(chi_gpu_client *gc);
/* Before chi_runtime_start: `n` simulated GPUs whose "device" memory is host
 * memory, so CPU threads can drive the GPU lane code (tests). 0: none. */
void chi_gpu_simulate(uint32_t n);
/* In libchi_gpu (CMake target chi::chi_gpu, built when CUDA is found): use
 * the real GPUs from now on. Call it before chi_runtime_start and before
 * opening GPU clients; it makes no CUDA call itself (safe before fork). */
int chi_gpu_cuda_enable(void);

/* ---- errors ---- */
const char *chi_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
