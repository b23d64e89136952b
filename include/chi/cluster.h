/* chi/cluster.h: several nodes (docs/cluster.md). A pool's home node comes
 * from its config (pools[].node); CHI_POOL_ON_NODE (chi/proto/task.h) names
 * a node explicitly. What the runtime reports of its peers (admin.peers,
 * `chi status`, `chi stats`) is chi_net_peer_info. */
#ifndef CHI_CLUSTER_H
#define CHI_CLUSTER_H

#include <stdint.h>

#include "chi/config.h"

/* What `chi status` and `chi stats` show of a peer. */
enum chi_peer_state {
	CHI_PEER_DOWN = 0,       /* not connected (retrying) */
	CHI_PEER_CONNECTING = 1, /* connected, hello not done */
	CHI_PEER_UP = 2,
	CHI_PEER_REFUSED = 3,    /* it failed the hello (key, versions): retried */
	CHI_PEER_SELF = 4,       /* this node's own entry */
};
#define CHI_NET_RTT_BUCKETS 32 /* log2 buckets of round trips in ns */

typedef struct chi_net_peer_info {
	uint32_t node, state, port, pad;
	char host[CHI_HOST_MAX];
	uint64_t epoch;           /* the peer's runtime epoch (0: never up) */
	uint64_t tasks_sent;      /* forwarded there */
	uint64_t tasks_done;      /* of those, completed with its reply */
	uint64_t tasks_failed;    /* of those, ended by an error here (N2) */
	uint64_t tasks_received;  /* its tasks run here */
	uint64_t bytes_sent, bytes_received;
	uint64_t errors;          /* messages that did not decode, refusals */
	uint64_t stale;           /* replies dropped (N3) */
	uint64_t connects;        /* times it came up */
	uint64_t in_flight;       /* forwarded, not yet completed */
	uint64_t rtt_count, rtt_sum_ns;
	uint64_t rtt_hist[CHI_NET_RTT_BUCKETS]; /* bucket b: [2^b, 2^(b+1)) ns */
} chi_net_peer_info;

#endif
