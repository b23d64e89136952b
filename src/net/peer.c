/* src/net/peer.c: the peer table (cluster.peers, fixed at start), each
 * peer's state and counters, and the once-per-peer logging.
 *
 * States (chi/cluster.h), moved by the net thread only:
 *   DOWN -> CONNECTING   chi_net_connect made the outgoing endpoint
 *   CONNECTING -> UP     its WELCOME verified (hello.c)
 *   CONNECTING -> REFUSED  the peer refused us or failed our checks
 *   any -> DOWN          endpoint error, silence for peer_timeout_ms, BYE
 *   DOWN/REFUSED -> CONNECTING  every retry_ms
 * S1: the state is stored with release here and loaded with acquire by
 * chi_net_forward (N6: only UP peers take new tasks). A forward that saw
 * UP just before the peer went down is still safe: the net thread checks
 * again when it takes the request from the queue.
 * Logging: each kind of event (chi_net_log_kind) is logged at most once
 * per peer until the peer is UP again, so a peer that stays away for days
 * costs one line, not one per retry. */
#include <errno.h>
#include <string.h>

#include "chi/log.h"
#include "net/core.h"

chi_net_peer *chi_net_peer_by_node(chi_net *n, uint32_t node)
{
	for (uint32_t i = 0; i < n->npeers; i++)
		if (n->peers[i].info.node == node && !n->peers[i].self)
			return &n->peers[i];
	return NULL;
}

uint32_t chi_net_peer_state(const chi_net_peer *p)
{
	return __atomic_load_n(&p->info.state, __ATOMIC_ACQUIRE); /* S1 */
}

void chi_net_peer_set_state(chi_net *n, chi_net_peer *p, uint32_t state)
{
	(void)n;
	if (state == CHI_PEER_UP)
		p->logged = 0; /* a fresh UP: every kind may be logged once again */
	__atomic_store_n(&p->info.state, state, __ATOMIC_RELEASE); /* S1 */
}

int chi_net_peer_log_once(chi_net_peer *p, uint32_t kind)
{
	if (p->logged & kind)
		return 0;
	p->logged |= kind;
	return 1;
}

void chi_net_peer_rtt(chi_net_peer *p, uint64_t ns)
{
	uint32_t b = ns ? 63u - (uint32_t)__builtin_clzll(ns) : 0;
	if (b >= CHI_NET_RTT_BUCKETS)
		b = CHI_NET_RTT_BUCKETS - 1;
	CHI_NET_COUNT(p, rtt_hist[b], 1);
	CHI_NET_COUNT(p, rtt_count, 1);
	CHI_NET_COUNT(p, rtt_sum_ns, ns);
}

void chi_net_peer_fail(chi_net *n, chi_net_peer *p, int err, uint32_t state, int close_in,
		       const char *why)
{
	uint32_t was = p->info.state;
	uint64_t inflight = __atomic_load_n(&p->info.in_flight, __ATOMIC_RELAXED);
	if (was == CHI_PEER_UP && chi_net_peer_log_once(p, CHI_NLOG_DOWN))
		chi_log(CHI_LOG_WARN, "cluster: peer %u (%s:%u) down: %s; %llu task(s) in flight end with %s",
			p->info.node, p->info.host, p->info.port, why, (unsigned long long)inflight,
			chi_strerror(err));
	chi_net_peer_set_state(n, p, state);
	chi_net_reqs_fail_peer(n, p, err);
	if (p->out) {
		chi_net_conn_close(n, p->out, 1);
		p->out = NULL;
	}
	if (close_in)
		for (uint32_t i = 0; i < n->nconns; i++) {
			chi_net_conn *c = n->conns[i];
			if (!c->outgoing && c->peer == (int32_t)(p - n->peers))
				chi_net_conn_kill(c, err);
		}
	p->next_retry_ns = n->now_ns + (uint64_t)n->cl.retry_ms * 1000000u;
}

uint32_t chi_net_peers(chi_net *n, chi_net_peer_info *out, uint32_t max)
{
	if (!n || !out)
		return 0;
	uint32_t k = 0;
	if (n->self_slot < 0 && k < max) {
		memset(&out[k], 0, sizeof(out[k]));
		out[k].node = n->node;
		out[k].state = CHI_PEER_SELF;
		out[k].port = n->self_port;
		out[k].epoch = n->epoch;
		memcpy(out[k].host, n->self_host, sizeof(out[k].host));
		k++;
	}
	for (uint32_t i = 0; i < n->npeers && k < max; i++, k++) {
		const chi_net_peer_info *s = &n->peers[i].info;
		chi_net_peer_info *d = &out[k];
		memset(d, 0, sizeof(*d));
		d->node = s->node;
		d->port = s->port;
		memcpy(d->host, s->host, sizeof(d->host));
		if (n->peers[i].self) {
			d->state = CHI_PEER_SELF;
			d->epoch = n->epoch;
			continue;
		}
		d->state = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
#define LD(f) d->f = __atomic_load_n(&s->f, __ATOMIC_RELAXED)
		LD(epoch);
		LD(tasks_sent);
		LD(tasks_done);
		LD(tasks_failed);
		LD(tasks_received);
		LD(bytes_sent);
		LD(bytes_received);
		LD(errors);
		LD(stale);
		LD(connects);
		LD(in_flight);
		LD(rtt_count);
		LD(rtt_sum_ns);
		for (uint32_t b = 0; b < CHI_NET_RTT_BUCKETS; b++)
			LD(rtt_hist[b]);
#undef LD
	}
	return k;
}
