/* src/net/conn.c: UCP endpoints, one chi_net_conn each, and sends.
 *
 * Topology: each runtime connects out to every peer (chi_net_connect) and
 * accepts their connections on its listener (chi_net_on_conn_request). A
 * request goes out on the outgoing endpoint to its peer; its reply comes
 * back on the same endpoint (the peer answers on the endpoint the request
 * arrived on, its incoming one). Heartbeats likewise: PING out, PONG back.
 *
 * Lifetime. A conn is made with its endpoint and stays in n->conns until
 * the loop reaps it (chi_net_conns_reap): callbacks inside
 * ucp_worker_progress (the error handler, message handlers) only mark it
 * DEAD (chi_net_conn_kill), never free it, so nothing they hold goes away
 * under them. Closing hands the endpoint to ucp_ep_close_nbx (FORCE for a
 * failed one) and keeps the close request in n->closing until done.
 * Callbacks find a conn by endpoint (UCX hands the endpoint, every send
 * carries UCP_AM_SEND_FLAG_REPLY) or served tasks by conn id: a conn gone
 * is simply not found, and what was for it is dropped.
 *
 * Sends take a malloc'd buffer that UCX owns until the send completes
 * (send_done frees it). A send that fails is never retried (N1): the
 * request it carried fails instead.
 *
 * Batches (core.h):
 *   B1 a small REQ or REP is written into its conn's open batch (one
 *      malloc of CHI_NET_BATCH_MAX bytes, opened on the first message);
 *      a message that does not fit sends the batch first;
 *   B2 a batch leaves as one active message: when full, when the loop has
 *      done its turn's work (chi_net_flush_all, before it spins or
 *      sleeps), before any message sent alone on its conn, before the conn
 *      closes (a DEAD conn's batch is dropped with it);
 *   B3 a batch whose send fails kills its conn, as a failed send of one
 *      message does: its peer fails every request in flight (E2), those of
 *      the batch included; replies in it are lost as on a dead conn.
 *   B5 batches are on by default, but off when every peer is on this host
 *      (a loopback address or this host's name) and UCX may carry active
 *      messages by shared memory (UCX_TLS unset, or naming sm, shm, posix,
 *      sysv, xpmem, cma, knem or all, or excluding with ^ none of sm, shm):
 *      there a send costs ~0.3 us and batches cut the throughput at 256 in
 *      flight by ~40% (553 against 886 K/s), while over tcp they carried 3-4x
 *      (docs/benchmarks.md). Decided once at start, the same way on every
 *      node of such a cluster; CHI_NET_BATCH_BYTES overrides it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "chi/log.h"
#include "net/core.h"
#include "task/future_ops.h"

chi_net_conn *chi_net_conn_by_ep(chi_net *n, ucp_ep_h ep)
{
	for (uint32_t i = 0; i < n->nconns; i++)
		if (n->conns[i]->ep == ep)
			return n->conns[i];
	return NULL;
}

chi_net_conn *chi_net_conn_by_id(chi_net *n, uint64_t id)
{
	for (uint32_t i = 0; i < n->nconns; i++)
		if (n->conns[i]->id == id)
			return n->conns[i];
	return NULL;
}

static void ep_error(void *arg, ucp_ep_h ep, ucs_status_t status)
{
	chi_net *n = arg;
	chi_net_conn *c = chi_net_conn_by_ep(n, ep);
	if (!c || c->state == CHI_CONN_DEAD)
		return;
	c->ep_err = status;
	chi_net_conn_kill(c, -EHOSTDOWN);
}

chi_net_conn *chi_net_conn_new(chi_net *n, ucp_ep_h ep, uint32_t outgoing)
{
	if (n->nconns >= CHI_NET_CONN_MAX)
		return NULL;
	chi_net_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->ep = ep;
	c->id = ++n->next_conn_id;
	c->outgoing = outgoing;
	c->peer = -1;
	c->t_open_ns = n->now_ns;
	c->state = outgoing ? CHI_CONN_WAIT_CHALLENGE : CHI_CONN_CHALLENGED;
	n->conns[n->nconns++] = c;
	return c;
}

int chi_net_connect(chi_net *n, chi_net_peer *p)
{
	ucp_ep_params_t ep = {0};
	ep.field_mask = UCP_EP_PARAM_FIELD_FLAGS | UCP_EP_PARAM_FIELD_SOCK_ADDR |
			UCP_EP_PARAM_FIELD_ERR_HANDLER | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE;
	ep.flags = UCP_EP_PARAMS_FLAGS_CLIENT_SERVER;
	ep.sockaddr.addr = (const struct sockaddr *)&p->addr;
	ep.sockaddr.addrlen = p->addrlen;
	ep.err_mode = UCP_ERR_HANDLING_MODE_PEER;
	ep.err_handler.cb = ep_error;
	ep.err_handler.arg = n;
	if (n->nconns >= CHI_NET_CONN_MAX)
		return -EMFILE;
	ucp_ep_h h;
	ucs_status_t st = ucp_ep_create(n->worker, &ep, &h);
	if (st != UCS_OK) {
		if (chi_net_peer_log_once(p, CHI_NLOG_UNREACHABLE))
			chi_log(CHI_LOG_WARN, "cluster: peer %u (%s:%u): cannot connect: %s; retrying every %u ms",
				p->info.node, p->info.host, p->info.port, ucs_status_string(st), n->cl.retry_ms);
		return -EHOSTUNREACH;
	}
	chi_net_conn *c = chi_net_conn_new(n, h, 1);
	if (!c) {
		ucp_request_param_t cp = {.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
					  .flags = UCP_EP_CLOSE_FLAG_FORCE};
		void *r = ucp_ep_close_nbx(h, &cp);
		if (UCS_PTR_IS_PTR(r))
			ucp_request_free(r); /* completes in the background */
		return -ENOMEM;
	}
	c->peer = (int32_t)(p - n->peers);
	p->out = c;
	chi_net_peer_set_state(n, p, CHI_PEER_CONNECTING);
	return 0;
}

