/* bench/bench_cluster_ucx.c: the anchors of `chi-bench cluster`, bare UCP
 * active messages between the bench process (node 0) and its helper (node
 * 1), made and torn down before either starts a chi runtime.
 *
 * Both sides make a context and a thread-single worker with the features the
 * net thread asks for (AM and WAKEUP: the same transport choice, src/net/
 * net.c), from the same UCX_TLS and UCX_NET_DEVICES=lo. Node 1 listens on
 * 127.0.0.1 (port of the kernel's choice), node 0 connects by sockaddr
 * (client-server, error mode PEER, as chi). Every message is sent with
 * UCP_AM_SEND_FLAG_REPLY and answered on the reply endpoint, and handlers
 * take whole messages (UCP_AM_FLAG_WHOLE_MSG): chi's way again. Node 1
 * answers from its loop (handlers only count), both sides spin in
 * ucp_worker_progress.
 *
 *   PING  BC_MSG bytes; node 1 answers with a REPLY of BC_MSG bytes
 *   BIG   BC_BIG bytes; node 1 receives them into its buffer (by
 *         rendezvous, ucp_am_recv_data_nbx, when UCX chose it) and answers
 *         with a REPLY of BC_MSG bytes once they are there
 *   QUIT  node 1 leaves its loop
 *
 *   am_pingpong   one PING in flight; one sample = one full round trip
 *                 (ucx_perftest reports half of this)
 *   am_stream_256 BC_WINDOW PINGs in flight, each REPLY refills one;
 *                 ops_per_s = REPLYs per second over it->tp_seconds
 *   am_rndv_512k  one BIG in flight (the next goes once its REPLY is back
 *                 and its send completed); ops_per_s = BIGs per second
 * Every loop stops at its deadline or when the endpoint fails (the peer
 * died): never a hang. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ucp/api/ucp.h>

#include "bench_cluster.h"

enum { AM_PING = 1, AM_BIG = 2, AM_QUIT = 3, AM_REPLY = 4 };
#define CLOCK_EVERY 1024u /* progress calls between deadline checks */

struct bc_ucx {
	ucp_context_h ctx;
	ucp_worker_h w;
	ucp_listener_h l;
	ucp_ep_h ep;        /* node 0: its endpoint; node 1: the accepted one */
	ucs_status_t ep_err; /* set by the error handler */
	uint64_t replies;   /* node 0: REPLYs received */
	uint64_t sends;     /* sends not completed yet */
	uint64_t owed;      /* node 1: REPLYs to send */
	uint64_t big, rndv; /* node 1: BIGs received, of them by rendezvous */
	uint64_t quit;      /* node 1: QUIT seen */
	uint8_t msg[BC_MSG];
	uint8_t *bigbuf;
};

static void ep_error(void *arg, ucp_ep_h ep, ucs_status_t st)
{
	(void)ep;
	bc_ucx *u = arg;
	if (u->ep_err == UCS_OK)
		u->ep_err = st;
}

static void send_done(void *req, ucs_status_t st, void *arg)
{
	bc_ucx *u = arg;
	if (st != UCS_OK && u->ep_err == UCS_OK)
		u->ep_err = st;
	u->sends--;
	ucp_request_free(req);
}

/* One AM send of len bytes from buf; its completion is counted in sends. */
static int am_send(bc_ucx *u, ucp_ep_h ep, unsigned id, const void *buf, size_t len)
{
	ucp_request_param_t p = {0};
	p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA |
			 UCP_OP_ATTR_FIELD_FLAGS;
	p.flags = UCP_AM_SEND_FLAG_REPLY;
	p.cb.send = send_done;
	p.user_data = u;
	ucs_status_ptr_t sp = ucp_am_send_nbx(ep, id, NULL, 0, buf, len, &p);
	if (UCS_PTR_IS_ERR(sp)) {
		if (u->ep_err == UCS_OK)
			u->ep_err = UCS_PTR_STATUS(sp);
		return -EHOSTDOWN;
	}
	if (sp)
		u->sends++;
	return 0;
}

/* ---- handlers ---- */

static ucs_status_t on_reply(void *arg, const void *h, size_t hl, void *data, size_t len,
			     const ucp_am_recv_param_t *prm)
{
	(void)h, (void)hl, (void)data, (void)len, (void)prm;
	((bc_ucx *)arg)->replies++;
	return UCS_OK;
}

