/* src/net/hello.c: the handshake on every new endpoint (N5).
 *
 *   listener (incoming conn)              connector (outgoing conn)
 *   H1 CHALLENGE{node, ucx, nonce_s} -->
 *                                    <--  H2 HELLO{node, epoch, ucx, nonce_c,
 *                                            mac("chi-hello", nonce_s, node, epoch)}
 *   H3 checks: versions, node is a peer of cluster.peers and not itself,
 *      mac; then
 *      WELCOME{node, epoch, mac("chi-welcome", nonce_c, node, epoch)} -->
 *      or REFUSED{code, reason}                     -->
 *                                           H4 checks: node is the peer it
 *                                              dialled, mac: UP
 * The connector checks versions at H2 too (CHALLENGE decodes in every wire
 * version, msg.h), so either side can name both versions when they differ
 * (a wire version, or UCX major.minor). Until its conn is UP a side
 * accepts nothing but the next handshake message: anything else is counted
 * as an error and the conn closed. An incoming conn that has not sent a
 * valid HELLO within cluster.peer_timeout_ms is closed (net.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "chi/log.h"
#include "net/core.h"

static void ver_str(uint32_t v, char *s, size_t n)
{
	snprintf(s, n, "%u.%u.%u", v >> 16, (v >> 8) & 0xff, v & 0xff);
}

/* UCX versions must agree in major.minor */
static int ucx_ok(const chi_net *n, uint32_t theirs)
{
	return (theirs >> 8) == (n->ucx_ver >> 8);
}

void chi_net_refuse(chi_net *n, chi_net_conn *c, int code, const char *reason)
{
	chi_net_msg m = {0};
	m.type = CHI_NET_REFUSED;
	m.code = code;
	m.ucx = n->ucx_ver;
	m.reason = reason;
	chi_net_send_msg(n, c, &m);
	chi_net_conn_kill(c, code);
}

void chi_net_hello_start(chi_net *n, chi_net_conn *c)
{
	if (chi_net_nonce(c->nonce)) {
		chi_net_conn_kill(c, -EIO);
		return;
	}
	chi_net_msg m = {0};
	m.type = CHI_NET_CHALLENGE; /* H1 */
	m.ucx = n->ucx_ver;
	m.nonce = c->nonce;
	chi_net_send_msg(n, c, &m);
}

/* A version mismatch: logged once per peer, with both versions. */
static void version_refused(chi_net_peer *p, uint32_t node, const char *what,
			    const char *here, const char *there)
{
	if (!p || chi_net_peer_log_once(p, CHI_NLOG_VERSION))
		chi_log(CHI_LOG_ERROR, "cluster: node %u refused: %s %s here, %s there", node, what, here,
			there);
}

void chi_net_on_challenge(chi_net *n, chi_net_conn *c, const chi_net_msg *m)
{
	chi_net_peer *p = &n->peers[c->peer];
	char here[16], there[16];
	if (m->version != CHI_NET_WIRE_VERSION) {
		snprintf(here, sizeof(here), "%u", CHI_NET_WIRE_VERSION);
		snprintf(there, sizeof(there), "%u", m->version);
		version_refused(p, p->info.node, "chi wire version", here, there);
		CHI_NET_COUNT(p, errors, 1);
		chi_net_peer_set_state(n, p, CHI_PEER_REFUSED);
		chi_net_conn_kill(c, -EPROTONOSUPPORT);
		return;
	}
	if (!ucx_ok(n, m->ucx)) {
		ver_str(n->ucx_ver, here, sizeof(here));
		ver_str(m->ucx, there, sizeof(there));
		version_refused(p, p->info.node, "UCX", here, there);
		CHI_NET_COUNT(p, errors, 1);
		chi_net_peer_set_state(n, p, CHI_PEER_REFUSED);
		chi_net_conn_kill(c, -EPROTONOSUPPORT);
		return;
	}
	if (m->node != p->info.node) {
		if (chi_net_peer_log_once(p, CHI_NLOG_REFUSED))
			chi_log(CHI_LOG_ERROR, "cluster: peer %u (%s:%u) says it is node %u: refused",
				p->info.node, p->info.host, p->info.port, m->node);
		CHI_NET_COUNT(p, errors, 1);
		chi_net_peer_set_state(n, p, CHI_PEER_REFUSED);
		chi_net_conn_kill(c, -EPROTO);
		return;
	}
	chi_net_msg h = {0};
	uint8_t mac[CHI_NET_MAC];
	if (chi_net_nonce(c->nonce) ||
	    chi_net_mac(&n->key, "chi-hello", m->nonce, n->node, n->epoch, mac)) {
		chi_net_conn_kill(c, -EIO);
		return;
	}
	h.type = CHI_NET_HELLO; /* H2 */
	h.ucx = n->ucx_ver;
	h.epoch = n->epoch;
	h.nonce = c->nonce;
	h.mac = mac;
	chi_net_send_msg(n, c, &h);
	c->state = CHI_CONN_HELLO_SENT;
}

