/* src/ipc/submit.c: making futures. A copy future serializes the task into a
 * future block (F0, proto/future.h) and publishes the block's offset on a
 * lane (P0-P4, proto/ring.h). Pointer futures (zero copy, made on a
 * worker thread) and chi_make_future / chi_call, which choose between the
 * two, are the runtime's (src/runtime/worker.c). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chi/chi.h"
#include "chi/modules/admin.h"
#include "ipc/client.h"
#include "task/future_ops.h"

void chi_future_set_handle(chi_future *f, chi_client *c, chi_future_shm *fs, uint64_t off,
			   chi_task *t, const chi_codec *codec, uint32_t kind)
{
	f->shm = fs;
	f->client = c;
	f->task = t;
	f->codec = codec;
	f->off = off;
	f->kind = kind;
	f->state = 0;
}

/* Allocate the blocks of a copy future for `t` and serialize it (F0) for
 * `lane`; nothing is published. 0 and *off_out, *data_out (the data
 * block, 0: none) and *wire_out (its size), or an error with nothing held. */
static int prepare_copy(chi_client *c, chi_task *t, const chi_codec *codec, uint32_t lane,
			uint64_t *off_out, uint64_t *data_out, uint64_t *wire_out)
{
	if (!t || !codec)
		return -EINVAL;
	uint64_t max = c->max_task_size;
	if (t->in_size > max || t->out_size > max)
		return -EMSGSIZE;
	uint64_t wire = chi_task_wire_size(t->in_size, t->out_size);

	uint64_t off = chi_client_alloc(c, CHI_FUTURE_BLOCK);
	if (!off)
		return -ENOMEM;
	chi_future_shm *fs = (chi_future_shm *)((char *)c->base + off);
	uint64_t data = 0;
	uint32_t cap = CHI_COPY_SPACE;
	uint8_t *buf = fs->copy_space;
	if (wire > CHI_COPY_SPACE) {
		data = chi_client_alloc(c, wire);
		if (!data) {
			chi_client_free(c, off, CHI_FUTURE_BLOCK);
			return -ENOMEM;
		}
		cap = (uint32_t)chi_alloc_class_size(wire);
		buf = (uint8_t *)c->base + data;
	}
	/* F0: plain stores, published by the slot's release (P4) */
	chi_future_block_init(fs, CHI_FUTURE_COPY_FROM_CLIENT, t->out_size,
			      data ? chi_offptr_make(CHI_SEG_ID_MAIN, data) : CHI_OFFPTR_NULL,
			      data ? cap : 0, 0, c->id, lane);
	memcpy(buf, t, sizeof(chi_task));
	chi_ar a;
	chi_ar_init(&a, buf + sizeof(chi_task), t->in_size);
	int rc = codec->ser_in(&a, t);
	if (!rc && a.pos != t->in_size)
		rc = -EINVAL; /* the serializer disagrees with the declared in_size */
	if (rc) {
		if (data)
			chi_client_free(c, data, wire);
		chi_client_free(c, off, CHI_FUTURE_BLOCK);
		return rc;
	}
	*off_out = off;
	*data_out = data;
	*wire_out = wire;
	return 0;
}

static void unprepare_copy(chi_client *c, uint64_t off, uint64_t data, uint64_t wire)
{
	if (data)
		chi_client_free(c, data, wire);
	chi_client_free(c, off, CHI_FUTURE_BLOCK);
}

static int make_copy(chi_client *c, chi_task *t, const chi_codec *codec, chi_future *f,
		     int try_only, uint32_t lane)
{
	if (!c || !t || !codec || !f)
		return -EINVAL;
	if (__atomic_load_n(&c->hdr->stopping, __ATOMIC_RELAXED))
		return -ESHUTDOWN;
	if (lane == UINT32_MAX)
		lane = chi_client_pick_lane(c);
	else if (lane >= c->nlanes)
		return -EINVAL;
	uint64_t off, data, wire;
	int rc = prepare_copy(c, t, codec, lane, &off, &data, &wire);
	if (rc)
		return rc;
	rc = chi_client_publish(c, lane, (t->flags & CHI_TASK_BULK) ? 1 : 0, off, try_only);
	if (rc) {
		unprepare_copy(c, off, data, wire);
		return rc;
	}
	chi_future_set_handle(f, c, (chi_future_shm *)((char *)c->base + off), off, t, codec,
			      CHI_FUT_COPY);
	return 0;
}

