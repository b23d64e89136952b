/* src/net/net.c: the net thread (src/net/net.h has the contract, core.h
 * the state and the wake-up pair W1/W2, docs/net.md the protocol).
 *
 * One thread per runtime owns a UCP context and a thread-single worker
 * (UCP_FEATURE_AM | UCP_FEATURE_WAKEUP), the listener, and every endpoint.
 * Each turn of its loop:
 *   T1 takes the stack of forwarded requests (one exchange, W2 in core.h),
 *      puts it back in the order it was pushed, and sends each as a REQ on
 *      its peer's outgoing endpoint (small ones in the conn's batch, B1 in
 *      conn.c), after adding it to the request table (req.c); a peer no
 *      longer UP fails it at once;
 *   T2 progresses the worker (at most 64 calls): message handlers run
 *      inside, and only mark endpoints dead (conn.c);
 *   T3 reaps dead endpoints, drains the done ring (serve.c), sends the
 *      turn's open batches (B2), and on its clock tests every running
 *      served task (D3), pings UP peers every heartbeat_ms, fails peers silent for
 *      peer_timeout_ms, ends requests past their deadline, closes incoming
 *      endpoints that did not authenticate in peer_timeout_ms, and
 *      reconnects DOWN/REFUSED peers every retry_ms;
 *   T4 when a turn did nothing it spins up to runtime.first_busy_wait_us
 *      (at most CHI_NET_BUSY_CAP_US) in a short loop that looks only at the
 *      forward stack, the done ring and one progress call, and starts a
 *      turn as soon as one has something (idle_spin), then arms the worker
 *      and sleeps in ppoll on the worker's fd and the eventfd (W1), at most
 *      until the next timer; a worker that completes a served task pushes
 *      it on the done ring and writes the eventfd (D1, W3 in core.h), so
 *      replies leave at once.
 * Every loop is bounded: a turn handles what is there, a failed send is
 * never retried, a DOWN peer is dialled once per retry_ms. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "chi/log.h"
#include "net/core.h"
#include "task/future_ops.h"

#define MS 1000000ull

/* ---- the loop ---- */

static void req_free_msg(chi_net_req *q)
{
	if (!q->msg_inline)
		free(q->msg);
	q->msg = NULL;
}

static void send_queued(chi_net *n, chi_net_req *list)
{
	while (list) {
		chi_net_req *q = list;
		list = q->next;
		q->next = NULL;
		chi_net_peer *p = &n->peers[q->peer];
		if (chi_net_peer_state(p) != CHI_PEER_UP || !p->out || p->out->state != CHI_CONN_UP) {
			req_free_msg(q);
			CHI_NET_COUNT(p, tasks_failed, 1);
			chi_net_target_complete(&q->t, -EHOSTDOWN, NULL, 0); /* N6, late */
			free(q);
			continue;
		}
		chi_net_reqs_add(&n->reqs, q, p);
		q->t_sent_ns = n->now_ns;
		if (q->deadline_ns < n->next_timer_ns)
			n->next_timer_ns = q->deadline_ns; /* a task_timeout_ms shorter than the timer's turn */
		uint8_t *msg = q->msg;
		q->msg = NULL;
		CHI_NET_COUNT(p, tasks_sent, 1);
		if (q->msg_inline) { /* B1: into the conn's batch (B3 if it fails) */
			if (chi_net_batch_put(n, p->out, msg, q->msg_len))
				chi_net_req_fail(n, q, -EHOSTDOWN);
		} else if (chi_net_send(n, p->out, msg, q->msg_len)) {
			chi_net_req_fail(n, q, -EHOSTDOWN); /* never sent: fails, never retried (N1) */
		}
	}
}


/* T1: the whole forward stack, oldest first */
static chi_net_req *take_queue(chi_net *n)
{
	if (!__atomic_load_n(&n->fwd_top, __ATOMIC_RELAXED))
		return NULL;
	chi_net_req *top = __atomic_exchange_n(&n->fwd_top, NULL, __ATOMIC_ACQUIRE);
	chi_net_req *l = NULL;
	while (top) { /* pushed newest first: reverse */
		chi_net_req *next = top->next;
		top->next = l;
		l = top;
		top = next;
	}
	return l;
}

/* T4's spin: until the forward stack, the done ring or a progress call has
 * something, at most CHI_NET_IDLE_SPINS rounds (then the loop looks at its
 * clock, its timers and `stop`). A whole turn reads the clock twice and
 * walks the conns; this loop does neither, so a forward or a message is
 * taken up in a round of it rather than in a turn. */
