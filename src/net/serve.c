/* src/net/serve.c: tasks peers send here.
 *
 * A REQ that decoded (msg.c checked its lengths and sizes) on an
 * authenticated incoming conn becomes a chi_net_served:
 *   V1  a pool id naming another node (CHI_POOL_NODE) is answered
 *       -EHOSTUNREACH; else the id's node bits are cleared, CHI_TASK_REMOTE
 *       is set (R3 in src/runtime/route.c: never forwarded again), and the
 *       task is submitted through the runtime's own client with the raw
 *       codec below, which copies the input bytes as they came and, at the
 *       wait, the whole output area (out_size bytes) into the reply buffer;
 *   V2  a full ring (-EAGAIN) keeps the task, its inputs copied, in a FIFO
 *       tried again every loop turn (at most CHI_NET_SERVE_MAX tasks queued
 *       and running; beyond that the REQ is answered -EBUSY); any other
 *       submit error is the reply;
 *   V3  each loop turn drains the done ring (D1-D3 in core.h): the worker
 *       that completed a served task pushed its block, which finds the
 *       record (serve_hash); its future is waited (at once), and its REP
 *       sent on the conn the REQ came on (a small one in that conn's batch,
 *       B1 in conn.c), found by id: if that conn is gone the reply is
 *       dropped (its sender has failed the request already, N2).
 *   V4  each task goes to the next CPU lane in turn (one lane per task,
 *       round the runtime's lanes): a peer's tasks are run by every worker,
 *       not by the one that owns the net thread's lane; tasks of one peer
 *       may therefore run in any order, as tasks on several lanes do.
 *   V5  a turn that submitted tasks, with at most CHI_NET_SERVE_SPIN_MAX
 *       of them running, polls the done ring for up to
 *       CHI_NET_SERVE_SPIN_NS until one completes, before the next
 *       progress call: a short task's reply then leaves in the turn its REQ
 *       came in, instead of a progress call later (over tcp a progress call
 *       is a few syscalls, about a microsecond). With more running, replies
 *       leave turn by turn, together (one batch over tcp): the spin would
 *       end at the first completion and send them one by one.
 * A task runs at most once (N1): nothing here resubmits a task that was
 * published. Stop (chi_net_serve_stop) waits the running futures, bounded,
 * and drops their replies (the peers had BYE: their requests ended). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chi/log.h"
#include "net/core.h"
#include "task/future_ops.h"

static int raw_ser_in(chi_ar *a, const chi_task *h)
{
	const chi_net_raw_task *t = (const chi_net_raw_task *)h;
	uint8_t *p = chi_ar_reserve(a, h->in_size);
	if (p && h->in_size)
		memcpy(p, t->in, h->in_size);
	return a->err;
}

static int raw_de_out(chi_ar *a, chi_task *h)
{
	chi_net_raw_task *t = (chi_net_raw_task *)h;
	const uint8_t *p = chi_ar_take(a, h->out_size);
	if (p && h->out_size)
		memcpy(t->out, p, h->out_size);
	return a->err;
}

static const chi_codec raw_codec = {raw_ser_in, NULL, NULL, raw_de_out, sizeof(chi_net_raw_task)};

void chi_net_reply_err(chi_net *n, chi_net_conn *c, uint64_t id, int64_t err)
{
	chi_net_msg r = {0};
	r.type = CHI_NET_REP;
	r.node = n->node;
	r.id = id;
	r.epoch = n->epoch;
	r.result = err;
	if (!n->batch_max) {
		chi_net_send_msg(n, c, &r);
		return;
	}
	uint8_t buf[CHI_NET_REP_HDR];
	chi_net_batch_put(n, c, buf, chi_net_msg_encode(buf, &r)); /* B1 */
}

static void served_free(chi_net *n, chi_net_served *s)
{
	free(s->in_copy);
	if (!s->rep_inline)
		free(s->rep);
	free(s);
	n->nserved--;
}

static uint32_t hash_of(uint64_t off)
{
	return (uint32_t)(((off >> 6) * 0x9E3779B97F4A7C15ull) >> 48) & (CHI_NET_SERVE_MAX - 1u);
}

int chi_net_serve_init(chi_net *n)
{
	n->serve_hash = calloc(CHI_NET_SERVE_MAX, sizeof(*n->serve_hash));
	n->done_slots = calloc(CHI_NET_SERVE_MAX, sizeof(*n->done_slots));
	if (!n->serve_hash || !n->done_slots)
		return -ENOMEM;
	for (uint32_t i = 0; i < CHI_NET_SERVE_MAX; i++)
		n->done_slots[i].seq = i; /* D1: free for lap 0 */
	return 0;
}

void chi_net_serve_fini(chi_net *n)
{
	free(n->serve_hash);
	free(n->done_slots);
	n->serve_hash = NULL;
	n->done_slots = NULL;
}

