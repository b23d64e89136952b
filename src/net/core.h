/* src/net/core.h: the net layer's private state, shared by its files
 * (net.c the thread and UCX, recv.c messages in, conn.c endpoints and
 * sends, hello.c the handshake, peer.c the peer table, req.c forwarded
 * requests, serve.c tasks peers send here). docs/net.md has the whole protocol.
 *
 * Threads. Everything here belongs to the net thread, except:
 *   - the forward stack (fwd_top), which chi_net_forward pushes onto from
 *     any thread and the net thread takes whole;
 *   - `sleeping`, the net thread's "I am about to sleep" word, and the
 *     eventfd it sleeps on (W1/W2 below);
 *   - a peer's `state` (S1: stored with release by the net thread, loaded
 *     with acquire by chi_net_forward for N6) and its counters in `info`
 *     (single writer, the net thread, with relaxed atomic loads and stores;
 *     read with relaxed loads by chi_net_peers: a snapshot of counters,
 *     each exact, not all from the same instant).
 * Batches (B1-B3, conn.c): REQs and REPs of at most CHI_NET_BATCH_ITEM
 * bytes are appended to their conn's open batch, one buffer of at most
 * CHI_NET_BATCH_MAX bytes; the loop sends every open batch as one active
 * message before it spins or sleeps (chi_net_flush_all), and any message
 * sent alone on a conn flushes that conn's batch first, so a conn's
 * messages leave in the order they were made.
 * Wake-up (Dekker pairs of seq_cst operations):
 *   W1 the net thread stores sleeping = 1 (seq_cst), then loads fwd_top
 *      (seq_cst) and finds it NULL, then sleeps in ppoll on the eventfd and
 *      the UCP worker's fd;
 *   W2 a forwarder pushes its request on fwd_top (CAS, seq_cst; a stack,
 *      which the thread takes whole by exchange and reverses, so requests
 *      leave in the order they were pushed), then loads sleeping (seq_cst)
 *      and writes the eventfd if it is 1. In the single order of seq_cst
 *      operations one of the two comes first and the other sees it, so no
 *      push is left asleep. (A mutex-protected queue was here before; its
 *      lock line went back and forth twice per forward.)
 *   W3 a worker completes a served task (its future's complete store),
 *      pushes its block on the done ring (D1), then after a seq_cst fence
 *      loads sleeping and writes the eventfd if it is 1 (chi_net_served_done). The
 *      net thread, after storing sleeping = 1 (seq_cst), looks at the done
 *      ring's head slot before it sleeps: one of the two sees the other's
 *      store, so no completion waits for a timer.
 * The done ring (served completions; workers push, the net thread drains;
 * a bounded MPSC queue of slots with sequence numbers):
 *   D1 a worker that completed a served task (its future's complete store
 *      done) takes ticket pos = done_tail where slot pos % CHI_NET_SERVE_MAX
 *      has seq == pos (CAS on done_tail), stores the block offset, then
 *      seq = pos + 1 (release). A slot with seq < pos is the ring full: the
 *      worker sets done_missed (release) instead and pushes nothing;
 *   D2 the net thread takes the slot at done_head while its seq is
 *      done_head + 1 (acquire), reads the offset and frees the slot for the
 *      next lap (seq = done_head + CHI_NET_SERVE_MAX, release); the offset
 *      finds the submitted record (serve_hash), whose future is tested
 *      before it is replied to (an offset whose record is gone or not
 *      complete is dropped: a scan ended it, or a client's task carried
 *      CHI_TASK_REMOTE without being a peer's);
 *   D3 the scan, which tests every running future, runs when done_missed
 *      was set (exchanged to 0 first) and on each clock turn (T3), so a
 *      completion that was never pushed waits at most heartbeat_ms. Every
 *      served task's completion is pushed (the worker's single completion
 *      site, run_task.c, its errors included), so the scan is a safety net:
 *      before D1 the thread scanned every turn, O(in flight) per turn. */
#ifndef CHI_SRC_NET_CORE_H
#define CHI_SRC_NET_CORE_H

#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>

#include <ucp/api/ucp.h>

#include "chi/chi.h"
#include "chi/cluster.h"
#include "net/auth.h"
#include "net/msg.h"
#include "net/net.h"

#define CHI_NET_CONN_MAX 256u      /* endpoints at once, unauthenticated ones included */
#define CHI_NET_SERVE_MAX 65536u   /* tasks of peers queued or running here */
#define CHI_NET_SERVE_SPIN_NS 4000u /* V5 (serve.c): a turn that submitted tasks polls them this long */
#define CHI_NET_SERVE_SPIN_MAX 8u   /* V5: ... when at most this many run */
#define CHI_NET_BUSY_CAP_US 1000u  /* the thread's spin before it sleeps, at most */
#define CHI_NET_IDLE_SPINS 256u    /* T4: rounds of the short spin between turns */