void chi_net_on_conn_request(ucp_conn_request_h req, void *arg)
{
	chi_net *n = arg;
	if (n->nconns >= CHI_NET_CONN_MAX || __atomic_load_n(&n->stop, __ATOMIC_ACQUIRE)) {
		ucp_listener_reject(n->listener, req);
		return;
	}
	ucp_ep_params_t ep = {0};
	ep.field_mask = UCP_EP_PARAM_FIELD_CONN_REQUEST | UCP_EP_PARAM_FIELD_ERR_HANDLER |
			UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE;
	ep.conn_request = req;
	ep.err_mode = UCP_ERR_HANDLING_MODE_PEER;
	ep.err_handler.cb = ep_error;
	ep.err_handler.arg = n;
	ucp_ep_h h;
	if (ucp_ep_create(n->worker, &ep, &h) != UCS_OK)
		return;
	chi_net_conn *c = chi_net_conn_new(n, h, 0);
	if (!c) {
		ucp_request_param_t cp = {.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
					  .flags = UCP_EP_CLOSE_FLAG_FORCE};
		void *r = ucp_ep_close_nbx(h, &cp);
		if (UCS_PTR_IS_PTR(r))
			ucp_request_free(r);
		return;
	}
	chi_net_hello_start(n, c);
}

static void send_done(void *request, ucs_status_t status, void *user_data)
{
	(void)status; /* a failed send shows as an endpoint error too */
	free(user_data);
	ucp_request_free(request);
}

static int send_now(chi_net *n, chi_net_conn *c, void *buf, uint32_t len, int batch);

int chi_net_flush(chi_net *n, chi_net_conn *c)
{
	if (!c->batch)
		return 0;
	uint8_t *b = c->batch;
	uint32_t len = c->batch_len;
	c->batch = NULL;
	c->batch_len = 0;
	n->nbatches--;
	return send_now(n, c, b, len, 1); /* B2, B3 */
}

void chi_net_flush_all(chi_net *n)
{
	for (uint32_t i = 0; n->nbatches && i < n->nconns; i++)
		chi_net_flush(n, n->conns[i]);
}

