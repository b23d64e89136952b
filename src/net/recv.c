/* src/net/recv.c: messages in. The active-message handler (registered
 * UCP_AM_FLAG_WHOLE_MSG, run inside ucp_worker_progress on the net thread)
 * finds the conn by the reply endpoint every send carries
 * (UCP_AM_SEND_FLAG_REPLY), drops anything from an unknown endpoint or
 * larger than a REP of max_task_size bytes (or a batch, msg.h), splits a
 * batch into its messages, receives a rendezvous message
 * (only on an authenticated conn) into a buffer of its size with
 * ucp_am_recv_data_nbx, decodes (msg.c) and dispatches by type and conn
 * state: each type is taken only on the side and in the state the
 * protocol sends it (hello.c's H1-H4, REQ/PING incoming and UP, REP/PONG
 * outgoing and UP, BYE on any UP conn); anything else, and anything that
 * does not decode, is counted, logged once per peer and kind, answered
 * when it names a request (N4), and closes a conn not yet UP. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "chi/log.h"
#include "net/core.h"

#define MS 1000000ull

void chi_net_bad_msg(chi_net *n, chi_net_conn *c, const chi_net_msg *m, int rc, const char *what)
{
	chi_net_peer *p = c && c->peer >= 0 ? &n->peers[c->peer] : NULL;
	if (!p) {
		n->stray++;
		if (n->now_ns - n->stray_logged_ns > 60000 * MS || !n->stray_logged_ns) {
			n->stray_logged_ns = n->now_ns ? n->now_ns : 1;
			chi_log(CHI_LOG_WARN, "cluster: %llu message(s) from unauthenticated endpoints dropped (%s: %s)",
				(unsigned long long)n->stray, what, chi_strerror(rc));
		}
		if (c)
			chi_net_conn_kill(c, -EPROTO);
		return;
	}
	CHI_NET_COUNT(p, errors, 1);
	if (chi_net_peer_log_once(p, CHI_NLOG_BADMSG))
		chi_log(CHI_LOG_WARN, "cluster: peer %u: %s %s: %s (counted, logged once)", p->info.node,
			what, chi_net_type_name(m->type), chi_strerror(rc));
	/* N4: answered when it names a request */
	if (m->type == CHI_NET_REQ && m->id && !c->outgoing && c->state == CHI_CONN_UP)
		chi_net_reply_err(n, c, m->id, rc);
	if (c->state != CHI_CONN_UP)
		chi_net_conn_kill(c, -EPROTO); /* nothing but the handshake before it */
}

static void handle(chi_net *n, chi_net_conn *c, const void *buf, size_t len)
{
	chi_net_msg m;
	int rc = chi_net_msg_decode(buf, len, n->max_task, &m);
	chi_net_peer *p = c->peer >= 0 ? &n->peers[c->peer] : NULL;
	if (p && c->state == CHI_CONN_UP)
		CHI_NET_COUNT(p, bytes_received, len);
	if (rc == -EPROTONOSUPPORT && m.type == CHI_NET_HELLO && c->state == CHI_CONN_CHALLENGED) {
		char why[CHI_NET_REASON];
		snprintf(why, sizeof(why), "chi wire version %u here, %u there", CHI_NET_WIRE_VERSION,
			 m.version);
		chi_net_peer *q = m.node != n->node ? chi_net_peer_by_node(n, m.node) : NULL;
		if (q) {
			CHI_NET_COUNT(q, errors, 1);
			if (chi_net_peer_log_once(q, CHI_NLOG_VERSION))
				chi_log(CHI_LOG_ERROR, "cluster: node %u refused: %s", m.node, why);
		}
		chi_net_refuse(n, c, -EPROTONOSUPPORT, why);
		return;
	}
	if (rc) {
		chi_net_bad_msg(n, c, &m, rc, "message");
		return;
	}
	if (p && c->state == CHI_CONN_UP)
		p->last_rx_ns = n->now_ns;
	switch (m.type) {
	case CHI_NET_CHALLENGE:
		if (c->outgoing && c->state == CHI_CONN_WAIT_CHALLENGE)
			return chi_net_on_challenge(n, c, &m);
		break;
	case CHI_NET_HELLO:
		if (!c->outgoing && c->state == CHI_CONN_CHALLENGED)
			return chi_net_on_hello(n, c, &m);
		break;
	case CHI_NET_WELCOME:
		if (c->outgoing && c->state == CHI_CONN_HELLO_SENT)
			return chi_net_on_welcome(n, c, &m);
		break;
	case CHI_NET_REFUSED:
		if (c->state != CHI_CONN_UP)
			return chi_net_on_refused(n, c, &m);
		break;
	case CHI_NET_REQ:
		if (!c->outgoing && c->state == CHI_CONN_UP)
			return chi_net_on_req(n, c, &m);
		break;
	case CHI_NET_REP:
		if (c->outgoing && c->state == CHI_CONN_UP)
			return chi_net_on_rep(n, c, &m);
		break;
	case CHI_NET_PING:
		if (!c->outgoing && c->state == CHI_CONN_UP) {
			chi_net_msg r = {0};
			r.type = CHI_NET_PONG;
			r.t_ns = m.t_ns;
			r.epoch = n->epoch;
			chi_net_send_msg(n, c, &r);
			return;
		}
		break;
	case CHI_NET_PONG:
		if (c->outgoing && c->state == CHI_CONN_UP) {
			if (m.t_ns <= n->now_ns && n->now_ns - m.t_ns < 3600000 * MS)
				chi_net_peer_rtt(p, n->now_ns - m.t_ns);
			return;
		}
		break;
	case CHI_NET_BYE:
		if (c->state == CHI_CONN_UP && p) {
			if (chi_net_peer_state(p) == CHI_PEER_UP || p->rq_head)
				chi_net_peer_fail(n, p, -ESHUTDOWN, CHI_PEER_DOWN, 1, "it stopped (BYE)");
			else
				chi_net_conn_kill(c, -ESHUTDOWN);
			return;
		}
		break;
	}
	chi_net_bad_msg(n, c, &m, -EPROTO, "unexpected");
}