static ucs_status_t on_ping(void *arg, const void *h, size_t hl, void *data, size_t len,
			    const ucp_am_recv_param_t *prm)
{
	(void)h, (void)hl, (void)data, (void)len, (void)prm;
	((bc_ucx *)arg)->owed++;
	return UCS_OK;
}

static ucs_status_t on_quit(void *arg, const void *h, size_t hl, void *data, size_t len,
			    const ucp_am_recv_param_t *prm)
{
	(void)h, (void)hl, (void)data, (void)len, (void)prm;
	((bc_ucx *)arg)->quit = 1;
	return UCS_OK;
}

static void big_done(void *req, ucs_status_t st, size_t len, void *arg)
{
	(void)len;
	bc_ucx *u = arg;
	if (st == UCS_OK)
		u->owed++;
	else if (u->ep_err == UCS_OK)
		u->ep_err = st;
	if (req)
		ucp_request_free(req);
}

static ucs_status_t on_big(void *arg, const void *h, size_t hl, void *data, size_t len,
			   const ucp_am_recv_param_t *prm)
{
	(void)h, (void)hl;
	bc_ucx *u = arg;
	u->big++;
	if (len > BC_BIG)
		len = BC_BIG;
	if (!(prm->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV)) {
		memcpy(u->bigbuf, data, len); /* eager: the bytes are here */
		u->owed++;
		return UCS_OK;
	}
	u->rndv++;
	ucp_request_param_t p = {0};
	p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
	p.cb.recv_am = big_done;
	p.user_data = u;
	ucs_status_ptr_t sp = ucp_am_recv_data_nbx(u->w, data, u->bigbuf, len, &p);
	if (sp == NULL)
		big_done(NULL, UCS_OK, len, u);
	else if (UCS_PTR_IS_ERR(sp) && u->ep_err == UCS_OK)
		u->ep_err = UCS_PTR_STATUS(sp);
	return UCS_OK;
}

static int set_handler(bc_ucx *u, unsigned id, ucp_am_recv_callback_t cb)
{
	ucp_am_handler_param_t a = {0};
	a.field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_FLAGS |
		       UCP_AM_HANDLER_PARAM_FIELD_CB | UCP_AM_HANDLER_PARAM_FIELD_ARG;
	a.id = id;
	a.flags = UCP_AM_FLAG_WHOLE_MSG;
	a.cb = cb;
	a.arg = u;
	return ucp_worker_set_am_recv_handler(u->w, &a) == UCS_OK ? 0 : -EIO;
}

/* ---- setup ---- */

int bc_ucx_open(bc_ucx **out, char *err, size_t errlen)
{
	*out = NULL;
	bc_ucx *u = calloc(1, sizeof(*u));
	if (!u || !(u->bigbuf = malloc(BC_BIG))) {
		free(u);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memset(u->bigbuf, 0x5a, BC_BIG);
	memset(u->msg, 0xa5, sizeof(u->msg));
	ucp_config_t *conf;
	ucs_status_t st = ucp_config_read(NULL, NULL, &conf);
	if (st == UCS_OK) {
		ucp_params_t p = {0};
		p.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_MT_WORKERS_SHARED |
			       UCP_PARAM_FIELD_NAME;
		p.features = UCP_FEATURE_AM | UCP_FEATURE_WAKEUP;
		p.name = "chi-bench";
		st = ucp_init(&p, conf, &u->ctx);
		ucp_config_release(conf);
	}
	if (st != UCS_OK) {
		snprintf(err, errlen, "ucp_init: %s", ucs_status_string(st));
		u->ctx = NULL;
		bc_ucx_close(u);
		return -EIO;
	}
	ucp_worker_params_t wp = {0};
	wp.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
	wp.thread_mode = UCS_THREAD_MODE_SINGLE;
	st = ucp_worker_create(u->ctx, &wp, &u->w);
	if (st != UCS_OK) {
		snprintf(err, errlen, "ucp_worker_create: %s", ucs_status_string(st));
		u->w = NULL;
		bc_ucx_close(u);
		return -EIO;
	}
	if (set_handler(u, AM_PING, on_ping) || set_handler(u, AM_BIG, on_big) ||
	    set_handler(u, AM_QUIT, on_quit) || set_handler(u, AM_REPLY, on_reply)) {
		snprintf(err, errlen, "ucp_worker_set_am_recv_handler failed");
		bc_ucx_close(u);
		return -EIO;
	}
	*out = u;
	return 0;
}

static void on_conn(ucp_conn_request_h req, void *arg)
{
	bc_ucx *u = arg;
	if (u->ep) { /* one peer only */
		ucp_listener_reject(u->l, req);
		return;
	}
	ucp_ep_params_t e = {0};
	e.field_mask = UCP_EP_PARAM_FIELD_CONN_REQUEST | UCP_EP_PARAM_FIELD_ERR_HANDLER |
		       UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE;
	e.conn_request = req;
	e.err_mode = UCP_ERR_HANDLING_MODE_PEER;
	e.err_handler.cb = ep_error;
	e.err_handler.arg = u;
	if (ucp_ep_create(u->w, &e, &u->ep) != UCS_OK) {
		u->ep = NULL;
		u->ep_err = UCS_ERR_UNREACHABLE;
	}
}

static void loopback(struct sockaddr_in *a, uint32_t port)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->sin_port = htons((uint16_t)port);
}