/* B1: room for a message of len <= CHI_NET_BATCH_ITEM bytes at the end of
 * c's open batch (a full batch is sent first); NULL when c is not UP or
 * there is no memory (the message is then lost as a failed send would be:
 * the conn is killed). */
static uint8_t *batch_room(chi_net *n, chi_net_conn *c, uint32_t len)
{
	if (!c || !c->ep || c->state == CHI_CONN_DEAD || len > CHI_NET_BATCH_ITEM)
		return NULL;
	if (c->batch && c->batch_len + len > n->batch_max)
		chi_net_flush(n, c); /* B1: full */
	if (c->state == CHI_CONN_DEAD)
		return NULL;
	if (!c->batch) {
		c->batch = n->spare ? n->spare : malloc(CHI_NET_BATCH_MAX);
		n->spare = NULL;
		if (!c->batch) {
			chi_net_conn_kill(c, -ENOMEM); /* B3: as a failed send */
			return NULL;
		}
		c->batch_len = 0;
		n->nbatches++;
	}
	uint8_t *p = c->batch + c->batch_len;
	c->batch_len += len;
	return p;
}

int chi_net_batch_put(chi_net *n, chi_net_conn *c, const void *msg, uint32_t len)
{
	uint8_t *room = batch_room(n, c, len);
	if (!room)
		return -1;
	memcpy(room, msg, len);
	return 0;
}

int chi_net_send(chi_net *n, chi_net_conn *c, void *buf, uint32_t len)
{
	if (c && c->batch)
		chi_net_flush(n, c); /* B2: in order */
	return send_now(n, c, buf, len, 0);
}

/* A buffer whose send completed in place: a batch buffer is kept as the
 * spare (one), anything else freed. */
static void sent(chi_net *n, void *buf, int batch)
{
	if (batch && !n->spare)
		n->spare = buf;
	else
		free(buf);
}

static int send_now(chi_net *n, chi_net_conn *c, void *buf, uint32_t len, int batch)
{
	if (!c || !c->ep || c->state == CHI_CONN_DEAD) {
		free(buf);
		return -ENOTCONN;
	}
	ucp_request_param_t prm = {0};
	prm.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA |
			   UCP_OP_ATTR_FIELD_FLAGS;
	prm.flags = UCP_AM_SEND_FLAG_REPLY;
	prm.cb.send = send_done;
	prm.user_data = buf;
	ucs_status_ptr_t sp = ucp_am_send_nbx(c->ep, CHI_NET_AM_ID, NULL, 0, buf, len, &prm);
	if (sp == NULL) {
		sent(n, buf, batch); /* done in place: the buffer is ours again */
	} else if (UCS_PTR_IS_ERR(sp)) {
		free(buf);
		chi_net_conn_kill(c, -EHOSTDOWN);
		return -EHOSTDOWN;
	}
	if (c->peer >= 0)
		CHI_NET_COUNT(&n->peers[c->peer], bytes_sent, len);
	return 0;
}

int chi_net_send_msg(chi_net *n, chi_net_conn *c, chi_net_msg *m)
{
	m->node = n->node;
	uint32_t len = chi_net_msg_size(m->type, m->data_len);
	void *buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	chi_net_msg_encode(buf, m);
	return chi_net_send(n, c, buf, len);
}

void chi_net_conn_kill(chi_net_conn *c, int err)
{
	if (c->state == CHI_CONN_DEAD)
		return;
	c->state = CHI_CONN_DEAD;
	c->close_err = err;
}

static void closing_add(chi_net *n, void *r)
{
	if (n->nclosing == n->closing_cap) {
		uint32_t cap = n->closing_cap ? n->closing_cap * 2 : 16;
		void **nc = realloc(n->closing, cap * sizeof(*nc));
		if (!nc) {
			ucp_request_free(r); /* let it finish on its own */
			return;
		}
		n->closing = nc;
		n->closing_cap = cap;
	}
	n->closing[n->nclosing++] = r;
}

