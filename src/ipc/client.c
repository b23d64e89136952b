/* src/ipc/client.c: attaching to a runtime's main segment, the client table,
 * lane selection and publication.
 *
 * Client table protocol (chi_client_shm.state): a connecting client CASes a
 * FREE entry to LIVE (CL1, acq_rel), then fills pid and epoch; the runtime's
 * monitor marks a LIVE entry whose pid is gone DEAD (CL2) and, after
 * reclaiming, FREE again. Client id = entry index + 1. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "ipc/client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "task/future_ops.h"

int chi_client_bind(chi_client *c, void *base)
{
	/* S1' in runtime.c: the directory is ready once dir_off is set */
	if (!__atomic_load_n(&((chi_seg_hdr *)base)->dir_off, __ATOMIC_ACQUIRE))
		return -EAGAIN; /* the runtime is still starting */
	c->base = base;
	c->hdr = (chi_seg_hdr *)base;
	c->dir = chi_dir_of(base);
	c->epoch = c->hdr->epoch;
	c->nlanes = c->dir->nlanes;
	c->lanes = (chi_lane_shm *)((char *)base + c->dir->lanes_off);
	c->workers = (chi_worker_shm *)((char *)base + c->dir->workers_off);
	c->busy_wait_ns = c->dir->first_busy_wait_us * 1000ull;
	c->max_sleep_ns = c->dir->max_sleep_us * 1000ull;
	c->views = calloc(c->nlanes, sizeof(*c->views));
	if (!c->views)
		return -ENOMEM;
	for (uint32_t i = 0; i < c->nlanes; i++)
		chi_lane_views(base, &c->lanes[i], c->views[i]);
	return 0;
}

void chi_client_unbind(chi_client *c)
{
	free(c->views);
	c->views = NULL;
}

int chi_client_register(chi_client *c)
{
	chi_client_shm *tab = (chi_client_shm *)((char *)c->base + c->dir->clients_off);
	for (uint32_t i = 0; i < c->dir->max_clients; i++) {
		uint32_t expect = CHI_CLIENT_FREE;
		/* CL1 */
		if (__atomic_compare_exchange_n(&tab[i].state, &expect, CHI_CLIENT_LIVE, 0,
						__ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
			tab[i].pid = (int32_t)getpid();
			tab[i].chunks = 0;
			tab[i].epoch = c->epoch;
			tab[i].attach_ns = chi_now_ns();
			c->slot = &tab[i];
			c->id = i + 1;
			return 0;
		}
	}
	return -EUSERS;
}

int chi_client_check_runtime(chi_client *c)
{
	const chi_seg_hdr *h = c->hdr;
	if (__atomic_load_n(&h->epoch, __ATOMIC_ACQUIRE) != c->epoch)
		return -EOWNERDEAD;
	if (__atomic_load_n(&h->stopping, __ATOMIC_ACQUIRE) >= CHI_STOP_DRAINED)
		return -ESHUTDOWN;
	if (c->embedded)
		return 0;
	if (!chi_seg_owner_alive(h))
		return -EOWNERDEAD;
	/* a killed runtime may linger as a zombie that kill(pid, 0) still
	 * finds: its monitor's heartbeat (every 10 ms) tells */
	uint64_t alive = __atomic_load_n(&h->alive, __ATOMIC_ACQUIRE), now = chi_now_ns();
	if (alive != c->last_alive || !c->last_alive_ns) {
		c->last_alive = alive;
		c->last_alive_ns = now;
	} else if (now - c->last_alive_ns > CHI_HEARTBEAT_DEAD_NS) {
		return -EOWNERDEAD;
	}
	return 0;
}

void chi_client_wake_lane(chi_client *c, uint32_t lane)
{
	chi_worker_shm *w = &c->workers[c->lanes[lane].worker];
	/* W3: seq_cst load after the seq_cst publish (P4); pairs with W1 */
	if (__atomic_load_n(&w->sleeping, __ATOMIC_SEQ_CST)) {
		__atomic_fetch_add(&w->sleep_futex, 1, __ATOMIC_SEQ_CST); /* W4 */
		chi_futex_wake(&w->sleep_futex, 1);
	}
}

int chi_client_publish(chi_client *c, uint32_t lane, uint32_t prio, uint64_t off, int try_only)
{
	const chi_ring_view *r = &c->views[lane][prio];
	chi_offptr p = chi_offptr_make(CHI_SEG_ID_MAIN, off);
	int rc;
	if (try_only) {
		rc = chi_lane_try_submit(r, p, 1, c->id);
		if (rc == -EAGAIN)
			__atomic_fetch_add(&c->lanes[lane].queue_full, 1, __ATOMIC_RELAXED);
	} else {
		rc = chi_lane_submit(r, p, 1, c->id, &c->lanes[lane].queue_full, &c->hdr->stopping);
	}
	if (rc == 0)
		chi_client_wake_lane(c, lane);
	return rc;
}

static __thread uint32_t tls_lane_seq = UINT32_MAX;
static uint32_t lane_counter;

uint32_t chi_client_pick_lane(chi_client *c)
{
	if (tls_lane_seq == UINT32_MAX)
		tls_lane_seq = __atomic_fetch_add(&lane_counter, 1, __ATOMIC_RELAXED);
	return tls_lane_seq % c->nlanes;
}

int chi_client_connect(const char *name, chi_client **out)
{
	char shm_name[CHI_SEG_NAME_MAX];
	if (!name)
		name = getenv("CHI_RUNTIME_NAME");
	if (!name || !*name)
		name = "chi";
	int rc = chi_shm_name(shm_name, sizeof(shm_name), name, "main", -1);
	if (rc)
		return rc;
	chi_client *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	rc = chi_seg_open(&c->seg, shm_name);
	if (rc)
		goto fail_free;
	if (!chi_seg_owner_alive(chi_seg_hdr_of(&c->seg)) ||
	    __atomic_load_n(&chi_seg_hdr_of(&c->seg)->stopping, __ATOMIC_ACQUIRE)) {
		rc = -ECONNREFUSED; /* stale segment of a dead or stopping runtime */
		goto fail_close;
	}
	if (!__atomic_load_n(&chi_seg_hdr_of(&c->seg)->ready, __ATOMIC_ACQUIRE)) {
		rc = -EAGAIN; /* S3: the runtime is still starting */
		goto fail_close;
	}
	rc = chi_client_bind(c, c->seg.base);
	if (rc)
		goto fail_close;
	rc = chi_client_register(c);
	if (rc)
		goto fail_unbind;
	*out = c;
	return 0;
fail_unbind:
	chi_client_unbind(c);
fail_close:
	chi_seg_close(&c->seg);
fail_free:
	free(c);
	return rc;
}

void chi_client_close(chi_client *c)
{
	if (!c || c->embedded) /* the embedded runtime's own client closes with it */
		return;
	/* the runtime returns its chunks once the lanes have moved past it */
	if (c->slot)
		__atomic_store_n(&c->slot->state, CHI_CLIENT_CLOSED, __ATOMIC_RELEASE);
	chi_client_unbind(c);
	chi_seg_close(&c->seg);
	free(c);
}

int chi_client_owner_pid(const chi_client *c)
{
	return c->hdr->owner_pid;
}

uint32_t chi_client_id(const chi_client *c)
{
	return c->id;
}