int chi_make_copy_future(chi_client *c, chi_task *t, const chi_codec *codec, chi_future *f)
{
	return make_copy(c, t, codec, f, 0, UINT32_MAX);
}

int chi_try_make_copy_future(chi_client *c, chi_task *t, const chi_codec *codec, chi_future *f)
{
	return make_copy(c, t, codec, f, 1, UINT32_MAX);
}

int chi_try_make_copy_future_on(chi_client *c, uint32_t lane, chi_task *t, const chi_codec *codec,
				chi_future *f)
{
	return make_copy(c, t, codec, f, 1, lane);
}

/* ---- batch submit (chi_make_copy_futures) ----
 *
 * The ring protocol (include/chi/proto/ring.h) claims one ticket per CAS
 * of the claim counter; a batch claims m consecutive tickets with one CAS
 * (t -> t + m) after P0 has seen the slot of ticket t + m - 1 free for its
 * lap. That one acquire load is enough for all m slots: the single consumer
 * frees slots in ticket order (C3, store-release), so the free of t + m - 1
 * comes after the frees of t .. t + m - 2 in its program order. Which
 * tickets are free from t on is a prefix, so a binary search finds the most
 * that can be claimed at once. Then P2 (mark) for every slot, P3-P4 for
 * every slot in ticket order (the ring has one control word per slot; a
 * CPU lane has no multi-task entry), one wake (W3-W4). A producer dying in
 * between leaves holes that holes.c attributes by the marks as for single
 * claims. */
#define BATCH_RUN 64u

static int slot_free(const chi_ring_view *r, uint64_t t)
{
	uint64_t ctl = __atomic_load_n(&r->slots[t & r->mask].ctl, __ATOMIC_ACQUIRE); /* P0 */
	return chi_slot_lap(ctl) == (uint32_t)(t >> r->shift) &&
	       chi_slot_state(ctl) == CHI_SLOT_EMPTY;
}

/* Claim up to `want` consecutive tickets: 0 and *ticket, *got (>= 1), or
 * -EAGAIN when the ring is full. */
static int claim_run(const chi_ring_view *r, uint32_t want, uint64_t *ticket, uint32_t *got)
{
	if (want > r->mask + 1)
		want = r->mask + 1;
	if (want > 64)
		want = 64; /* publish_run's mark mask */
	uint64_t t = __atomic_load_n(r->tail, __ATOMIC_RELAXED);
	for (;;) {
		if (!slot_free(r, t)) {
			uint64_t ctl = __atomic_load_n(&r->slots[t & r->mask].ctl, __ATOMIC_RELAXED);
			if ((int32_t)(chi_slot_lap(ctl) - (uint32_t)(t >> r->shift)) < 0)
				return -EAGAIN; /* previous lap not consumed */
			t = __atomic_load_n(r->tail, __ATOMIC_RELAXED); /* another producer won it */
			continue;
		}
		uint32_t lo = 1, hi = want;
		while (lo < hi) {
			uint32_t mid = lo + (hi - lo + 1) / 2;
			if (slot_free(r, t + mid - 1))
				lo = mid;
			else
				hi = mid - 1;
		}
		if (__atomic_compare_exchange_n(r->tail, &t, t + lo, 0, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED)) { /* P1 */
			*ticket = t;
			*got = lo;
			return 0;
		}
	}
}

/* Publish the m prepared blocks offs[0..m) on (lane, prio), waiting with
 * backoff while the ring is full; 0, or the error that ended the wait with
 * *done blocks published (the others still the caller's). */
