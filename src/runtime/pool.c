/* src/runtime/pool.c: the module registry (process-wide) and the runtime's
 * pools.
 *
 * Pool table protocol: pools are created and destroyed under rt->pool_lock;
 * a creator fills mod and state, then stores live = 1 with release (PL1);
 * workers load live with acquire (PL2) before using mod/state.
 * Destruction: under the lock, live = 0 (seq_cst, PD1), dying = 1,
 * membarrier (PD1b); then, with the lock released, for every other worker
 * whose task_seq is odd (a task running, maybe on this pool), wait until it
 * moves (PD2); only then, under the lock again, is the module's destroy
 * called and dying cleared. PD2 must not hold the lock: a task it waits for
 * may be waiting, nested, on an admin task of its own that creates or
 * destroys a pool (it would wait for the lock, and the destroy for it: a
 * deadlock, issue 20 item 12); a destroy on a worker runs its own lanes
 * while it waits, and such a task may be one of them. A dying id is not
 * reused (create: -EBUSY for it, CHI_POOL_ID_ANY skips it). A destroy from
 * a thread with a task of that pool on its own stack (the pool's task, or
 * one nested under it, destroying it) is refused with -EDEADLK.
 * PD3: a destroy running as a task on a worker refuses with -EDEADLK, too,
 * when a worker it would wait for in PD2 waits (nested, chi_wait_hook's
 * waiting_on) on a task on the destroy's own stack (the destroy's task, or
 * one it runs nested under): that worker's task waits for the destroy,
 * which would wait for it for ever. Checked under the lock before PD1 and
 * again, over every worker, on every turn of PD2 (the wait may start
 * later): found there, the pool is made live again (it was dying, so its id
 * was not reused), and tasks that came for it in between ended with
 * -ENOENT. A longer chain (the worker PD2 waits for waits on a task of a
 * third worker, whose task waits on the destroy) ends at a worker that
 * waits directly on the destroy's stack while it runs a task: PD2 would
 * wait for that one too, so checking every worker on every turn, not only
 * the one PD2 waits for now, sees every chain. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

#include "chi/log.h"
#include "chi/modules/admin.h"
#include "runtime/runtime.h"

#define CHI_MAX_MODULES 64

static const chi_module *registry[CHI_MAX_MODULES];
static uint32_t nregistry;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

int chi_module_register(const chi_module *m)
{
	if (!m || !m->name || !m->methods)
		return -EINVAL;
	int rc = 0;
	pthread_mutex_lock(&registry_lock);
	for (uint32_t i = 0; i < nregistry; i++)
		if (registry[i] == m || !strcmp(registry[i]->name, m->name)) {
			rc = registry[i] == m ? 0 : -EEXIST;
			goto out;
		}
	if (nregistry == CHI_MAX_MODULES)
		rc = -ENOSPC;
	else
		registry[nregistry++] = m;
out:
	pthread_mutex_unlock(&registry_lock);
	return rc;
}

const chi_module *chi_module_find(const char *name)
{
	const chi_module *m = NULL;
	pthread_mutex_lock(&registry_lock);
	for (uint32_t i = 0; i < nregistry; i++)
		if (!strcmp(registry[i]->name, name))
			m = registry[i];
	pthread_mutex_unlock(&registry_lock);
	return m;
}

void *chi_ctx_pool_state(const chi_ctx *ctx) { return ctx->pool ? ctx->pool->state : NULL; }
chi_runtime *chi_ctx_runtime(const chi_ctx *ctx) { return ctx->rt; }
chi_pool_id chi_ctx_pool_id(const chi_ctx *ctx) { return ctx->pool ? ctx->pool->id : 0; }
uint32_t chi_ctx_worker(const chi_ctx *ctx) { return ctx->w ? ctx->w->id : 0; }
uint8_t *chi_ctx_output(const chi_ctx *ctx, uint32_t *size)
{
	*size = ctx->out ? ctx->out_size : 0;
	return ctx->out;
}

/* The module `name`: registered already, or loaded now from
 * runtime.module_path (module_load.c); a failure is logged with its cause. */
static int module_get(chi_runtime *rt, const char *pool, const char *name, const chi_module **m)
{
	char err[512];
	int rc = chi_module_load(rt->cfg.module_path, name ? name : "", m, err, sizeof(err));
	if (rc)
		chi_log(CHI_LOG_ERROR, "pool '%s': %s", pool ? pool : "", err);
	return rc;
}