int bc_ucx_listen(bc_ucx *u, uint32_t *port, char *err, size_t errlen)
{
	struct sockaddr_in a;
	loopback(&a, 0);
	ucp_listener_params_t lp = {0};
	lp.field_mask = UCP_LISTENER_PARAM_FIELD_SOCK_ADDR | UCP_LISTENER_PARAM_FIELD_CONN_HANDLER;
	lp.sockaddr.addr = (const struct sockaddr *)&a;
	lp.sockaddr.addrlen = sizeof(a);
	lp.conn_handler.cb = on_conn;
	lp.conn_handler.arg = u;
	ucs_status_t st = ucp_listener_create(u->w, &lp, &u->l);
	ucp_listener_attr_t la = {.field_mask = UCP_LISTENER_ATTR_FIELD_SOCKADDR};
	if (st == UCS_OK)
		st = ucp_listener_query(u->l, &la);
	if (st != UCS_OK) {
		snprintf(err, errlen, "ucp_listener_create on 127.0.0.1: %s", ucs_status_string(st));
		return -EIO;
	}
	*port = ntohs(((const struct sockaddr_in *)&la.sockaddr)->sin_port);
	return 0;
}

int bc_ucx_connect(bc_ucx *u, uint32_t port, char *err, size_t errlen)
{
	struct sockaddr_in a;
	loopback(&a, port);
	ucp_ep_params_t e = {0};
	e.field_mask = UCP_EP_PARAM_FIELD_FLAGS | UCP_EP_PARAM_FIELD_SOCK_ADDR |
		       UCP_EP_PARAM_FIELD_ERR_HANDLER | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE;
	e.flags = UCP_EP_PARAMS_FLAGS_CLIENT_SERVER;
	e.sockaddr.addr = (const struct sockaddr *)&a;
	e.sockaddr.addrlen = sizeof(a);
	e.err_mode = UCP_ERR_HANDLING_MODE_PEER;
	e.err_handler.cb = ep_error;
	e.err_handler.arg = u;
	ucs_status_t st = ucp_ep_create(u->w, &e, &u->ep);
	if (st != UCS_OK) {
		u->ep = NULL;
		snprintf(err, errlen, "ucp_ep_create to 127.0.0.1:%u: %s", port,
			 ucs_status_string(st));
		return -EHOSTUNREACH;
	}
	return 0;
}

/* ---- node 1 ---- */

int bc_ucx_serve(bc_ucx *u, uint64_t deadline, uint64_t *big, uint64_t *rndv)
{
	unsigned spins = 0;
	int rc = 0;
	while (!u->quit && !rc) {
		ucp_worker_progress(u->w);
		while (u->owed && u->ep && !rc) {
			u->owed--;
			rc = am_send(u, u->ep, AM_REPLY, u->msg, BC_MSG);
		}
		if (u->ep_err != UCS_OK)
			rc = -EHOSTDOWN;
		if (++spins % CLOCK_EVERY)
			continue;
		if (chi_bench_now_ns() > deadline)
			rc = -ETIMEDOUT;
		else if (getppid() == 1)
			rc = -EPIPE; /* node 0 gone */
	}
	*big = u->big;
	*rndv = u->rndv;
	return rc;
}