static int publish_run(chi_client *c, uint32_t lane, uint32_t prio, const uint64_t *offs,
		       uint32_t m, uint32_t *done)
{
	const chi_ring_view *r = &c->views[lane][prio];
	uint32_t i = 0, backoff = 0;
	uint64_t next_check = 0;
	*done = 0;
	while (i < m) {
		uint64_t t;
		uint32_t got;
		if (claim_run(r, m - i, &t, &got) == 0) {
			uint64_t marked = 0; /* got <= 64 (claim_run) */
			for (uint32_t j = 0; j < got; j++)
				if (chi_ring_mark_claim(r, t + j, c->id)) /* P2 */
					marked |= 1ull << j;
			uint32_t k = 0; /* RV1: a revoked ticket's block waits for the next run */
			for (uint32_t j = 0; j < got; j++)
				if (marked >> j & 1)
					chi_ring_publish(r, t + j,
							 chi_offptr_make(CHI_SEG_ID_MAIN, offs[i + k++]), 1,
							 c->id); /* P3-P4 */
			i += k;
			*done = i;
			chi_client_wake_lane(c, lane); /* once per claimed run */
			backoff = 0;
			continue;
		}
		/* full: the worker was woken by the last run; back off as
		 * chi_lane_submit does, asking about the runtime every 10 ms */
		if (backoff == 0)
			__atomic_fetch_add(&c->prods[lane].queue_full, 1, __ATOMIC_RELAXED);
		if (__atomic_load_n(&c->hdr->stopping, __ATOMIC_ACQUIRE))
			return -ESHUTDOWN;
		uint64_t now = chi_now_ns();
		if (now >= next_check) {
			next_check = now + 10ull * 1000 * 1000;
			int rc = chi_client_check_runtime(c);
			if (rc)
				return rc;
		}
		if (backoff < 64) {
			for (unsigned s = 0; s < (1u << (backoff < 8 ? backoff : 8)); s++)
				chi_cpu_relax();
		} else if (backoff < 128) {
			sched_yield();
		} else {
			struct timespec ts = {0, 20000};
			nanosleep(&ts, NULL);
		}
		backoff++;
	}
	return 0;
}

int chi_make_copy_futures(chi_client *c, chi_task *const *ts, const chi_codec *const *codecs,
			  chi_future *fs, size_t n)
{
	if (!c || !ts || !codecs || !fs)
		return -EINVAL;
	if (n == 0)
		return 0;
	if (n > INT32_MAX)
		n = INT32_MAX; /* the count must fit the result */
	if (__atomic_load_n(&c->hdr->stopping, __ATOMIC_RELAXED))
		return -ESHUTDOWN;
	uint32_t lane = chi_client_pick_lane(c);
	uint64_t offs[BATCH_RUN], datas[BATCH_RUN], wires[BATCH_RUN];
	size_t done = 0;
	while (done < n) {
		/* a run: consecutive tasks of one priority, at most BATCH_RUN */
		uint32_t prio = ts[done] && (ts[done]->flags & CHI_TASK_BULK) ? 1 : 0;
		uint32_t m = 0;
		int err = 0;
		while (m < BATCH_RUN && done + m < n) {
			chi_task *t = ts[done + m];
			if (t && ((t->flags & CHI_TASK_BULK) ? 1u : 0u) != prio)
				break;
			err = prepare_copy(c, t, codecs[done + m], lane, &offs[m], &datas[m],
					   &wires[m]);
			if (err)
				break;
			m++;
		}
		uint32_t pub = 0;
		if (m) {
			int rc = publish_run(c, lane, prio, offs, m, &pub);
			if (rc)
				err = rc;
		}
		for (uint32_t j = 0; j < pub; j++)
			chi_future_set_handle(&fs[done + j], c,
					      (chi_future_shm *)((char *)c->base + offs[j]),
					      offs[j], ts[done + j], codecs[done + j], CHI_FUT_COPY);
		for (uint32_t j = pub; j < m; j++)
			unprepare_copy(c, offs[j], datas[j], wires[j]);
		done += pub;
		if (err)
			return done ? (int)done : err;
	}
	return (int)done;
}

/* ---- chi_pool_lookup: one admin.list_pools round trip ---- */
int chi_pool_lookup(chi_client *c, const char *name, chi_pool_id *id)
{
	if (!c || !name || !id)
		return -EINVAL;
	chi_admin_list_task *t = malloc(sizeof(*t)); /* ~6 KiB of outputs */
	if (!t)
		return -ENOMEM;
	chi_admin_list_init(t);
	chi_future f;
	int64_t rc = chi_make_copy_future(c, &t->hdr, &chi_admin_list_codec, &f);
	if (rc == 0)
		rc = chi_future_wait(&f);
	if (rc >= 0) {
		rc = -ENOENT;
		for (uint32_t i = 0; i < t->count && i < CHI_ADMIN_LIST_MAX; i++) {
			if (!strncmp(t->pools[i].name, name, CHI_POOL_NAME_MAX)) {
				*id = t->pools[i].id;
				rc = 0;
				break;
			}
		}
	}
	free(t);
	return (int)rc;
}
