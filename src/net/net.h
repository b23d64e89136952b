/* src/net/net.h: the net layer's contract (several nodes, docs/cluster.md).
 *
 * One net thread per runtime owns a single-threaded UCP worker (UCX active
 * messages). It listens on cluster.port, connects to every peer of
 * cluster.peers (retrying every cluster.retry_ms those not up yet), and
 * carries three kinds of traffic:
 *   - tasks this runtime forwards (chi_net_forward, called by workers): the
 *     serialized task (header + inputs, the wire of include/chi/proto/task.h
 *     as it sits in a future block) is copied, sent, run by the peer, and
 *     its output bytes come back into the target's output area, which the
 *     net thread then completes, exactly once;
 *   - tasks peers send here: the net thread submits them to this runtime
 *     through `local` (the runtime's own client, with a codec that copies
 *     the bytes as they are), sets CHI_TASK_REMOTE on them (so they are never
 *     forwarded again), polls their futures and sends the outputs back;
 *   - hello, heartbeats and goodbyes.
 * Workers never block on the network: chi_net_forward only queues.
 *
 * Semantics (the failure table of docs/cluster.md):
 *   N1  a forwarded task runs at most once: nothing is ever sent twice;
 *   N2  every forwarded target completes exactly once: with the peer's result
 *       and outputs, or with an error: -EHOSTDOWN when the peer's connection
 *       fails or the peer stays silent for cluster.peer_timeout_ms,
 *       -ETIMEDOUT at the task's deadline (cluster.task_timeout_ms),
 *       -ESHUTDOWN when the peer said goodbye (chi stop) or this runtime
 *       stops, -EPROTO / -EBADMSG / -EMSGSIZE / -ENOENT as the peer answered;
 *   N3  a reply for a request that already ended, or from another epoch of
 *       the peer, is dropped and counted (stale);
 *   N4  a message that does not decode is counted, logged once per peer and
 *       kind, answered with an error when it names a request, never trusted;
 *   N5  a peer is accepted only after it proved it holds the cluster key
 *       (cluster.key_file, mode 0600) and its wire version matches; a
 *       refusal is logged with both versions (or "wrong key");
 *   N6  new tasks to a peer that is not up fail at once with -EHOSTDOWN.
 */
#ifndef CHI_SRC_NET_NET_H
#define CHI_SRC_NET_NET_H

#include <stddef.h>
#include <stdint.h>

#include "chi/chi.h"
#include "chi/cluster.h"

typedef struct chi_net chi_net;

/* Where a forwarded task's result goes. Either a future block (f set: the
 * net thread writes the output bytes into out[0..out_size), then completes
 * f with `flags` through chi_future_complete, or chi_future_complete_nowake
 * when `gpu`), or a synchronous caller (f NULL: out written, then *result,
 * then *done = 1 with release; the caller spins on done). */
typedef struct chi_net_target {
	chi_future_shm *f;
	uint64_t flags;
	uint8_t *out;
	uint32_t out_size;
	uint32_t gpu;
	uint32_t *done;
	int64_t *result;
} chi_net_target;

/* Start the net thread of this runtime (cfg->cluster.node >= 0): listen,
 * read the key, start connecting. `epoch` is this runtime's epoch; `local`
 * the client incoming tasks are submitted through. 0 and *out, or a negative
 * errno with a message in err (-ENOENT/-EACCES key file missing or not
 * 0600, -EADDRINUSE port taken, -EINVAL bad peer entry, -ENOTSUP built
 * without UCX). */
int chi_net_start(const chi_config *cfg, uint64_t epoch, chi_client *local, chi_net **out,
		  char *err, size_t errlen);

/* Say goodbye to every peer, complete every forwarded target still waiting
 * with -ESHUTDOWN, stop the thread, free. Call after the workers stopped
 * forwarding (before the local client closes). NULL is fine. */
void chi_net_stop(chi_net *n);

/* This runtime's node id. */
uint32_t chi_net_node(const chi_net *n);

/* Forward the task whose wire is wire[0..len) (header and inputs; the
 * header's out_size is the room at t->out) to `node`. Copies what it needs
 * and returns 0: t then completes later from the net thread (N2). Or
 * returns at once, t untouched: -EHOSTDOWN (peer not up, N6), -EHOSTUNREACH
 * (no such node), -EINVAL (node is this one: the caller runs its own tasks;
 * or len disagrees with the header's in_size), -EMSGSIZE, -ENOMEM. Any
 * thread may call it; it never blocks on the network (a lock-free push,
 * then an eventfd write when the net thread sleeps). */
int chi_net_forward(chi_net *n, uint32_t node, const uint8_t *wire, uint32_t len,
		    const chi_net_target *t);

/* A task this net thread submitted for a peer completed (its future's
 * complete store done): push its block (`off`, its offset in the main
 * segment) on the done ring and wake the thread if it sleeps (D1, W3 in
 * core.h), so its reply leaves at once. Any thread; called once per such
 * task, whatever its result. */
void chi_net_served_done(chi_net *n, uint64_t off);

/* Copy up to max peers' info (every node of cluster.peers, this one
 * included as CHI_PEER_SELF) into out; returns how many. */
uint32_t chi_net_peers(chi_net *n, chi_net_peer_info *out, uint32_t max);

#endif