/* An active message's data: one message or a batch (msg.h), handled in
 * order until the conn dies; a len that does not fit ends the batch as one
 * bad message. */
static void handle_all(chi_net *n, chi_net_conn *c, const uint8_t *buf, size_t len)
{
	while (len && c->state != CHI_CONN_DEAD) {
		uint32_t l = chi_net_msg_first(buf, len);
		if (!l) {
			handle(n, c, buf, len); /* decodes to -EBADMSG: counted, answered */
			return;
		}
		handle(n, c, buf, l);
		buf += l;
		len -= l;
	}
}

typedef struct rndv_rx {
	chi_net *n;
	uint64_t conn_id;
	size_t len;
	uint8_t buf[];
} rndv_rx;

static void rndv_done(void *request, ucs_status_t status, size_t length, void *user_data)
{
	rndv_rx *rx = user_data;
	chi_net_conn *c = chi_net_conn_by_id(rx->n, rx->conn_id);
	if (c && status == UCS_OK && c->state != CHI_CONN_DEAD)
		handle_all(rx->n, c, rx->buf, length);
	free(rx);
	if (request)
		ucp_request_free(request);
}

ucs_status_t chi_net_on_am(void *arg, const void *header, size_t hlen, void *data, size_t len,
			  const ucp_am_recv_param_t *param)
{
	(void)header;
	chi_net *n = arg;
	chi_net_conn *c = (param->recv_attr & UCP_AM_RECV_ATTR_FIELD_REPLY_EP)
				  ? chi_net_conn_by_ep(n, param->reply_ep)
				  : NULL;
	chi_net_msg none = {0};
	if (!c || c->state == CHI_CONN_DEAD) {
		n->stray++;
		return UCS_OK; /* dropped (a rendezvous descriptor too) */
	}
	/* the largest message: a REP of max_task_size output bytes, or a batch */
	uint64_t most = CHI_NET_REP_HDR + n->max_task;
	if (hlen || len > (most > CHI_NET_BATCH_MAX ? most : CHI_NET_BATCH_MAX)) {
		chi_net_bad_msg(n, c, &none, -EMSGSIZE, "oversized");
		return UCS_OK;
	}
	if (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) {
		if (c->state != CHI_CONN_UP) { /* large data only once authenticated */
			chi_net_bad_msg(n, c, &none, -EPROTO, "rendezvous before hello");
			return UCS_OK;
		}
		rndv_rx *rx = malloc(sizeof(*rx) + len);
		if (!rx)
			return UCS_OK;
		rx->n = n;
		rx->conn_id = c->id;
		rx->len = len;
		ucp_request_param_t prm = {0};
		prm.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
		prm.cb.recv_am = rndv_done;
		prm.user_data = rx;
		ucs_status_ptr_t sp = ucp_am_recv_data_nbx(n->worker, data, rx->buf, len, &prm);
		if (sp == NULL)
			rndv_done(NULL, UCS_OK, len, rx);
		else if (UCS_PTR_IS_ERR(sp))
			free(rx);
		return UCS_OK;
	}
	handle_all(n, c, data, len);
	return UCS_OK;
}

