/* src/runtime/futures.c: futures made on a worker thread.
 * A pointer future publishes the task's own address (zero copy) on the
 * worker's sub-task lane; chi_make_future picks it on a worker thread of
 * this runtime and a copy future (src/ipc/submit.c) elsewhere.
 * The worker that pops a pointer future trusts its task pointer only under
 * its tag (PT0-PT3 in run_task.c). */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "runtime/runtime.h"
#include "task/future_ops.h"

int chi_make_pointer_future(chi_ctx *ctx, chi_task *t, chi_future *f)
{
	chi_worker *w = ctx ? ctx->w : chi_tls_worker;
	if (!w || w != chi_tls_worker)
		return -EPERM;
	return chi_make_pointer_future_on(ctx, t, w->sub_lane, f);
}

int chi_make_pointer_future_on(chi_ctx *ctx, chi_task *t, uint32_t lane, chi_future *f)
{
	chi_worker *w = ctx ? ctx->w : chi_tls_worker;
	if (!w || w != chi_tls_worker)
		return -EPERM;
	if (!t || !f || lane >= w->rt->self.nlanes)
		return -EINVAL;
	chi_client *c = &w->rt->self;
	uint64_t off = chi_client_alloc(c, CHI_FUTURE_BLOCK);
	if (!off)
		return -ENOMEM;
	chi_future_shm *fs = (chi_future_shm *)((char *)c->base + off);
	chi_future_block_init(fs, CHI_FUTURE_POINTER, 0, CHI_OFFPTR_NULL, 0,
			      (uint64_t)(uintptr_t)t, c->id, lane);
	/* PT1 (run_task.c): the tag that makes the worker trust task_ptr */
	uint64_t tag = chi_pointer_tag(w->rt, (uint64_t)(uintptr_t)t, off);
	memcpy(fs->copy_space, &tag, sizeof(tag));
	uint32_t prio = (t->flags & CHI_TASK_BULK) ? 1 : 0;
	/* This worker consumes the lane it publishes on: never block on it. */
	int rc;
	while ((rc = chi_client_publish(c, lane, prio, off, 1)) == -EAGAIN)
		chi_worker_process_new_tasks(w, 1);
	if (rc) {
		chi_client_free(c, off, CHI_FUTURE_BLOCK);
		return rc;
	}
	chi_future_set_handle(f, c, fs, off, t, NULL, CHI_FUT_POINTER);
	return 0;
}

int chi_make_future(chi_client *c, chi_task *t, const chi_codec *codec, chi_future *f)
{
	if (chi_tls_worker && (!c || c == &chi_tls_worker->rt->self))
		return chi_make_pointer_future(NULL, t, f);
	return chi_make_copy_future(c, t, codec, f);
}

int64_t chi_call(chi_client *c, chi_task *t, const chi_codec *codec)
{
	chi_future f;
	int rc = chi_make_future(c, t, codec, &f);
	if (rc)
		return rc;
	return chi_future_wait(&f);
}