/* a submitted task: on the running list and in the hash (D2) */
static void run_push(chi_net *n, chi_net_served *s)
{
	s->next = NULL;
	s->prev = n->serve_run_tail;
	if (n->serve_run_tail)
		n->serve_run_tail->next = s;
	else
		n->serve_run = s;
	n->serve_run_tail = s;
	uint32_t b = hash_of(s->fut.off);
	s->hnext = n->serve_hash[b];
	n->serve_hash[b] = s;
}

/* s leaves the running list and the hash */
static void run_unlink(chi_net *n, chi_net_served *s)
{
	chi_net_served **pp = &n->serve_hash[hash_of(s->fut.off)];
	while (*pp != s)
		pp = &(*pp)->hnext;
	*pp = s->hnext;
	if (s->prev)
		s->prev->next = s->next;
	else
		n->serve_run = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		n->serve_run_tail = s->prev;
}

/* D2: the submitted record whose block is off, if its future completed */
static chi_net_served *run_find_done(chi_net *n, uint64_t off)
{
	chi_net_served *s = n->serve_hash[hash_of(off)];
	while (s && s->fut.off != off)
		s = s->hnext;
	return s && chi_future_test(&s->fut) ? s : NULL;
}

/* V4: served tasks go round the CPU lanes, so every worker runs them */
static int submit(chi_net *n, chi_net_served *s)
{
	uint32_t nl = chi_client_lanes(n->local);
	int rc = chi_try_make_copy_future_on(n->local, nl ? n->serve_lane % nl : 0, &s->t.hdr,
					     &raw_codec, &s->fut);
	if (rc != -EAGAIN)
		n->serve_lane++; /* a full lane is tried again first (V2's order) */
	if (!rc)
		s->submitted = 1;
	return rc;
}

void chi_net_on_req(chi_net *n, chi_net_conn *c, const chi_net_msg *m)
{
	chi_net_peer *p = &n->peers[c->peer];
	CHI_NET_COUNT(p, tasks_received, 1);
	if (m->epoch != c->epoch) { /* not the run that said HELLO on this conn */
		chi_net_bad_msg(n, c, m, -ESTALE, "request of another epoch");
		return;
	}
	int32_t node = CHI_POOL_NODE(m->task.pool);
	if (node >= 0 && (uint32_t)node != n->node) { /* V1 */
		chi_net_reply_err(n, c, m->id, -EHOSTUNREACH);
		return;
	}
	if (n->nserved >= CHI_NET_SERVE_MAX) {
		chi_net_reply_err(n, c, m->id, -EBUSY);
		return;
	}
	uint32_t rep_len = chi_net_msg_size(CHI_NET_REP, m->task.out_size);
	int small = n->batch_max && rep_len <= CHI_NET_BATCH_ITEM; /* B1: batched, one allocation */
	chi_net_served *s = calloc(1, sizeof(*s) + (small ? rep_len : 0));
	uint8_t *rep = !s ? NULL : small ? s->rep_buf : malloc(rep_len);
	if (!rep) {
		free(s);
		chi_net_reply_err(n, c, m->id, -ENOMEM);
		return;
	}
	s->rep_inline = (uint32_t)small;
	n->nserved++;
	s->conn_id = c->id;
	s->id = m->id;
	s->peer = (uint32_t)c->peer;
	s->rep = rep;
	s->t.hdr = m->task;
	s->t.hdr.pool = CHI_POOL_BASE(m->task.pool);
	s->t.hdr.flags |= CHI_TASK_REMOTE;
	s->t.in = m->data + sizeof(chi_task);
	s->t.out = rep + CHI_NET_REP_HDR;
	int rc = n->serve_wait ? -EAGAIN : submit(n, s); /* keep the FIFO's order */
	if (rc == 0) {
		run_push(n, s);
		n->serve_fresh = 1; /* V5 */
		return;
	}
	if (rc == -EAGAIN) { /* V2 */
		s->in_copy = malloc(m->task.in_size ? m->task.in_size : 1);
		if (!s->in_copy) {
			chi_net_reply_err(n, c, m->id, -ENOMEM);
			served_free(n, s);
			return;
		}
		memcpy(s->in_copy, s->t.in, m->task.in_size);
		s->t.in = s->in_copy;
		if (n->serve_wait_tail)
			n->serve_wait_tail->next = s;
		else
			n->serve_wait = s;
		n->serve_wait_tail = s;
		return;
	}
	chi_net_reply_err(n, c, m->id, rc);
	served_free(n, s);
}