/* ---- forwarded requests (req.c) ---- */
typedef struct chi_net_req {
	uint64_t id;
	uint64_t deadline_ns;
	uint64_t t_sent_ns;
	chi_net_target t;
	uint32_t peer;             /* slot in n->peers */
	uint32_t msg_len;
	uint32_t msg_inline;       /* msg is msg_buf below, not a malloc of its own */
	uint8_t *msg;              /* the REQ message until sent (then UCX's) */
	struct chi_net_req *hnext; /* hash chain */
	struct chi_net_req *prev, *next; /* the peer's list, oldest first */
	uint8_t msg_buf[];         /* a REQ of at most CHI_NET_BATCH_ITEM bytes */
} chi_net_req;

typedef struct chi_net_reqs {
	chi_net_req **buckets;
	uint32_t mask;
	uint32_t count;
} chi_net_reqs;

/* ---- endpoints (conn.c) ---- */
enum chi_net_conn_state {
	CHI_CONN_WAIT_CHALLENGE, /* outgoing: connected, waiting for CHALLENGE */
	CHI_CONN_HELLO_SENT,     /* outgoing: HELLO sent, waiting for WELCOME */
	CHI_CONN_CHALLENGED,     /* incoming: CHALLENGE sent, waiting for HELLO */
	CHI_CONN_UP,             /* authenticated (both sides proved the key) */
	CHI_CONN_DEAD,           /* failed or refused: closed by the loop */
};

typedef struct chi_net_conn {
	ucp_ep_h ep;
	uint64_t id;          /* unique per net: served tasks name their conn by it */
	uint32_t outgoing;
	uint32_t state;
	int32_t peer;         /* slot in n->peers; -1 until a HELLO named it */
	int32_t close_err;    /* DEAD: why (-errno), for the peer's requests */
	uint64_t epoch;       /* the other side's epoch, once UP */
	uint64_t t_open_ns;
	uint8_t nonce[CHI_NET_NONCE]; /* ours: nonce_s (incoming) or nonce_c (outgoing) */
	ucs_status_t ep_err;  /* set by the error handler */
	uint8_t *batch;       /* the open batch (B1), CHI_NET_BATCH_MAX bytes, or NULL */
	uint32_t batch_len;
} chi_net_conn;

/* ---- peers (peer.c) ---- */
enum chi_net_log_kind { /* logged once per peer between two UPs */
	CHI_NLOG_UNREACHABLE = 1u << 0,
	CHI_NLOG_REFUSED = 1u << 1,
	CHI_NLOG_BADMSG = 1u << 2,
	CHI_NLOG_STALE = 1u << 3,
	CHI_NLOG_TIMEOUT = 1u << 4,
	CHI_NLOG_DOWN = 1u << 5,
	CHI_NLOG_SEND = 1u << 6,
	CHI_NLOG_VERSION = 1u << 7,
};

typedef struct chi_net_peer {
	chi_net_peer_info info;   /* node, host, port fixed; state S1; counters */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint32_t self;
	uint64_t epoch;           /* its epoch from the WELCOME of `out` */
	chi_net_conn *out;        /* our outgoing endpoint to it */
	uint64_t last_rx_ns;      /* any message from it (either endpoint) */
	uint64_t next_ping_ns, next_retry_ns;
	uint32_t logged;          /* chi_net_log_kind bits */
	chi_net_req *rq_head, *rq_tail; /* requests in flight to it, oldest first */
} chi_net_peer;

/* ---- tasks peers send here (serve.c) ---- */
typedef struct chi_net_raw_task {
	chi_task hdr;
	const uint8_t *in;  /* in_size input bytes */
	uint8_t *out;       /* out_size bytes: the REP's payload */
} chi_net_raw_task;

typedef struct chi_net_done { /* a done ring slot (D1, D2) */
	uint64_t seq;
	uint64_t off;
} chi_net_done;

typedef struct chi_net_served {
	struct chi_net_served *next, *prev; /* serve_run (doubly) or serve_wait */
	struct chi_net_served *hnext;      /* serve_hash chain, by fut.off (D2) */
	uint64_t conn_id, id;
	uint32_t peer, submitted;
	chi_net_raw_task t;
	chi_future fut;
	uint8_t *in_copy;  /* inputs kept while the ring is full */
	uint8_t *rep;      /* CHI_NET_REP_HDR + out_size: the reply, outputs in place */
	uint32_t rep_inline; /* rep is rep_buf below (batched), not a malloc of its own */
	uint8_t rep_buf[]; /* a REP of at most CHI_NET_BATCH_ITEM bytes */
} chi_net_served;