/* ---- node 0 ---- */

/* Progress until `replies` reach want (and, with sends_zero, every send
 * completed); -EHOSTDOWN / -ETIMEDOUT. */
static int wait_replies(bc_ucx *u, uint64_t want, int sends_zero, uint64_t deadline)
{
	unsigned spins = 0;
	while (u->replies < want || (sends_zero && u->sends)) {
		ucp_worker_progress(u->w);
		if (u->ep_err != UCS_OK)
			return -EHOSTDOWN;
		if (++spins % CLOCK_EVERY == 0 && chi_bench_now_ns() > deadline)
			return -ETIMEDOUT;
	}
	return 0;
}

/* One PING, its REPLY back. */
static int ping(bc_ucx *u, uint64_t deadline)
{
	int rc = am_send(u, u->ep, AM_PING, u->msg, BC_MSG);
	return rc ? rc : wait_replies(u, u->replies + 1, 0, deadline);
}

typedef struct ping_arg {
	bc_ucx *u;
	uint64_t deadline;
} ping_arg;

static int ping_of(void *p)
{
	ping_arg *a = p;
	return ping(a->u, a->deadline);
}

int bc_ucx_pingpong(bc_ucx *u, const bc_iters *it, chi_bench_result *r)
{
	uint64_t *s = malloc(it->lat_samples * sizeof(*s));
	if (!s)
		return -ENOMEM;
	uint64_t deadline = chi_bench_now_ns() + BC_TIMEOUT_NS, n = 0;
	ping_arg a = {u, deadline};
	int rc = bc_sample_calls(it, ping_of, &a, s, &n);
	if (!rc)
		rc = wait_replies(u, u->replies, 1, deadline);
	if (!rc) {
		chi_bench_result_from_samples(r, s, n);
		r->ops_per_s = 1e9 / r->median_ns;
	}
	free(s);
	return rc;
}

int bc_ucx_stream(bc_ucx *u, const bc_iters *it, chi_bench_result *r)
{
	uint64_t deadline = chi_bench_now_ns() + BC_TIMEOUT_NS;
	uint64_t base = u->replies, sent = 0;
	int rc = 0;
	for (uint32_t i = 0; i < BC_WINDOW && !rc; i++, sent++)
		rc = am_send(u, u->ep, AM_PING, u->msg, BC_MSG);
	/* warm-up a tenth of the time, then measure; one REPLY, one PING */
	uint64_t t_warm = chi_bench_now_ns() + (uint64_t)(it->tp_seconds * 1e8);
	uint64_t t0 = 0, t1 = 0, c0 = 0, c1 = 0;
	unsigned spins = 0;
	while (!rc) {
		ucp_worker_progress(u->w);
		while (!rc && u->replies - base + BC_WINDOW > sent) {
			rc = am_send(u, u->ep, AM_PING, u->msg, BC_MSG);
			sent++;
		}
		if (u->ep_err != UCS_OK)
			rc = -EHOSTDOWN;
		if (++spins % 64)
			continue;
		uint64_t now = chi_bench_now_ns();
		if (!t0 && now >= t_warm) {
			t0 = now;
			c0 = u->replies;
		} else if (t0 && now >= t0 + (uint64_t)(it->tp_seconds * 1e9)) {
			t1 = now;
			c1 = u->replies;
			break;
		}
		if (now > deadline)
			rc = -ETIMEDOUT;
	}
	if (!rc) /* drain what is in flight */
		rc = wait_replies(u, base + sent, 1, deadline);
	if (!rc && c1 <= c0)
		rc = -EPROTO;
	if (!rc) {
		r->ops_per_s = (double)(c1 - c0) * 1e9 / (double)(t1 - t0);
		r->median_ns = 1e9 / r->ops_per_s; /* per message, amortized */
		r->depth = BC_WINDOW;
	}
	return rc;
}