static void reply(chi_net *n, chi_net_served *s, int64_t result)
{
	chi_net_conn *c = chi_net_conn_by_id(n, s->conn_id);
	if (!c || c->state != CHI_CONN_UP)
		return; /* V3: its sender failed the request already */
	uint32_t out = result >= 0 ? s->t.hdr.out_size : 0;
	chi_net_msg r = {0};
	r.type = CHI_NET_REP;
	r.node = n->node;
	r.id = s->id;
	r.epoch = n->epoch;
	r.result = result;
	r.data_len = out;
	r.data = NULL; /* the outputs are in place already */
	uint32_t len = chi_net_msg_encode(s->rep, &r);
	if (s->rep_inline) { /* B1 */
		chi_net_batch_put(n, c, s->rep, len);
		return;
	}
	uint8_t *buf = s->rep;
	s->rep = NULL; /* the send owns it now */
	chi_net_send(n, c, buf, len);
}

int chi_net_done_take(chi_net *n, uint64_t *off)
{
	chi_net_done *d = &n->done_slots[n->done_head & (CHI_NET_SERVE_MAX - 1u)];
	if (__atomic_load_n(&d->seq, __ATOMIC_ACQUIRE) != n->done_head + 1)
		return 0;
	*off = __atomic_load_n(&d->off, __ATOMIC_RELAXED);
	__atomic_store_n(&d->seq, n->done_head + CHI_NET_SERVE_MAX, __ATOMIC_RELEASE);
	n->done_head++;
	return 1;
}

int chi_net_serve_any_done(chi_net *n)
{
	const chi_net_done *d = &n->done_slots[n->done_head & (CHI_NET_SERVE_MAX - 1u)];
	return __atomic_load_n(&d->seq, __ATOMIC_SEQ_CST) == n->done_head + 1 ||
	       __atomic_load_n(&n->done_missed, __ATOMIC_SEQ_CST); /* W3 */
}

/* the finished record s: waited, replied to, freed */
static void finish(chi_net *n, chi_net_served *s)
{
	run_unlink(n, s);
	int64_t r = chi_future_wait(&s->fut);
	reply(n, s, r);
	served_free(n, s);
}

int chi_net_serve_scan(chi_net *n)
{
	int moved = 0;
	for (chi_net_served *s = n->serve_run, *next; s; s = next) { /* D3, oldest first */
		next = s->next;
		if (chi_future_test(&s->fut)) {
			finish(n, s);
			moved = 1;
		}
	}
	return moved;
}

int chi_net_serve_poll(chi_net *n)
{
	int moved = 0;
	while (n->serve_wait) { /* V2 */
		chi_net_served *s = n->serve_wait;
		int rc = submit(n, s);
		if (rc == -EAGAIN)
			break;
		moved = 1;
		n->serve_wait = s->next;
		if (!n->serve_wait)
			n->serve_wait_tail = NULL;
		if (rc) {
			chi_net_conn *c = chi_net_conn_by_id(n, s->conn_id);
			if (c && c->state == CHI_CONN_UP)
				chi_net_reply_err(n, c, s->id, rc);
			served_free(n, s);
			continue;
		}
		run_push(n, s);
	}
	for (uint64_t off; chi_net_done_take(n, &off);) { /* V3, D2 */
		chi_net_served *s = run_find_done(n, off);
		if (s) {
			finish(n, s);
			moved = 1;
		}
	}
	if (__atomic_load_n(&n->done_missed, __ATOMIC_RELAXED) &&
	    __atomic_exchange_n(&n->done_missed, 0, __ATOMIC_ACQ_REL) && chi_net_serve_scan(n))
		moved = 1; /* D3 */
	return moved;
}

int chi_net_serve_spin(chi_net *n)
{
	if (!n->serve_fresh)
		return 0;
	n->serve_fresh = 0;
	if (n->nserved > CHI_NET_SERVE_SPIN_MAX)
		return 1; /* many running: their replies leave together, turn by turn */
	uint64_t end = chi_now_ns() + CHI_NET_SERVE_SPIN_NS;
	while (n->serve_run && !chi_net_serve_poll(n) && chi_now_ns() < end)
		chi_cpu_relax();
	return 1;
}

void chi_net_serve_stop(chi_net *n)
{
	while (n->serve_wait) {
		chi_net_served *s = n->serve_wait;
		n->serve_wait = s->next;
		served_free(n, s);
	}
	n->serve_wait_tail = NULL;
	uint64_t deadline = chi_now_ns() + 5000000000ull; /* bounded: 5 s for all */
	n->serve_run_tail = NULL;
	while (n->serve_run) {
		chi_net_served *s = n->serve_run;
		n->serve_run = s->next;
		uint64_t now = chi_now_ns();
		int64_t r = chi_future_wait_timeout(&s->fut, now < deadline ? deadline - now : 0);
		if (r == -ETIMEDOUT) {
			/* still running: its block stays the runtime's (released when
			 * the runtime stops); the record is kept, not freed, since the
			 * future still names its task */
			chi_log(CHI_LOG_WARN, "cluster: stop: a task of node %u still runs; its reply is dropped",
				n->peers[s->peer].info.node);
			continue;
		}
		served_free(n, s);
	}
}