struct chi_net {
	/* fixed at start */
	uint32_t node;
	uint64_t epoch;
	chi_client *local;
	chi_cluster_conf cl;      /* cluster section, zeros replaced by defaults */
	uint64_t max_task;
	uint64_t busy_ns;
	uint32_t ucx_ver;
	chi_net_key key;
	uint32_t npeers;
	chi_net_peer peers[CHI_MAX_NODES];
	int self_slot;            /* -1: this node is not in cluster.peers */
	char self_host[CHI_HOST_MAX];
	uint32_t self_port;

	/* UCX (net thread) */
	ucp_context_h ctx;
	ucp_worker_h worker;
	ucp_listener_h listener;
	int worker_fd;
	chi_net_conn *conns[CHI_NET_CONN_MAX];
	uint32_t nconns;
	uint64_t next_conn_id;
	void **closing;           /* ucp_ep_close_nbx requests not yet done */
	uint32_t nclosing, closing_cap;
	uint64_t stray;           /* messages from no known endpoint */
	uint64_t stray_logged_ns;

	/* requests (net thread) */
	chi_net_reqs reqs;

	/* served tasks (net thread) */
	chi_net_served *serve_wait, *serve_wait_tail; /* not submitted yet (ring full) */
	chi_net_served *serve_run, *serve_run_tail;   /* submitted, oldest first */
	chi_net_served **serve_hash; /* CHI_NET_SERVE_MAX buckets: submitted ones by fut.off */
	chi_net_done *done_slots;    /* D1-D3: CHI_NET_SERVE_MAX slots */
	uint64_t done_head;          /* D2: the net thread's */
	uint32_t nserved;
	uint32_t nbatches;        /* conns with an open batch */
	uint32_t serve_lane;      /* V4: the next served task's lane */
	uint32_t serve_fresh;     /* V5: tasks submitted since the last poll */
	uint32_t batch_max;       /* bytes a batch is sent at (CHI_NET_BATCH_BYTES, tests) */
	uint8_t *spare;           /* a batch buffer whose send completed in place */

	/* thread */
	pthread_t thread;
	int thread_started;
	int efd;                  /* eventfd: forwarders (W2) and stop wake the thread */
	uint32_t stop;            /* set by chi_net_stop (release), read by the thread (acquire) */
	uint32_t sleeping;        /* W1/W2 */
	chi_net_req *fwd_top;     /* W2: forwarded requests, newest first */
	uint64_t next_id;         /* request ids: atomic fetch_add by forwarders */
	uint64_t now_ns;          /* the loop's clock, read once per turn */
	uint64_t next_timer_ns;   /* when T3's clock work is due next */
	char done_pad[64];        /* done_tail on a line of its own (calloc aligns 16) */
	uint64_t done_tail;       /* D1: workers' tickets */
	uint32_t done_missed;     /* D1: a push found the ring full (D3) */
	char done_pad2[52];
};

/* peer.c */
chi_net_peer *chi_net_peer_by_node(chi_net *n, uint32_t node);
void chi_net_peer_set_state(chi_net *n, chi_net_peer *p, uint32_t state);
uint32_t chi_net_peer_state(const chi_net_peer *p); /* S1: acquire */
int chi_net_peer_log_once(chi_net_peer *p, uint32_t kind);
/* The net thread is the counters' only writer: a relaxed load and store,
 * not a locked add (9 of them per forwarded task). */
#define CHI_NET_COUNT(p, field, v)                                                   \
	__atomic_store_n(&(p)->info.field,                                            \
			 __atomic_load_n(&(p)->info.field, __ATOMIC_RELAXED) + (v), \
			 __ATOMIC_RELAXED)
void chi_net_peer_rtt(chi_net_peer *p, uint64_t ns);
/* The peer fails (err: -EHOSTDOWN, -ESHUTDOWN ...): every request in flight
 * to it completes with err, its outgoing endpoint closes (with its incoming
 * ones too when close_in), it is DOWN (or REFUSED) and retried after
 * cluster.retry_ms. `why` is logged once. */
void chi_net_peer_fail(chi_net *n, chi_net_peer *p, int err, uint32_t state, int close_in,
		       const char *why);

/* req.c */
int chi_net_reqs_init(chi_net_reqs *r);
void chi_net_reqs_fini(chi_net_reqs *r);
int chi_net_reqs_add(chi_net_reqs *r, chi_net_req *q, chi_net_peer *p);
chi_net_req *chi_net_reqs_find(chi_net_reqs *r, uint64_t id);
void chi_net_reqs_remove(chi_net_reqs *r, chi_net_req *q, chi_net_peer *p);
/* Complete a target (N2: called once per request, after it left the table). */
void chi_net_target_complete(const chi_net_target *t, int64_t result, const uint8_t *out,
			     uint32_t len);