int chi_pool_create(chi_runtime *rt, uint32_t id, const char *name, const char *module,
		    const chi_pool_conf *conf, uint32_t *out_id)
{
	const chi_module *m = NULL;
	int lrc = module_get(rt, name, module, &m);
	if (lrc)
		return lrc;
	if (!name || !*name || strlen(name) >= CHI_NAME_MAX)
		return -EINVAL;
	pthread_mutex_lock(&rt->pool_lock);
	int rc = 0;
	for (uint32_t i = 0; i < CHI_MAX_POOLS; i++)
		if (rt->pools[i].live && !strcmp(rt->pools[i].name, name)) {
			rc = -EEXIST;
			goto out;
		}
	if (id == CHI_POOL_ID_ANY) {
		for (id = 0; id < CHI_MAX_POOLS && (rt->pools[id].live || rt->pools[id].dying); id++)
			;
		if (id == CHI_MAX_POOLS) {
			rc = -ENOSPC;
			goto out;
		}
	} else if (id >= CHI_MAX_POOLS) {
		rc = -ERANGE;
		goto out;
	} else if (rt->pools[id].live) {
		rc = -EEXIST;
		goto out;
	} else if (rt->pools[id].dying) {
		rc = -EBUSY; /* its destroy is still waiting for running tasks */
		goto out;
	}
	chi_pool *p = &rt->pools[id];
	p->mod = m;
	p->id = id;
	p->state = NULL;
	/* a pool whose home is another node has no state here: its tasks are
	 * forwarded (route.c); without a cluster every pool is local */
	p->home = conf && conf->node >= 0 && rt->node >= 0 && conf->node != rt->node
			  ? conf->node : -1;
	snprintf(p->name, sizeof(p->name), "%s", name);
	chi_ctx ctx = {rt, chi_tls_worker, p, NULL, 0};
	if (m->create && p->home < 0) {
		rc = m->create(&ctx, conf, &p->state);
		if (rc)
			goto out;
	}
	chi_pool_shm *ps = &rt->dir->pools[id];
	ps->id = id;
	snprintf(ps->name, sizeof(ps->name), "%s", name);
	snprintf(ps->module, sizeof(ps->module), "%s", m->name);
	__atomic_store_n(&ps->state, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&p->live, 1, __ATOMIC_RELEASE); /* PL1 */
	if (out_id)
		*out_id = id;
out:
	pthread_mutex_unlock(&rt->pool_lock);
	return rc;
}

/* PD3: does worker w wait on a task running on self's stack? */
static int waits_on_self(const chi_worker *self, chi_worker *w)
{
	const void *on = __atomic_load_n(&w->wait_hook.waiting_on, __ATOMIC_ACQUIRE);
	uint32_t d = self->fut_depth < CHI_FUT_STACK ? self->fut_depth : CHI_FUT_STACK;
	for (uint32_t i = 0; on && i < d; i++)
		if (self->fut_stack[i] == on)
			return 1;
	return 0;
}

static int any_waits_on_self(chi_runtime *rt, const chi_worker *self)
{
	for (uint32_t i = 0; self && i < rt->nworkers; i++)
		if (&rt->workers[i] != self && waits_on_self(self, &rt->workers[i]))
			return 1;
	return 0;
}

int chi_pool_destroy(chi_runtime *rt, uint32_t id)
{
	if (id >= CHI_MAX_POOLS)
		return -ENOENT;
	pthread_mutex_lock(&rt->pool_lock);
	chi_pool *p = &rt->pools[id];
	if (!p->live) {
		pthread_mutex_unlock(&rt->pool_lock);
		return -ENOENT;
	}
	if (chi_tls_worker && chi_tls_worker->on_stack[id]) {
		/* a task of this pool below us on this thread: PD2 skips this
		 * worker, so its state would be freed under that task */
		pthread_mutex_unlock(&rt->pool_lock);
		return -EDEADLK;
	}
	if (any_waits_on_self(rt, chi_tls_worker)) { /* PD3, before PD1 */
		pthread_mutex_unlock(&rt->pool_lock);
		return -EDEADLK;
	}
	__atomic_store_n(&p->live, 0, __ATOMIC_SEQ_CST); /* PD1 */
	p->dying = 1;
	/* PD1b: a full barrier on every thread of this process, so a worker's
	 * (relaxed) odd task_seq is visible now and any later check of `live`
	 * sees 0. Without membarrier workers store task_seq seq_cst instead. */
	if (rt->membarrier_ok)
		syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
	__atomic_store_n(&rt->dir->pools[id].state, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&rt->pool_lock);
	chi_worker *self = chi_tls_worker;
	for (uint32_t i = 0; i < rt->nworkers; i++) {
		chi_worker *w = &rt->workers[i];
		if (w == self)
			continue;
		uint64_t s = __atomic_load_n(&w->shm->task_seq, __ATOMIC_SEQ_CST);
		while ((s & 1) && __atomic_load_n(&w->shm->task_seq, __ATOMIC_ACQUIRE) == s) {
			if (any_waits_on_self(rt, self)) { /* PD3: undo PD1 */
				pthread_mutex_lock(&rt->pool_lock);
				__atomic_store_n(&rt->dir->pools[id].state, 1, __ATOMIC_RELEASE);
				p->dying = 0;
				__atomic_store_n(&p->live, 1, __ATOMIC_RELEASE); /* PL1 */
				pthread_mutex_unlock(&rt->pool_lock);
				return -EDEADLK;
			}
			if (self) /* keep our own lanes moving meanwhile */
				chi_worker_process_new_tasks(self, 1);
			chi_cpu_relax(); /* PD2 */
		}
	}
	pthread_mutex_lock(&rt->pool_lock);
	if (p->mod->destroy && p->home < 0)
		p->mod->destroy(p->state);
	p->state = NULL;
	p->mod = NULL;
	p->dying = 0;
	pthread_mutex_unlock(&rt->pool_lock);
	return 0;
}

void chi_pools_destroy_all(chi_runtime *rt)
{
	for (uint32_t i = 0; i < CHI_MAX_POOLS; i++)
		if (rt->pools[i].live)
			chi_pool_destroy(rt, i);
}

int chi_pools_create_from_config(chi_runtime *rt)
{
	for (uint32_t i = 0; i < rt->cfg.npools; i++) {
		const chi_pool_conf *pc = &rt->cfg.pools[i];
		int rc;
		rc = chi_pool_create(rt, pc->id, pc->name, pc->module, pc, NULL);
		if (rc)
			return rc;
	}
	return 0;
}
