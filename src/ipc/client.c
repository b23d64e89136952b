/* src/ipc/client.c: attaching to a runtime's main segment, the client table,
 * lane selection and publication.
 *
 * Client table protocol (chi_client_shm.state): a connecting client CASes a
 * FREE entry to a claim word that carries its pid (CL1, acq_rel: the claim
 * bit 0x80000000 | pid), fills pid, chunks and epoch, then stores LIVE with
 * release (CL1b); so a LIVE entry always holds its own client's pid (it
 * used to become LIVE before its pid was stored: a client killed in
 * between left it LIVE for ever, one delayed there was reaped under the
 * previous client's dead pid). A claim whose pid is gone (its registrant
 * died between CL1 and CL1b) is taken over by the next registrant with the
 * same CAS. The runtime's monitor marks a LIVE entry whose pid is gone DEAD
 * (CL2) and, after reclaiming, FREE again; it ignores claims. Client id =
 * entry index + 1. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "ipc/client.h"

#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chi/log.h"
#include "task/future_ops.h"

int chi_client_bind(chi_client *c, void *base)
{
	/* SG3 in runtime.c: the directory is ready once dir_off is set */
	if (!__atomic_load_n(&((chi_seg_hdr *)base)->dir_off, __ATOMIC_ACQUIRE))
		return -EAGAIN; /* the runtime is still starting */
	c->base = base;
	c->hdr = (chi_seg_hdr *)base;
	c->dir = chi_dir_of(base);
	c->epoch = c->hdr->epoch;
	c->nlanes = c->dir->nlanes;
	c->lanes = (chi_lane_shm *)((char *)base + c->dir->lanes_off);
	uint64_t wakes = (uint64_t)c->dir->ro_pages * CHI_RO_PAGE;
	if (wakes > c->dir->prods_off ||
	    c->dir->lanes_off + (uint64_t)c->nlanes * sizeof(chi_lane_shm) > wakes)
		return -EPROTO; /* a directory this build cannot read */
	c->wakes = (chi_worker_wake *)((char *)base + wakes);
	c->prods = (chi_lane_prod *)((char *)base + c->dir->prods_off);
	c->nwakes = (uint32_t)((c->dir->prods_off - wakes) / sizeof(chi_worker_wake));
	c->busy_wait_ns = c->dir->first_busy_wait_us * 1000ull;
	c->max_sleep_ns = c->dir->max_sleep_us * 1000ull;
	c->max_task_size = c->dir->max_task_size;
	c->ngpus = c->dir->ngpus;
	c->views = calloc(c->nlanes, sizeof(*c->views));
	if (!c->views)
		return -ENOMEM;
	for (uint32_t i = 0; i < c->nlanes; i++)
		chi_lane_views(base, &c->lanes[i], &c->prods[i], c->views[i]);
	return 0;
}

void chi_client_unbind(chi_client *c)
{
	free(c->views);
	c->views = NULL;
}

/* A registrant's claim word (CL1): the claim bit and its pid. pids are below
 * 2^22 (pid_max), so they fit. */
#define CLIENT_CLAIM 0x80000000u

int chi_client_register(chi_client *c)
{
	pid_t me = getpid();
	uint32_t claim = CLIENT_CLAIM | ((uint32_t)me & ~CLIENT_CLAIM);
	for (uint32_t i = 0; i < c->dir->max_clients; i++) {
		chi_client_shm *e = chi_client_at(c->base, c->dir->clients_off, i);
		uint32_t st = __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);
		if (st & CLIENT_CLAIM) {
			/* another registrant's: taken over only if its process is
			 * gone (it died between CL1 and CL1b) */
			pid_t p = (pid_t)(st & ~CLIENT_CLAIM);
			if (p == me || kill(p, 0) == 0 || errno != ESRCH)
				continue;
		} else if (st != CHI_CLIENT_FREE) {
			continue;
		}
		/* CL1 */
		if (!__atomic_compare_exchange_n(&e->state, &st, claim, 0, __ATOMIC_ACQ_REL,
						 __ATOMIC_RELAXED))
			continue;
		e->pid = (int32_t)me;
		e->chunks = 0;
		e->chunk_req = 0; /* K5: nothing asked for yet */
		e->chunk_got = 0;
		e->epoch = c->epoch;
		e->attach_ns = chi_now_ns();
		/* CL1b: LIVE only now, with release: whoever sees LIVE (the
		 * reaper's CL2) sees this client's pid */
		__atomic_store_n(&e->state, CHI_CLIENT_LIVE, __ATOMIC_RELEASE);
		c->slot = e;
		c->id = i + 1;
		return 0;
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
	/* threads sharing c check at once: the time is stored before the count
	 * (release) and read after it (acquire), so a thread that sees a count
	 * sees the time it was seen at, or a later one */
	uint64_t seen = __atomic_load_n(&c->last_alive, __ATOMIC_ACQUIRE);
	uint64_t seen_ns = __atomic_load_n(&c->last_alive_ns, __ATOMIC_RELAXED);
	if (alive != seen || !seen_ns) {
		__atomic_store_n(&c->last_alive_ns, now, __ATOMIC_RELAXED);
		__atomic_store_n(&c->last_alive, alive, __ATOMIC_RELEASE);
	} else if (now > seen_ns && now - seen_ns > CHI_HEARTBEAT_DEAD_NS) {
		return -EOWNERDEAD;
	}
	return 0;
}

/* lanes[].worker is a word of the shared segment: one bad write there
 * must not send every producer outside the workers array (docs/
 * reliability.md). The bound is the workers array as this client mapped it
 * at attach (it ends where the lanes begin, layout.h), kept in this
 * process; a bad index wakes nobody, and the lane's worker still finds the
 * entry when its sleep times out (runtime.max_sleep_us). Logged once. */