/* Remove q from the table, complete its target with err, count, free it. */
void chi_net_req_fail(chi_net *n, chi_net_req *q, int err);
void chi_net_reqs_fail_peer(chi_net *n, chi_net_peer *p, int err);
/* Requests past their deadline end with -ETIMEDOUT; returns the earliest
 * deadline left (UINT64_MAX: none). */
uint64_t chi_net_reqs_expire(chi_net *n, uint64_t now);
void chi_net_on_rep(chi_net *n, chi_net_conn *c, const chi_net_msg *m);

/* conn.c */
chi_net_conn *chi_net_conn_new(chi_net *n, ucp_ep_h ep, uint32_t outgoing);
chi_net_conn *chi_net_conn_by_ep(chi_net *n, ucp_ep_h ep);
chi_net_conn *chi_net_conn_by_id(chi_net *n, uint64_t id);
int chi_net_connect(chi_net *n, chi_net_peer *p);
/* Take buf (malloc'd, len bytes) and send it on c: 0 or -errno (buf freed either way). */
int chi_net_send(chi_net *n, chi_net_conn *c, void *buf, uint32_t len);
/* Encode m (no payload) into a fresh buffer and send it. */
int chi_net_send_msg(chi_net *n, chi_net_conn *c, chi_net_msg *m);
/* B1: the len-byte message at msg copied into c's batch: 0, or -1 as
 * a full batch whose send failed, c not UP, or no memory */
int chi_net_batch_put(chi_net *n, chi_net_conn *c, const void *msg, uint32_t len);
int chi_net_flush(chi_net *n, chi_net_conn *c); /* B2: send c's open batch */
/* B5: the batch size a cluster of this configuration starts with (this
 * node: self): CHI_NET_BATCH_MAX, or 0 (batches off) when every peer is on
 * this host and UCX_TLS lets UCX use shared memory. */
uint32_t chi_net_batch_default(const chi_cluster_conf *cl, uint32_t self);
void chi_net_flush_all(chi_net *n);             /* B2: every conn's */
void chi_net_conn_kill(chi_net_conn *c, int err); /* mark DEAD; the loop closes it */
void chi_net_conn_close(chi_net *n, chi_net_conn *c, int force);
void chi_net_conns_reap(chi_net *n);               /* close the DEAD ones */
void chi_net_closing_progress(chi_net *n);
void chi_net_on_conn_request(ucp_conn_request_h req, void *arg);

/* hello.c */
void chi_net_hello_start(chi_net *n, chi_net_conn *c); /* incoming: send CHALLENGE */
void chi_net_on_challenge(chi_net *n, chi_net_conn *c, const chi_net_msg *m);
void chi_net_on_hello(chi_net *n, chi_net_conn *c, const chi_net_msg *m);
void chi_net_on_welcome(chi_net *n, chi_net_conn *c, const chi_net_msg *m);
void chi_net_on_refused(chi_net *n, chi_net_conn *c, const chi_net_msg *m);
void chi_net_refuse(chi_net *n, chi_net_conn *c, int code, const char *reason);

/* serve.c */
void chi_net_on_req(chi_net *n, chi_net_conn *c, const chi_net_msg *m);
void chi_net_reply_err(chi_net *n, chi_net_conn *c, uint64_t id, int64_t err);
int chi_net_serve_init(chi_net *n);
/* D2: the next pushed block offset, 1; or 0 when the slot at done_head is
 * not stored yet. */
int chi_net_done_take(chi_net *n, uint64_t *off);
void chi_net_serve_fini(chi_net *n);
/* W3: has a served completion been pushed and not drained? */
int chi_net_serve_any_done(chi_net *n);
/* Submit waiting tasks and reply to the finished ones the done ring names
 * (D2); returns 1 if anything moved. */
int chi_net_serve_poll(chi_net *n);
/* D3: test every running future and reply to the finished ones. */
int chi_net_serve_scan(chi_net *n);
/* V5: after a turn that submitted tasks, poll them for up to
 * CHI_NET_SERVE_SPIN_NS until one completes; 1 if the turn did work. */
int chi_net_serve_spin(chi_net *n);
void chi_net_serve_stop(chi_net *n);

/* recv.c */
ucs_status_t chi_net_on_am(void *arg, const void *header, size_t hlen, void *data, size_t len,
			   const ucp_am_recv_param_t *param);
void chi_net_bad_msg(chi_net *n, chi_net_conn *c, const chi_net_msg *m, int rc, const char *what);

#endif