void chi_net_conn_close(chi_net *n, chi_net_conn *c, int force)
{
	if (c->batch && c->state != CHI_CONN_DEAD && !force && c->ep_err == UCS_OK)
		chi_net_flush(n, c); /* B2: a graceful close sends what is queued */
	if (c->batch) {
		free(c->batch);
		c->batch = NULL;
		n->nbatches--;
	}
	for (uint32_t i = 0; i < n->nconns; i++)
		if (n->conns[i] == c) {
			n->conns[i] = n->conns[--n->nconns];
			break;
		}
	if (c->outgoing && c->peer >= 0 && n->peers[c->peer].out == c)
		n->peers[c->peer].out = NULL;
	if (c->ep) {
		ucp_request_param_t cp = {0};
		if (force || c->ep_err != UCS_OK) {
			cp.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
			cp.flags = UCP_EP_CLOSE_FLAG_FORCE;
		}
		void *r = ucp_ep_close_nbx(c->ep, &cp);
		if (UCS_PTR_IS_PTR(r))
			closing_add(n, r);
	}
	free(c);
}

void chi_net_closing_progress(chi_net *n)
{
	for (uint32_t i = 0; i < n->nclosing;) {
		if (ucp_request_check_status(n->closing[i]) != UCS_INPROGRESS) {
			ucp_request_free(n->closing[i]);
			n->closing[i] = n->closing[--n->nclosing];
		} else {
			i++;
		}
	}
}

void chi_net_conns_reap(chi_net *n)
{
	for (uint32_t i = 0; i < n->nconns;) {
		chi_net_conn *c = n->conns[i];
		if (c->state != CHI_CONN_DEAD) {
			i++;
			continue;
		}
		chi_net_peer *p = c->peer >= 0 ? &n->peers[c->peer] : NULL;
		if (c->outgoing && p && p->out == c) {
			uint32_t st = chi_net_peer_state(p);
			uint32_t to = st == CHI_PEER_REFUSED ? CHI_PEER_REFUSED : CHI_PEER_DOWN;
			if (st == CHI_PEER_CONNECTING && c->ep_err != UCS_OK &&
			    chi_net_peer_log_once(p, CHI_NLOG_UNREACHABLE))
				chi_log(CHI_LOG_WARN, "cluster: peer %u (%s:%u) unreachable: %s; retrying every %u ms",
					p->info.node, p->info.host, p->info.port, ucs_status_string(c->ep_err),
					n->cl.retry_ms);
			chi_net_peer_fail(n, p, c->close_err ? c->close_err : -EHOSTDOWN, to, 0,
					  c->ep_err != UCS_OK ? ucs_status_string(c->ep_err) : "connection closed");
			/* peer_fail closed c */
		} else {
			chi_net_conn_close(n, c, c->ep_err != UCS_OK);
		}
		/* the array changed under i: start over (few conns) */
		i = 0;
	}
}

/* B5: is `host` this machine? */
static int host_is_local(const char *host)
{
	char me[256];
	if (!strncmp(host, "127.", 4) || !strcmp(host, "::1") || !strcasecmp(host, "localhost"))
		return 1;
	return gethostname(me, sizeof(me)) == 0 && (me[sizeof(me) - 1] = 0, !strcasecmp(host, me));
}

/* B5: may UCX carry active messages by shared memory, as UCX_TLS reads? */
static int tls_allows_shm(const char *tls)
{
	static const char *const shm[] = {"sm", "shm", "posix", "sysv", "xpmem", "cma", "knem", "all"};
	if (!tls || !*tls)
		return 1; /* UCX's default: every transport */
	int exclude = tls[0] == '^', found = 0;
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", tls + exclude);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
		for (size_t i = 0; i < sizeof(shm) / sizeof(shm[0]); i++)
			if (!strcasecmp(t, shm[i]) && (!exclude || i < 2))
				found = 1;
	return exclude ? !found : found;
}

uint32_t chi_net_batch_default(const chi_cluster_conf *cl, uint32_t self)
{
	uint32_t others = 0;
	for (uint32_t i = 0; i < cl->npeers; i++) {
		if (cl->peers[i].node == self)
			continue;
		others++;
		if (!host_is_local(cl->peers[i].host))
			return CHI_NET_BATCH_MAX;
	}
	return others && tls_allows_shm(getenv("UCX_TLS")) ? 0 : CHI_NET_BATCH_MAX;
}