static int bad_worker_logged;

void chi_client_wake_lane(chi_client *c, uint32_t lane)
{
	if (lane >= c->nlanes)
		return;
	uint32_t wi = __atomic_load_n(&c->lanes[lane].worker, __ATOMIC_RELAXED);
	uint64_t nw = c->nwakes;
	if (wi >= nw) {
		if (!__atomic_exchange_n(&bad_worker_logged, 1, __ATOMIC_RELAXED))
			chi_log(CHI_LOG_ERROR, "lane %u names worker %u of %llu: not woken", lane,
				wi, (unsigned long long)nw);
		return;
	}
	chi_worker_wake *w = &c->wakes[wi];
	/* W3: seq_cst load after the seq_cst publish (P4); pairs with W1 */
	if (__atomic_load_n(&w->sleeping, __ATOMIC_SEQ_CST)) {
		__atomic_fetch_add(&w->sleep_futex, 1, __ATOMIC_SEQ_CST); /* W4 */
		chi_futex_wake(&w->sleep_futex, 1);
	}
}

/* A blocking submit's check while the ring is full (chi_lane_submit): a
 * stop refuses it at once (-ESHUTDOWN, as before it waited), and every
 * 10 ms it asks what a waiter asks between its sleep slices
 * (chi_client_check_runtime: epoch, owner pid, heartbeat), so a runtime
 * that died ends the submit with -EOWNERDEAD in the bound a wait has. */
typedef struct submit_watch {
	chi_client *c;
	uint64_t next_ns; /* when to ask about the runtime next */
} submit_watch;

#define SUBMIT_CHECK_NS (10ull * 1000 * 1000)

static int submit_check(void *arg)
{
	submit_watch *sw = arg;
	chi_client *c = sw->c;
	if (__atomic_load_n(&c->hdr->stopping, __ATOMIC_ACQUIRE))
		return -ESHUTDOWN;
	uint64_t now = chi_now_ns();
	if (now < sw->next_ns)
		return 0;
	sw->next_ns = now + SUBMIT_CHECK_NS;
	return chi_client_check_runtime(c);
}

int chi_client_publish(chi_client *c, uint32_t lane, uint32_t prio, uint64_t off, int try_only)
{
	const chi_ring_view *r = &c->views[lane][prio];
	chi_offptr p = chi_offptr_make(CHI_SEG_ID_MAIN, off);
	int rc;
	if (try_only) {
		rc = chi_lane_try_submit(r, p, 1, c->id);
		if (rc == -EAGAIN)
			__atomic_fetch_add(&c->prods[lane].queue_full, 1, __ATOMIC_RELAXED);
	} else {
		submit_watch sw = {c, 0};
		rc = chi_lane_submit(r, p, 1, c->id, &c->prods[lane].queue_full, submit_check, &sw);
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

/* RO1 (ipc/layout.h): map the runtime's pages read-only in this process, so
 * that a stray write there faults here instead of reaching the runtime.
 * Best effort: a page size other than RO1's, or a directory whose pages do
 * not fit the segment, leaves the mapping as it is (logged once). */
static void protect_runtime_pages(chi_client *c)
{
	static int logged;
	uint64_t end = (uint64_t)c->dir->ro_pages * CHI_RO_PAGE;
	long page = sysconf(_SC_PAGESIZE);
	int rc = -EINVAL;
	if (page == (long)CHI_RO_PAGE && c->dir->ro_pages > 1 && end <= c->seg.size)
		rc = mprotect((char *)c->base + CHI_RO_PAGE, end - CHI_RO_PAGE, PROT_READ) ? -errno : 0;
	if (rc && !__atomic_exchange_n(&logged, 1, __ATOMIC_RELAXED))
		chi_log(CHI_LOG_WARN, "the runtime's pages stay writable in this client (%s)",
			chi_strerror(rc));
}

/* RO2 (ipc/layout.h): once registered, the client table is read-only in
 * this process but for this client's own entry. Best effort, as RO1. */
static void protect_client_table(chi_client *c)
{
	static int logged;
	uint64_t off = c->dir->clients_off, len = (uint64_t)c->dir->max_clients * CHI_CLIENT_STRIDE;
	char *own = (char *)c->slot;
	int rc = -EINVAL;
	if (sysconf(_SC_PAGESIZE) == (long)CHI_RO_PAGE && off % CHI_RO_PAGE == 0 &&
	    off + len <= c->seg.size && ((uintptr_t)own & (CHI_RO_PAGE - 1)) == 0) {
		rc = mprotect((char *)c->base + off, len, PROT_READ) ? -errno : 0;
		if (!rc && mprotect(own, CHI_CLIENT_STRIDE, PROT_READ | PROT_WRITE))
			rc = -errno; /* its own entry must stay writable: undo */
		if (rc)
			mprotect((char *)c->base + off, len, PROT_READ | PROT_WRITE);
	}
	if (rc && !__atomic_exchange_n(&logged, 1, __ATOMIC_RELAXED))
		chi_log(CHI_LOG_WARN, "other clients' entries stay writable in this client (%s)",
			chi_strerror(rc));
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
		rc = -EAGAIN; /* SG4: the runtime is still starting */
		goto fail_close;
	}
	rc = chi_client_bind(c, c->seg.base);
	if (rc)
		goto fail_close;
	protect_runtime_pages(c);
	rc = chi_client_register(c);
	if (rc)
		goto fail_unbind;
	protect_client_table(c);
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

uint32_t chi_client_lanes(const chi_client *c)
{
	return c->nlanes;
}
