/* src/ipc/client.h: a client's process-local state: its mapping of the main
 * segment and the resolved views of every lane. */
#ifndef CHI_SRC_IPC_CLIENT_H
#define CHI_SRC_IPC_CLIENT_H

#include "chi/chi.h"
#include "ipc/layout.h"
#include "queue/lane.h"
#include "shm/shm.h"

/* chi_future.kind */
#define CHI_FUT_COPY 0u
#define CHI_FUT_POINTER 1u

struct chi_client {
	chi_seg seg;        /* this client's mapping (remote clients only) */
	void *base;
	chi_seg_hdr *hdr;
	chi_main_dir *dir;
	chi_lane_shm *lanes;
	chi_worker_shm *workers;
	chi_client_shm *slot;
	chi_ring_view (*views)[CHI_NPRIO];
	uint32_t nlanes;
	uint32_t id;        /* 1-based; 0 means "none" in slots */
	uint64_t epoch;
	uint64_t busy_wait_ns;
	uint64_t max_sleep_ns;
	chi_runtime *rt;    /* set for the embedded runtime's own client */
	uint64_t cur_chunk;     /* chunk this client allocates from (chunk.c) */
	uint64_t last_alive;    /* runtime heartbeat last seen, and when */
	uint64_t last_alive_ns;
};

/* Map the directory of `base` into `c` (views, sizes); no registration. */
int chi_client_bind(chi_client *c, void *base);
void chi_client_unbind(chi_client *c);
/* Register in the client table: CAS a free entry to LIVE. */
int chi_client_register(chi_client *c);
/* Is the runtime behind this client still the one it attached to? 0 if yes,
 * -ESHUTDOWN if it stopped, -EOWNERDEAD if it died (pid gone, or heartbeat
 * still for CHI_HEARTBEAT_DEAD_NS) or restarted. */
int chi_client_check_runtime(chi_client *c);
/* A heartbeat that has not moved for this long means the runtime is dead. */
#define CHI_HEARTBEAT_DEAD_NS (2000ull * 1000 * 1000)
/* Allocate / free a block in the main segment's arena: inside the client's
 * own chunks for clients of other processes (chunk.c). */
uint64_t chi_client_alloc(chi_client *c, uint64_t size);
void chi_client_free(chi_client *c, uint64_t off, uint64_t size);
/* Runtime: give a dead or closed client's chunks back to the main arena;
 * returns how many. */
uint64_t chi_chunks_release(void *base, chi_alloc_hdr *main, uint64_t *head);
/* Wake the worker that owns `lane` if it sleeps (W3-W4 in worker.c). */
void chi_client_wake_lane(chi_client *c, uint32_t lane);
/* Publish a block on a lane at a priority; `try_only` never waits. */
int chi_client_publish(chi_client *c, uint32_t lane, uint32_t prio, uint64_t off, int try_only);
uint32_t chi_client_pick_lane(chi_client *c);

#endif