static void idle_spin(chi_net *n)
{
	for (uint32_t i = 0; i < CHI_NET_IDLE_SPINS; i++) {
		if (__atomic_load_n(&n->fwd_top, __ATOMIC_RELAXED) || chi_net_serve_any_done(n) ||
		    ucp_worker_progress(n->worker))
			return;
		chi_cpu_relax();
	}
}

/* T3: the clock's work; returns the next time it has something to do */
static uint64_t timers(chi_net *n)
{
	uint64_t now = n->now_ns, next = now + 1000 * MS;
	uint64_t hb = (uint64_t)n->cl.heartbeat_ms * MS, to = (uint64_t)n->cl.peer_timeout_ms * MS;
	if (n->serve_run)
		chi_net_serve_scan(n); /* D3: the safety net */
	uint64_t d = chi_net_reqs_expire(n, now);
	if (d < next)
		next = d;
	for (uint32_t i = 0; i < n->npeers; i++) {
		chi_net_peer *p = &n->peers[i];
		if (p->self)
			continue;
		uint32_t st = chi_net_peer_state(p);
		if (st == CHI_PEER_UP) {
			if (now - p->last_rx_ns >= to) {
				char why[64];
				snprintf(why, sizeof(why), "silent for %u ms", n->cl.peer_timeout_ms);
				chi_net_peer_fail(n, p, -EHOSTDOWN, CHI_PEER_DOWN, 1, why);
				continue;
			}
			if (now >= p->next_ping_ns) {
				chi_net_msg m = {0};
				m.type = CHI_NET_PING;
				m.t_ns = now;
				m.epoch = n->epoch;
				chi_net_send_msg(n, p->out, &m);
				p->next_ping_ns = now + hb;
			}
			if (p->next_ping_ns < next)
				next = p->next_ping_ns;
			if (p->last_rx_ns + to < next)
				next = p->last_rx_ns + to;
		} else if (st == CHI_PEER_CONNECTING) {
			if (p->out && now - p->out->t_open_ns >= to) {
				if (chi_net_peer_log_once(p, CHI_NLOG_UNREACHABLE))
					chi_log(CHI_LOG_WARN, "cluster: peer %u (%s:%u): no hello in %u ms; retrying every %u ms",
						p->info.node, p->info.host, p->info.port, n->cl.peer_timeout_ms,
						n->cl.retry_ms);
				chi_net_peer_fail(n, p, -EHOSTDOWN, CHI_PEER_DOWN, 0, "no hello");
			} else if (p->out && p->out->t_open_ns + to < next) {
				next = p->out->t_open_ns + to;
			}
		} else if (!p->out && !__atomic_load_n(&n->stop, __ATOMIC_ACQUIRE)) {
			if (now >= p->next_retry_ns) {
				p->next_retry_ns = now + (uint64_t)n->cl.retry_ms * MS;
				chi_net_connect(n, p);
			}
			if (p->next_retry_ns < next)
				next = p->next_retry_ns;
		}
	}
	for (uint32_t i = 0; i < n->nconns; i++) { /* incoming, never authenticated */
		chi_net_conn *c = n->conns[i];
		if (!c->outgoing && c->state == CHI_CONN_CHALLENGED && now - c->t_open_ns >= to)
			chi_net_conn_kill(c, -ETIMEDOUT);
	}
	return next;
}

