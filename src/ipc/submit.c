/* src/ipc/submit.c: making futures. A copy future serializes the task into a
 * future block (F0, proto/future.h) and publishes the block's offset on a
 * lane (P0-P4, proto/ring.h). Pointer futures (zero copy, made on a
 * worker thread) and chi_make_future / chi_call, which choose between the
 * two, are the runtime's (src/runtime/worker.c). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <string.h>

#include "chi/chi.h"
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

static int make_copy(chi_client *c, chi_task *t, const chi_codec *codec, chi_future *f,
		     int try_only)
{
	if (!c || !t || !codec || !f)
		return -EINVAL;
	if (__atomic_load_n(&c->hdr->stopping, __ATOMIC_RELAXED))
		return -ESHUTDOWN;
	uint64_t max = c->dir->max_task_size;
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
	uint32_t lane = chi_client_pick_lane(c);
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
	if (!rc)
		rc = chi_client_publish(c, lane, (t->flags & CHI_TASK_BULK) ? 1 : 0, off, try_only);
	if (rc) {
		if (data)
			chi_client_free(c, data, wire);
		chi_client_free(c, off, CHI_FUTURE_BLOCK);
		return rc;
	}
	chi_future_set_handle(f, c, fs, off, t, codec, CHI_FUT_COPY);
	return 0;
}

int chi_make_copy_future(chi_client *c, chi_task *t, const chi_codec *codec, chi_future *f)
{
	return make_copy(c, t, codec, f, 0);
}

int chi_try_make_copy_future(chi_client *c, chi_task *t, const chi_codec *codec, chi_future *f)
{
	return make_copy(c, t, codec, f, 1);
}
