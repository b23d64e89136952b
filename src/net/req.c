/* src/net/req.c: the requests this runtime forwarded and that are not over
 * yet (the net thread's alone; workers only queue, net.c).
 *
 * A request is in the table (a hash on its id) and in its peer's list
 * (oldest first: ids and deadlines grow in queue order, so the list is also
 * in deadline order, give or take the few microseconds between a deadline's
 * clock read and the queue lock) from the moment its REQ is sent until it
 * ends, in exactly one of these ways (N2):
 *   E1  its REP arrives from the peer it went to, with the epoch that
 *       peer's WELCOME gave: outputs copied, target completed;
 *   E2  its peer fails (chi_net_peer_fail): -EHOSTDOWN / -ESHUTDOWN;
 *   E3  its deadline passes: -ETIMEDOUT;
 *   E4  this runtime stops: -ESHUTDOWN.
 * Each removes it from table and list first and completes after, so a
 * second ending cannot find it: a REP for it later is stale (N3), counted
 * and dropped. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chi/log.h"
#include "net/core.h"
#include "task/future_ops.h"

int chi_net_reqs_init(chi_net_reqs *r)
{
	r->mask = 1023;
	r->count = 0;
	r->buckets = calloc(r->mask + 1, sizeof(*r->buckets));
	return r->buckets ? 0 : -ENOMEM;
}

void chi_net_reqs_fini(chi_net_reqs *r)
{
	free(r->buckets);
	r->buckets = NULL;
}

static uint32_t slot(const chi_net_reqs *r, uint64_t id)
{
	return (uint32_t)((id * 0x9e3779b97f4a7c15ull) >> 40) & r->mask;
}

static void grow(chi_net_reqs *r)
{
	uint32_t nmask = r->mask * 2 + 1;
	chi_net_req **nb = calloc((size_t)nmask + 1, sizeof(*nb));
	if (!nb)
		return; /* longer chains, still correct */
	chi_net_req **ob = r->buckets;
	uint32_t omask = r->mask;
	r->buckets = nb;
	r->mask = nmask;
	for (uint32_t i = 0; i <= omask; i++)
		for (chi_net_req *q = ob[i], *nx; q; q = nx) {
			nx = q->hnext;
			uint32_t s = slot(r, q->id);
			q->hnext = nb[s];
			nb[s] = q;
		}
	free(ob);
}

int chi_net_reqs_add(chi_net_reqs *r, chi_net_req *q, chi_net_peer *p)
{
	if (r->count > r->mask)
		grow(r);
	uint32_t s = slot(r, q->id);
	q->hnext = r->buckets[s];
	r->buckets[s] = q;
	r->count++;
	q->next = NULL;
	q->prev = p->rq_tail;
	if (p->rq_tail)
		p->rq_tail->next = q;
	else
		p->rq_head = q;
	p->rq_tail = q;
	CHI_NET_COUNT(p, in_flight, 1);
	return 0;
}

chi_net_req *chi_net_reqs_find(chi_net_reqs *r, uint64_t id)
{
	for (chi_net_req *q = r->buckets[slot(r, id)]; q; q = q->hnext)
		if (q->id == id)
			return q;
	return NULL;
}

void chi_net_reqs_remove(chi_net_reqs *r, chi_net_req *q, chi_net_peer *p)
{
	chi_net_req **pp = &r->buckets[slot(r, q->id)];
	while (*pp && *pp != q)
		pp = &(*pp)->hnext;
	if (*pp) {
		*pp = q->hnext;
		r->count--;
	}
	if (q->prev)
		q->prev->next = q->next;
	else
		p->rq_head = q->next;
	if (q->next)
		q->next->prev = q->prev;
	else
		p->rq_tail = q->prev;
	q->prev = q->next = q->hnext = NULL;
	CHI_NET_COUNT(p, in_flight, (uint64_t)-1);
}

void chi_net_target_complete(const chi_net_target *t, int64_t result, const uint8_t *out,
			     uint32_t len)
{
	if (result >= 0 && out && len && t->out) {
		uint32_t n = len < t->out_size ? len : t->out_size;
		memcpy(t->out, out, n);
	}
	if (t->f) {
		/* F1 (task/future_ops.h): the outputs above are ordered before
		 * the completion store */
		if (t->gpu)
			chi_future_complete_nowake(t->f, t->flags, result);
		else
			chi_future_complete(t->f, t->flags, result);
	} else {
		*t->result = result;
		__atomic_store_n(t->done, 1, __ATOMIC_RELEASE); /* pairs with the caller's acquire spin */
	}
}

void chi_net_req_fail(chi_net *n, chi_net_req *q, int err)
{
	chi_net_peer *p = &n->peers[q->peer];
	chi_net_reqs_remove(&n->reqs, q, p);
	CHI_NET_COUNT(p, tasks_failed, 1);
	chi_net_target_complete(&q->t, err, NULL, 0);
	free(q);
}

void chi_net_reqs_fail_peer(chi_net *n, chi_net_peer *p, int err)
{
	while (p->rq_head)
		chi_net_req_fail(n, p->rq_head, err); /* E2 */
}

uint64_t chi_net_reqs_expire(chi_net *n, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	for (uint32_t i = 0; i < n->npeers; i++) {
		chi_net_peer *p = &n->peers[i];
		uint32_t expired = 0;
		while (p->rq_head && p->rq_head->deadline_ns <= now) {
			chi_net_req_fail(n, p->rq_head, -ETIMEDOUT); /* E3 */
			expired++;
		}
		if (expired && chi_net_peer_log_once(p, CHI_NLOG_TIMEOUT))
			chi_log(CHI_LOG_WARN,
				"cluster: peer %u: %u task(s) passed their deadline (cluster.task_timeout_ms %u): -ETIMEDOUT",
				p->info.node, expired, n->cl.task_timeout_ms);
		if (p->rq_head && p->rq_head->deadline_ns < next)
			next = p->rq_head->deadline_ns;
	}
	return next;
}

void chi_net_on_rep(chi_net *n, chi_net_conn *c, const chi_net_msg *m)
{
	chi_net_peer *p = &n->peers[c->peer];
	chi_net_req *q = chi_net_reqs_find(&n->reqs, m->id);
	if (!q || q->peer != (uint32_t)c->peer || m->epoch != p->epoch) { /* N3 */
		CHI_NET_COUNT(p, stale, 1);
		if (chi_net_peer_log_once(p, CHI_NLOG_STALE))
			chi_log(CHI_LOG_INFO,
				"cluster: peer %u: reply for request %llu dropped (ended already, or epoch %llu not %llu)",
				p->info.node, (unsigned long long)m->id, (unsigned long long)m->epoch,
				(unsigned long long)p->epoch);
		return;
	}
	chi_net_reqs_remove(&n->reqs, q, p); /* E1 */
	int64_t result = m->result;
	if (result >= 0 && m->data_len > q->t.out_size)
		result = -EBADMSG; /* more output than the task reserved room for */
	chi_net_peer_rtt(p, n->now_ns - q->t_sent_ns);
	CHI_NET_COUNT(p, tasks_done, 1);
	chi_net_target_complete(&q->t, result, m->data, m->data_len);
	free(q);
}