void chi_net_on_hello(chi_net *n, chi_net_conn *c, const chi_net_msg *m)
{
	char here[16], there[16], why[CHI_NET_REASON + 16];
	chi_net_peer *p = m->node != n->node ? chi_net_peer_by_node(n, m->node) : NULL;
	if (!p) {
		n->stray++;
		snprintf(why, sizeof(why), "node %u is not in cluster.peers of node %u", m->node, n->node);
		chi_net_refuse(n, c, -EPERM, why);
		return;
	}
	if (!ucx_ok(n, m->ucx)) {
		ver_str(n->ucx_ver, here, sizeof(here));
		ver_str(m->ucx, there, sizeof(there));
		version_refused(p, m->node, "UCX", here, there);
		CHI_NET_COUNT(p, errors, 1);
		snprintf(why, sizeof(why), "UCX %s here, %s there", here, there);
		chi_net_refuse(n, c, -EPROTONOSUPPORT, why);
		return;
	}
	if (!chi_net_mac_ok(&n->key, "chi-hello", c->nonce, m->node, m->epoch, m->mac)) {
		CHI_NET_COUNT(p, errors, 1);
		if (chi_net_peer_log_once(p, CHI_NLOG_REFUSED))
			chi_log(CHI_LOG_ERROR, "cluster: a connection claiming node %u refused: wrong key",
				m->node);
		chi_net_refuse(n, c, -EACCES, "wrong key");
		return;
	}
	uint8_t mac[CHI_NET_MAC];
	if (chi_net_mac(&n->key, "chi-welcome", m->nonce, n->node, n->epoch, mac)) {
		chi_net_conn_kill(c, -EIO);
		return;
	}
	/* H3 passed: an older incoming conn of that node is of a previous run
	 * or a connection it gave up: the new one replaces it */
	for (uint32_t i = 0; i < n->nconns; i++) {
		chi_net_conn *o = n->conns[i];
		if (o != c && !o->outgoing && o->peer == (int32_t)(p - n->peers) &&
		    o->state == CHI_CONN_UP)
			chi_net_conn_kill(o, -ECONNRESET);
	}
	c->peer = (int32_t)(p - n->peers);
	c->epoch = m->epoch;
	c->state = CHI_CONN_UP;
	p->last_rx_ns = n->now_ns;
	chi_net_msg w = {0};
	w.type = CHI_NET_WELCOME;
	w.epoch = n->epoch;
	w.mac = mac;
	chi_net_send_msg(n, c, &w);
}

void chi_net_on_welcome(chi_net *n, chi_net_conn *c, const chi_net_msg *m)
{
	chi_net_peer *p = &n->peers[c->peer];
	if (m->node != p->info.node ||
	    !chi_net_mac_ok(&n->key, "chi-welcome", c->nonce, m->node, m->epoch, m->mac)) { /* H4 */
		CHI_NET_COUNT(p, errors, 1);
		if (chi_net_peer_log_once(p, CHI_NLOG_REFUSED))
			chi_log(CHI_LOG_ERROR, "cluster: peer %u (%s:%u) refused: it does not hold the cluster key",
				p->info.node, p->info.host, p->info.port);
		chi_net_peer_set_state(n, p, CHI_PEER_REFUSED);
		chi_net_conn_kill(c, -EACCES);
		return;
	}
	c->state = CHI_CONN_UP;
	c->epoch = m->epoch;
	p->epoch = m->epoch;
	__atomic_store_n(&p->info.epoch, m->epoch, __ATOMIC_RELAXED);
	p->last_rx_ns = n->now_ns;
	p->next_ping_ns = n->now_ns + (uint64_t)n->cl.heartbeat_ms * 1000000u;
	if (p->next_ping_ns < n->next_timer_ns)
		n->next_timer_ns = p->next_ping_ns;
	CHI_NET_COUNT(p, connects, 1);
	chi_net_peer_set_state(n, p, CHI_PEER_UP);
	chi_log(CHI_LOG_INFO, "cluster: peer %u (%s:%u) up, epoch %llu", p->info.node, p->info.host,
		p->info.port, (unsigned long long)m->epoch);
}

void chi_net_on_refused(chi_net *n, chi_net_conn *c, const chi_net_msg *m)
{
	chi_net_peer *p = c->peer >= 0 ? &n->peers[c->peer] : NULL;
	if (p) {
		CHI_NET_COUNT(p, errors, 1);
		if (chi_net_peer_log_once(p, CHI_NLOG_REFUSED))
			chi_log(CHI_LOG_ERROR, "cluster: peer %u (%s:%u) refused this node: %s", p->info.node,
				p->info.host, p->info.port, m->reason);
		if (c->outgoing)
			chi_net_peer_set_state(n, p, CHI_PEER_REFUSED);
	}
	chi_net_conn_kill(c, m->code < 0 && m->code > -4096 ? m->code : -EACCES);
}