static void *net_main(void *arg)
{
	chi_net *n = arg;
	uint64_t idle_since = 0;
	n->next_timer_ns = 0;
	for (;;) {
		n->now_ns = chi_now_ns();
		int stop = __atomic_load_n(&n->stop, __ATOMIC_ACQUIRE);
		int busy = 0;
		chi_net_req *l = take_queue(n); /* T1 */
		if (l) {
			send_queued(n, l);
			if (n->nbatches)
				chi_net_flush_all(n); /* B2: before progress, which may take long */
			busy = 1;
		}
		for (int i = 0; i < 64 && ucp_worker_progress(n->worker); i++) /* T2 */
			busy = 1;
		n->now_ns = chi_now_ns();
		if (n->nconns)
			chi_net_conns_reap(n); /* T3 */
		if (n->nclosing)
			chi_net_closing_progress(n);
		if (chi_net_serve_poll(n)) /* V2, V3 */
			busy = 1;
		if (chi_net_serve_spin(n)) /* V5 */
			busy = 1;
		if (n->nbatches)
			chi_net_flush_all(n); /* B2: the turn's requests and replies leave */
		if (n->now_ns >= n->next_timer_ns)
			n->next_timer_ns = timers(n);
		if (stop)
			break;
		if (busy) {
			idle_since = 0;
			continue;
		}
		if (!idle_since)
			idle_since = n->now_ns;
		if (n->now_ns - idle_since < n->busy_ns) { /* T4: spin */
			idle_spin(n);
			continue;
		}
		/* T4: sleep. W1: announce, then look at the stack and the done ring */
		__atomic_store_n(&n->sleeping, 1, __ATOMIC_SEQ_CST);
		int empty = __atomic_load_n(&n->fwd_top, __ATOMIC_SEQ_CST) == NULL;
		if (empty && chi_net_serve_any_done(n)) /* W3 */
			empty = 0;
		if (empty && !__atomic_load_n(&n->stop, __ATOMIC_ACQUIRE) &&
		    ucp_worker_arm(n->worker) == UCS_OK) {
			uint64_t now = chi_now_ns();
			uint64_t wait = n->next_timer_ns > now ? n->next_timer_ns - now : 0;
			/* W3 wakes us for served completions (D3's scan on the
			 * clock is the safety net); a task queued on a full ring
			 * (serve_wait) is tried again every 200 us */
			if (n->serve_wait && wait > 200000)
				wait = 200000;
			struct timespec ts = {(time_t)(wait / 1000000000ull), (long)(wait % 1000000000ull)};
			struct pollfd fds[2] = {{n->worker_fd, POLLIN, 0}, {n->efd, POLLIN, 0}};
			int r = ppoll(fds, 2, &ts, NULL);
			if (r > 0 && (fds[1].revents & POLLIN)) {
				uint64_t v;
				ssize_t rd = read(n->efd, &v, sizeof(v));
				(void)rd;
			}
		}
		__atomic_store_n(&n->sleeping, 0, __ATOMIC_RELAXED);
		idle_since = 0;
	}
	return NULL;
}

/* The thread is gone: say goodbye, end everything, close, free UCX. */
static void shutdown_all(chi_net *n)
{
	n->now_ns = chi_now_ns();
	for (uint32_t i = 0; i < n->npeers; i++) { /* BYE on one authenticated conn of each */
		chi_net_peer *p = &n->peers[i];
		chi_net_conn *c = p->out && p->out->state == CHI_CONN_UP ? p->out : NULL;
		for (uint32_t j = 0; !c && j < n->nconns; j++)
			if (n->conns[j]->peer == (int32_t)i && n->conns[j]->state == CHI_CONN_UP)
				c = n->conns[j];
		if (c) {
			chi_net_msg m = {0};
			m.type = CHI_NET_BYE;
			m.epoch = n->epoch;
			chi_net_send_msg(n, c, &m);
		}
	}
	for (chi_net_req *l = take_queue(n); l;) { /* E4 */
		chi_net_req *q = l;
		l = q->next;
		req_free_msg(q);
		CHI_NET_COUNT(&n->peers[q->peer], tasks_failed, 1);
		chi_net_target_complete(&q->t, -ESHUTDOWN, NULL, 0);
		free(q);
	}
	for (uint32_t i = 0; i < n->npeers; i++)
		chi_net_reqs_fail_peer(n, &n->peers[i], -ESHUTDOWN);
	/* flush the BYEs: a graceful close sends what is queued first */
	while (n->nconns)
		chi_net_conn_close(n, n->conns[0], 0);
	for (uint32_t i = 0; i < n->npeers; i++)
		n->peers[i].out = NULL;
	uint64_t until = chi_now_ns() + 1000 * MS;
	while (n->nclosing && chi_now_ns() < until) {
		ucp_worker_progress(n->worker);
		chi_net_closing_progress(n);
	}
	for (uint32_t i = 0; i < n->nclosing; i++) {
		ucp_request_cancel(n->worker, n->closing[i]);
		ucp_request_free(n->closing[i]);
	}
	/* tasks of peers still running here: waited (bounded), replies dropped */
	chi_net_serve_stop(n);
	n->nclosing = 0;
}

/* ---- start, stop, forward ---- */

