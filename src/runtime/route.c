/* src/runtime/route.c: tasks whose pool lives on another node
 * (docs/cluster.md). A pool's home is its config's pools[].node; a task's
 * pool id may also name a node (CHI_POOL_ON_NODE, chi/proto/task.h). The
 * worker's lookup (run_task.c) finds such a task remote before decoding it
 * and hands its wire here, where it goes to the net thread (src/net/net.h):
 *   R1  a copy future (CPU or GPU lane, fenced or sealed) is forwarded
 *       asynchronously: the worker goes on, the net thread writes the
 *       outputs into the block's output area and completes it, exactly
 *       once (N2), with a wake on CPU lanes and without one on GPU lanes;
 *   R2  a task of a warp batch is forwarded and waited here (its pair must
 *       complete before the batch's later ones: proto/batch.h B2), and so
 *       is a pointer future (its task is serialized with its method's codec
 *       first); the wait is bounded by cluster.task_timeout_ms (N2);
 *   R3  a task that came from another node (CHI_TASK_REMOTE) is never
 *       forwarded again: -EHOSTUNREACH, so configs that disagree about a
 *       pool's home cannot bounce a task between nodes;
 *   R4  without a cluster (no net thread) a task naming another node ends
 *       with -EHOSTUNREACH.
 *   R5  rt->net is an atomic pointer, stored (release) once chi_net_start
 *       returned and loaded (acquire) by every reader: the net thread may
 *       submit a peer's task (admin.peers, say) before that store, and
 *       its worker then sees no net (a peer list of none, and no push on
 *       the done ring: the net thread's scan on its clock finds that one,
 *       D3 in src/net/core.h, within cluster.heartbeat_ms).
 * The runtime starts the net thread after its pools exist and stops it
 * after its workers drained, so every forward has a net thread to go to. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "chi/log.h"
#include "chi/modules/admin.h"
#include "net/net.h"
#include "runtime/runtime.h"

/* rt->net is stored once the net thread runs, and that thread may already
 * have submitted a peer's task whose worker reads it (admin.peers, a push):
 * an atomic pointer, NULL until then (R5). */
static chi_net *net_of(const chi_runtime *rt)
{
	return __atomic_load_n(&rt->net, __ATOMIC_ACQUIRE);
}

int chi_route_start(chi_runtime *rt)
{
	if (rt->node < 0)
		return 0;
	char err[256] = "";
	chi_net *n = NULL;
	int rc = chi_net_start(&rt->cfg, rt->epoch, &rt->self, &n, err, sizeof(err));
	if (rc) {
		chi_log(CHI_LOG_ERROR, "cluster: node %d: %s", rt->node, err);
		return rc;
	}
	__atomic_store_n(&rt->net, n, __ATOMIC_RELEASE); /* R5 */
	return 0;
}

void chi_route_stop(chi_runtime *rt)
{
	chi_net *n = net_of(rt);
	if (!n)
		return;
	chi_net_stop(n); /* the workers have stopped: nothing reads it now */
	__atomic_store_n(&rt->net, NULL, __ATOMIC_RELEASE);
}

void chi_route_served(chi_runtime *rt, uint64_t off)
{
	chi_net *n = net_of(rt);
	if (n)
		chi_net_served_done(n, off);
}

/* R3, R4: may this task be forwarded? */
static int route_check(chi_runtime *rt, const chi_pm_cache *c)
{
	if (!net_of(rt))
		return -EHOSTUNREACH;
	chi_task h;
	memcpy(&h, c->fwd_in, sizeof(h));
	if (h.flags & CHI_TASK_REMOTE)
		return -EHOSTUNREACH;
	return 0;
}

int chi_route_forward(chi_worker *w, const chi_pm_cache *c, chi_future_shm *f, uint64_t flags,
		      uint32_t gpu)
{
	int rc = route_check(w->rt, c);
	if (rc)
		return rc;
	chi_net_target t = {f, flags, c->fwd_out, c->fwd_out_size, gpu, NULL, NULL};
	return chi_net_forward(net_of(w->rt), (uint32_t)c->node, c->fwd_in, c->fwd_len, &t); /* R1 */
}

int64_t chi_route_forward_sync(chi_worker *w, const chi_pm_cache *c)
{
	int rc = route_check(w->rt, c);
	if (rc)
		return rc;
	uint32_t done = 0;
	int64_t result = 0;
	chi_net_target t = {NULL, 0, c->fwd_out, c->fwd_out_size, 0, &done, &result};
	rc = chi_net_forward(net_of(w->rt), (uint32_t)c->node, c->fwd_in, c->fwd_len, &t);
	if (rc)
		return rc;
	/* R2: the net thread ends it by the task's deadline at the latest */
	for (uint32_t spins = 0; !__atomic_load_n(&done, __ATOMIC_ACQUIRE); spins++) {
		if ((spins & 1023u) == 1023u)
			sched_yield();
		else
			chi_cpu_relax();
	}
	return result;
}

int64_t chi_route_pointer(chi_worker *w, const chi_pm_cache *c, chi_task *t)
{
	const chi_codec *codec = c->m ? c->m->codec : NULL;
	if (!codec || !codec->ser_in)
		return -EOPNOTSUPP; /* no codec here for that pool's method */
	if (t->in_size > w->rt->cfg.max_task_size || t->out_size > w->rt->cfg.max_task_size)
		return -EMSGSIZE;
	uint8_t *buf = malloc(chi_task_wire_size(t->in_size, t->out_size));
	if (!buf)
		return -ENOMEM;
	memcpy(buf, t, sizeof(chi_task));
	chi_ar a;
	chi_ar_init(&a, buf + sizeof(chi_task), t->in_size);
	int64_t r = codec->ser_in(&a, t);
	if (!r && (a.err || a.pos != t->in_size))
		r = -EINVAL;
	if (!r) {
		chi_pm_cache fc = *c;
		fc.fwd_in = buf;
		fc.fwd_len = (uint32_t)sizeof(chi_task) + t->in_size;
		fc.fwd_out = buf + chi_task_out_off(t->in_size);
		fc.fwd_out_size = t->out_size;
		r = chi_route_forward_sync(w, &fc);
		if (r >= 0 && codec->de_out && t->out_size) {
			chi_ar_init(&a, fc.fwd_out, t->out_size);
			int rc = codec->de_out(&a, t);
			if (rc)
				r = rc;
		}
	}
	free(buf);
	return r;
}

uint32_t chi_runtime_peers_snapshot(chi_runtime *rt, struct chi_admin_peers_task *t)
{
	t->node = rt->node;
	chi_net *n = net_of(rt);
	t->count = n ? chi_net_peers(n, t->peers, CHI_ADMIN_PEERS_MAX) : 0;
	return t->count;
}