int bc_ucx_rndv(bc_ucx *u, const bc_iters *it, chi_bench_result *r)
{
	uint64_t *s = malloc(it->big_max * sizeof(*s));
	if (!s)
		return -ENOMEM;
	uint8_t *buf = malloc(BC_BIG);
	if (!buf) {
		free(s);
		return -ENOMEM;
	}
	memset(buf, 0x3c, BC_BIG);
	uint64_t deadline = chi_bench_now_ns() + BC_TIMEOUT_NS;
	uint64_t n = 0, t_start = 0, t_end = 0;
	int rc = 0;
	for (uint64_t i = 0; i < it->big_warmup + it->big_max && !rc; i++) {
		uint64_t t0 = chi_bench_now_ns();
		if (i == it->big_warmup)
			t_start = t0;
		else if (i > it->big_warmup && t0 - t_start > (uint64_t)(it->big_seconds * 1e9))
			break;
		rc = am_send(u, u->ep, AM_BIG, buf, BC_BIG);
		if (!rc)
			rc = wait_replies(u, u->replies + 1, 1, deadline);
		t_end = chi_bench_now_ns();
		if (i >= it->big_warmup)
			s[n++] = t_end - t0;
	}
	if (!rc && n == 0)
		rc = -EPROTO;
	if (!rc) {
		chi_bench_result_from_samples(r, s, n);
		r->ops_per_s = (double)n * 1e9 / (double)(t_end - t_start);
	}
	free(buf);
	free(s);
	return rc;
}

int bc_ucx_quit(bc_ucx *u)
{
	int rc = am_send(u, u->ep, AM_QUIT, u->msg, BC_MSG);
	return rc ? rc : wait_replies(u, u->replies, 1, chi_bench_now_ns() + BC_TIMEOUT_NS);
}

/* ucp_ep_print_info's lane lines, e.g.
 *   #                 lane[0]:  3:tcp/lo.0 md[1]   -> md[1]/tcp/sysdev[255] am am_bw#0
 * become "tcp/lo (am am_bw#0)". */
void bc_ucx_lanes(bc_ucx *u, char *buf, size_t len, FILE *dump)
{
	buf[0] = 0;
	char *text = NULL;
	size_t tlen = 0;
	FILE *f = open_memstream(&text, &tlen);
	if (!f || !u->ep) {
		if (f)
			fclose(f);
		free(text);
		snprintf(buf, len, "?");
		return;
	}
	ucp_ep_print_info(u->ep, f);
	fclose(f);
	if (dump)
		fputs(text, dump);
	size_t n = 0;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char *p = strstr(line, "lane[");
		if (!p || !(p = strchr(p, ':')))
			continue;
		char tl[64] = "", uses[128] = "";
		char *arrow = strstr(p, "->");
		/* "  3:tcp/lo.0 md[1] ..." : the token after the resource index */
		if (sscanf(p + 1, " %*d:%63s", tl) != 1)
			continue;
		char *dot = strrchr(tl, '.');
		if (dot && strchr(tl, '/') && dot > strchr(tl, '/'))
			*dot = 0; /* device port: lo.0 -> lo, memory.0 -> memory */
		if (arrow) { /* the uses follow the remote's "md[..]/tl/sysdev[..]" */
			char *sp = strchr(arrow + 3, ' ');
			if (sp) {
				while (*sp == ' ')
					sp++;
				snprintf(uses, sizeof(uses), "%s", sp);
			}
		}
		n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s (%s)", n ? "; " : "", tl,
				      uses);
		if (n >= len)
			break;
	}
	free(text);
	if (!buf[0])
		snprintf(buf, len, "?");
}

const char *bc_ucx_version(void)
{
	static char v[32];
	unsigned maj, min, rel;
	ucp_get_version(&maj, &min, &rel);
	snprintf(v, sizeof(v), "%u.%u.%u", maj, min, rel);
	return v;
}

void bc_ucx_close(bc_ucx *u)
{
	if (!u)
		return;
	if (u->ep) {
		ucp_request_param_t p = {.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
					 .flags = UCP_EP_CLOSE_FLAG_FORCE};
		ucs_status_ptr_t r = ucp_ep_close_nbx(u->ep, &p);
		uint64_t end = chi_bench_now_ns() + 2000000000ull;
		if (UCS_PTR_IS_PTR(r)) {
			while (ucp_request_check_status(r) == UCS_INPROGRESS &&
			       chi_bench_now_ns() < end)
				ucp_worker_progress(u->w);
			ucp_request_free(r);
		}
	}
	if (u->l)
		ucp_listener_destroy(u->l);
	if (u->w)
		ucp_worker_destroy(u->w);
	if (u->ctx)
		ucp_cleanup(u->ctx);
	free(u->bigbuf);
	free(u);
}