static int resolve(const char *host, uint32_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = {0}, *res = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	char ps[16];
	snprintf(ps, sizeof(ps), "%u", port);
	if (getaddrinfo(host[0] ? host : "0.0.0.0", ps, &hints, &res) || !res)
		return -EINVAL;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int conf_peers(chi_net *n, const chi_config *cfg, char *err, size_t errlen)
{
	const chi_cluster_conf *cl = &cfg->cluster;
	n->self_slot = -1;
	if (cl->npeers > CHI_MAX_NODES) {
		snprintf(err, errlen, "cluster.peers: %u entries, at most %u", cl->npeers, CHI_MAX_NODES);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < cl->npeers; i++) {
		const chi_peer_conf *pc = &cl->peers[i];
		for (uint32_t j = 0; j < i; j++)
			if (cl->peers[j].node == pc->node) {
				snprintf(err, errlen, "cluster.peers: node %u listed twice", pc->node);
				return -EINVAL;
			}
		chi_net_peer *p = &n->peers[n->npeers++];
		p->info.node = pc->node;
		p->info.port = pc->port;
		snprintf(p->info.host, sizeof(p->info.host), "%s", pc->host);
		if (pc->node == n->node) {
			p->self = 1;
			n->self_slot = (int)i;
			p->info.state = CHI_PEER_SELF;
			continue;
		}
		if (!pc->port || pc->port > 65535 || resolve(pc->host, pc->port, &p->addr, &p->addrlen)) {
			snprintf(err, errlen, "cluster.peers: node %u: bad address %s:%u", pc->node, pc->host,
				 pc->port);
			return -EINVAL;
		}
	}
	const chi_peer_conf *me = n->self_slot >= 0 ? &cl->peers[n->self_slot] : NULL;
	snprintf(n->self_host, sizeof(n->self_host), "%s",
		 cl->listen[0] ? cl->listen : me ? me->host : "0.0.0.0");
	n->self_port = cl->port ? cl->port : me ? me->port : 0;
	if (!n->self_port || n->self_port > 65535) {
		snprintf(err, errlen, "cluster.port is not set and node %u has no entry in cluster.peers",
			 n->node);
		return -EINVAL;
	}
	return 0;
}

static int ucx_start(chi_net *n, char *err, size_t errlen)
{
	unsigned maj, min, rel;
	ucp_get_version(&maj, &min, &rel);
	n->ucx_ver = (maj << 16) | (min << 8) | (rel & 0xff);
	ucp_config_t *conf;
	ucs_status_t st = ucp_config_read(NULL, NULL, &conf);
	if (st != UCS_OK) {
		snprintf(err, errlen, "UCX configuration: %s", ucs_status_string(st));
		return -EINVAL;
	}
	/* a runtime restarted on its port must not wait for the old one's
	 * TIME_WAIT connections (SO_REUSEADDR; a live listener still holds the
	 * port: that start fails -EADDRINUSE) */
	(void)ucp_config_modify(conf, "CM_REUSEADDR", "y");
	ucp_params_t prm = {0};
	prm.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_MT_WORKERS_SHARED |
			 UCP_PARAM_FIELD_NAME;
	prm.features = UCP_FEATURE_AM | UCP_FEATURE_WAKEUP;
	prm.mt_workers_shared = 0;
	prm.name = "chi";
	st = ucp_init(&prm, conf, &n->ctx);
	ucp_config_release(conf);
	if (st != UCS_OK) {
		snprintf(err, errlen, "ucp_init: %s", ucs_status_string(st));
		n->ctx = NULL;
		return -EIO;
	}
	ucp_worker_params_t wp = {0};
	wp.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
	wp.thread_mode = UCS_THREAD_MODE_SINGLE;
	st = ucp_worker_create(n->ctx, &wp, &n->worker);
	if (st == UCS_OK)
		st = ucp_worker_get_efd(n->worker, &n->worker_fd);
	if (st != UCS_OK) {
		snprintf(err, errlen, "UCP worker: %s", ucs_status_string(st));
		return -EIO;
	}
	ucp_am_handler_param_t ah = {0};
	ah.field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_FLAGS |
			UCP_AM_HANDLER_PARAM_FIELD_CB | UCP_AM_HANDLER_PARAM_FIELD_ARG;
	ah.id = CHI_NET_AM_ID;
	ah.flags = UCP_AM_FLAG_WHOLE_MSG;
	ah.cb = chi_net_on_am;
	ah.arg = n;
	st = ucp_worker_set_am_recv_handler(n->worker, &ah);
	if (st != UCS_OK) {
		snprintf(err, errlen, "UCP AM handler: %s", ucs_status_string(st));
		return -EIO;
	}
	struct sockaddr_storage ss;
	socklen_t sl;
	if (resolve(n->self_host, n->self_port, &ss, &sl)) {
		snprintf(err, errlen, "cluster.listen: bad address %s:%u", n->self_host, n->self_port);
		return -EINVAL;
	}
	ucp_listener_params_t lp = {0};
	lp.field_mask = UCP_LISTENER_PARAM_FIELD_SOCK_ADDR | UCP_LISTENER_PARAM_FIELD_CONN_HANDLER;
	lp.sockaddr.addr = (const struct sockaddr *)&ss;
	lp.sockaddr.addrlen = sl;
	lp.conn_handler.cb = chi_net_on_conn_request;
	lp.conn_handler.arg = n;
	st = ucp_listener_create(n->worker, &lp, &n->listener);
	if (st != UCS_OK) {
		n->listener = NULL;
		snprintf(err, errlen, "cannot listen on %s:%u: %s", n->self_host, n->self_port,
			 ucs_status_string(st));
		return st == UCS_ERR_BUSY || st == UCS_ERR_ALREADY_EXISTS ? -EADDRINUSE : -EIO;
	}
	return 0;
}

static void ucx_stop(chi_net *n)
{
	if (n->listener)
		ucp_listener_destroy(n->listener);
	if (n->worker)
		ucp_worker_destroy(n->worker);
	if (n->ctx)
		ucp_cleanup(n->ctx);
	n->listener = NULL;
	n->worker = NULL;
	n->ctx = NULL;
}

static void net_free(chi_net *n)
{
	ucx_stop(n);
	chi_net_reqs_fini(&n->reqs);
	chi_net_serve_fini(n);
	free(n->closing);
	free(n->spare);
	if (n->efd >= 0)
		close(n->efd);
	chi_net_key_wipe(&n->key);
	free(n);
}

int chi_net_start(const chi_config *cfg, uint64_t epoch, chi_client *local, chi_net **out,
		  char *err, size_t errlen)
{
	char dummy[8];
	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = 0;
	if (!cfg || !out || cfg->cluster.node < 0) {
		snprintf(err, errlen, "cluster.node is not set");
		return -EINVAL;
	}
	chi_net *n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->efd = -1;
	n->node = (uint32_t)cfg->cluster.node;
	n->epoch = epoch;
	n->local = local;
	n->cl = cfg->cluster;
	if (!n->cl.heartbeat_ms)
		n->cl.heartbeat_ms = 500;
	if (!n->cl.peer_timeout_ms)
		n->cl.peer_timeout_ms = 3000;
	if (!n->cl.task_timeout_ms)
		n->cl.task_timeout_ms = 30000;
	if (!n->cl.retry_ms)
		n->cl.retry_ms = 500;
	n->max_task = cfg->max_task_size ? cfg->max_task_size : (1u << 20);
	uint64_t busy = cfg->first_busy_wait_us < CHI_NET_BUSY_CAP_US ? cfg->first_busy_wait_us
								      : CHI_NET_BUSY_CAP_US;
	n->busy_ns = busy * 1000u;
	n->next_id = 1;
	n->batch_max = chi_net_batch_default(&cfg->cluster, n->node); /* B5 */
	const char *bb = getenv("CHI_NET_BATCH_BYTES"); /* 0: no batches (docs/net.md) */
	if (bb && *bb) {
		unsigned long v = strtoul(bb, NULL, 10);
		n->batch_max = !v ? 0 : v < 64 ? 64 : v > CHI_NET_BATCH_MAX ? CHI_NET_BATCH_MAX : (uint32_t)v;
	}
	if (!n->batch_max)
		chi_log(CHI_LOG_INFO, "cluster: messages sent one by one (CHI_NET_BATCH_BYTES=0, or "
				      "every peer on this host with shared memory allowed)");
	int rc = chi_net_key_load(cfg->cluster.key_file, &n->key, err, errlen);
	if (!rc)
		rc = conf_peers(n, cfg, err, errlen);
	if (!rc)
		rc = chi_net_reqs_init(&n->reqs);
	if (!rc)
		rc = chi_net_serve_init(n);
	if (!rc) {
		n->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (n->efd < 0)
			rc = -errno;
	}
	if (!rc)
		rc = ucx_start(n, err, errlen);
	if (!rc) {
		rc = -pthread_create(&n->thread, NULL, net_main, n);
		if (rc)
			snprintf(err, errlen, "net thread: %s", strerror(-rc));
	}
	if (rc) {
		net_free(n);
		return rc;
	}
	n->thread_started = 1;
	*out = n;
	return 0;
}

/* Wake the thread from its ppoll (W2, W3, stop): the eventfd never blocks
 * (EFD_NONBLOCK; a full counter means a wake is pending already). */
static void wake(chi_net *n)
{
	uint64_t one = 1;
	ssize_t w = write(n->efd, &one, sizeof(one));
	(void)w;
}

void chi_net_stop(chi_net *n)
{
	if (!n)
		return;
	__atomic_store_n(&n->stop, 1, __ATOMIC_RELEASE);
	wake(n);
	if (n->thread_started)
		pthread_join(n->thread, NULL);
	shutdown_all(n);
	net_free(n);
}

uint32_t chi_net_node(const chi_net *n)
{
	return n ? n->node : 0;
}

int chi_net_forward(chi_net *n, uint32_t node, const uint8_t *wire, uint32_t len,
		    const chi_net_target *t)
{
	if (!n || !wire || !t || len < sizeof(chi_task) || (!t->f && (!t->done || !t->result)))
		return -EINVAL;
	if (node == n->node)
		return -EINVAL; /* the caller runs its own tasks */
	chi_net_peer *p = chi_net_peer_by_node(n, node);
	if (!p)
		return -EHOSTUNREACH;
	if (chi_net_peer_state(p) != CHI_PEER_UP) /* S1, N6 */
		return -EHOSTDOWN;
	chi_task h;
	memcpy(&h, wire, sizeof(h));
	if ((uint64_t)sizeof(chi_task) + h.in_size != len)
		return -EINVAL;
	if (h.in_size > n->max_task || h.out_size > n->max_task)
		return -EMSGSIZE;
	uint32_t mlen = chi_net_msg_size(CHI_NET_REQ, len);
	int small = n->batch_max && mlen <= CHI_NET_BATCH_ITEM; /* B1: batched, one allocation */
	chi_net_req *q = malloc(sizeof(*q) + (small ? mlen : 0));
	uint8_t *msg = !q ? NULL : small ? q->msg_buf : malloc(mlen);
	if (!msg) {
		free(q);
		return -ENOMEM;
	}
	memset(q, 0, sizeof(*q));
	q->msg_inline = (uint32_t)small;
	q->t = *t;
	q->peer = (uint32_t)(p - n->peers);
	q->msg = msg;
	q->msg_len = mlen;
	q->id = __atomic_fetch_add(&n->next_id, 1, __ATOMIC_RELAXED);
	q->deadline_ns = chi_now_ns() + (uint64_t)n->cl.task_timeout_ms * MS;
	chi_net_msg m = {0};
	m.type = CHI_NET_REQ;
	m.node = n->node;
	m.id = q->id;
	m.epoch = n->epoch;
	m.data = wire;
	m.data_len = len;
	chi_net_msg_encode(msg, &m); /* published to the net thread by the CAS below */
	chi_net_req *top = __atomic_load_n(&n->fwd_top, __ATOMIC_RELAXED);
	do /* W2: push */
		q->next = top;
	while (!__atomic_compare_exchange_n(&n->fwd_top, &top, q, 1, __ATOMIC_SEQ_CST,
					    __ATOMIC_RELAXED));
	if (__atomic_load_n(&n->sleeping, __ATOMIC_SEQ_CST)) /* W2 */
		wake(n);
	return 0;
}

void chi_net_served_done(chi_net *n, uint64_t off)
{
	uint64_t pos = __atomic_load_n(&n->done_tail, __ATOMIC_RELAXED);
	for (;;) { /* D1 */
		chi_net_done *d = &n->done_slots[pos & (CHI_NET_SERVE_MAX - 1u)];
		uint64_t seq = __atomic_load_n(&d->seq, __ATOMIC_ACQUIRE);
		if (seq == pos) {
			if (__atomic_compare_exchange_n(&n->done_tail, &pos, pos + 1, 1,
							__ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
				__atomic_store_n(&d->off, off, __ATOMIC_RELAXED);
				__atomic_store_n(&d->seq, pos + 1, __ATOMIC_RELEASE);
				break;
			}
		} else if ((int64_t)(seq - pos) < 0) { /* full: the scan finds it (D3) */
			__atomic_store_n(&n->done_missed, 1, __ATOMIC_RELEASE);
			break;
		} else {
			pos = __atomic_load_n(&n->done_tail, __ATOMIC_RELAXED);
		}
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* W3: the push, then sleeping */
	if (__atomic_load_n(&n->sleeping, __ATOMIC_SEQ_CST) &&
	    __atomic_exchange_n(&n->sleeping, 0, __ATOMIC_SEQ_CST))
		wake(n);
}
