/* chi/config.h: runtime configuration. Every key has a default (no file is
 * needed); a YAML file (path from --config or CHI_SERVER_CONF) overrides the
 * defaults, and CHI_<SECTION>_<KEY> environment variables override the file
 * (e.g. CHI_RUNTIME_NAME, CHI_RUNTIME_NUM_WORKERS, CHI_GPU_SEGMENT_SIZE).
 * Sizes are integers with an optional K, M or G suffix (powers of 1024). */
#ifndef CHI_CONFIG_H
#define CHI_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CHI_NAME_MAX 48
#define CHI_PATH_MAX 256
#define CHI_MAX_POOLS 64

typedef enum chi_tristate { CHI_AUTO = -1, CHI_OFF = 0, CHI_ON = 1 } chi_tristate;
typedef enum chi_gpu_workers { CHI_GPU_WORKERS_DEDICATED = 0, CHI_GPU_WORKERS_SHARED = 1 } chi_gpu_workers;
#define CHI_NUMA_AUTO (-1)
#define CHI_NUMA_OFF (-2)

typedef struct chi_pool_conf {
	char name[CHI_NAME_MAX];   /* pool name, e.g. "ram0" */
	char module[CHI_NAME_MAX]; /* module name: admin, test, bdev, or a user module */
	uint32_t id;               /* pool id */
	char path[CHI_PATH_MAX];   /* bdev: backing file ("" = RAM) */
	uint64_t size;             /* bdev: capacity in bytes */
	int32_t node;              /* pools[].node: the pool's home node
				    * (cluster.node of the runtime that runs it);
				    * CHI_NODE_ANY (-1, the default): every
				    * runtime runs its own instance */
} chi_pool_conf;

/* Several nodes (docs/cluster.md). cluster.node -1 (the default): no cluster,
 * no net thread, one node exactly as without UCX. */
#define CHI_NODE_ANY (-1)
#define CHI_MAX_NODES 64     /* peers in cluster.peers, this node included */
#define CHI_HOST_MAX 64

typedef struct chi_peer_conf {
	uint32_t node;             /* cluster.peers[].node */
	char host[CHI_HOST_MAX];   /* cluster.peers[].host: an address (127.0.0.1) or name */
	uint32_t port;             /* cluster.peers[].port: its listening port */
} chi_peer_conf;

typedef struct chi_cluster_conf {
	int32_t node;              /* cluster.node, -1 = no cluster */
	char listen[CHI_HOST_MAX]; /* cluster.listen, "" = the address of this node's
				    * entry in peers (else 0.0.0.0) */
	uint32_t port;             /* cluster.port, 0 = this node's entry in peers */
	char key_file[CHI_PATH_MAX]; /* cluster.key_file: the shared key, a file of
				      * mode 0600 (required when node >= 0) */
	char hosts_file[CHI_PATH_MAX]; /* cluster.hosts_file: "node host port" lines,
					* added to peers ("" = none) */
	uint32_t heartbeat_ms;     /* cluster.heartbeat_ms, 500 */
	uint32_t peer_timeout_ms;  /* cluster.peer_timeout_ms, 3000: a peer silent
				    * this long is down */
	uint32_t task_timeout_ms;  /* cluster.task_timeout_ms, 30000: a remote task's
				    * deadline */
	uint32_t retry_ms;         /* cluster.retry_ms, 500: reconnect period */
	uint32_t npeers;
	chi_peer_conf peers[CHI_MAX_NODES]; /* cluster.peers (this node may be listed) */
} chi_cluster_conf;

#define CHI_CPU_WORKERS 4u /* runtime.num_workers auto: the CPU lanes' workers */

typedef struct chi_config {
	/* runtime */
	char name[CHI_NAME_MAX];       /* runtime.name, default "chi" */
	char module_path[CHI_PATH_MAX]; /* runtime.module_path: where user modules are found
					   (':'-separated directories; "" = none) */
	uint32_t num_workers;          /* runtime.num_workers, 0 = auto: CHI_CPU_WORKERS for the
					  CPU lanes plus, with gpu.workers dedicated, one per GPU
					  lane and its lane helpers */
	uint32_t queue_depth;          /* runtime.queue_depth, 1024 (power of two) */
	uint32_t lanes;                /* runtime.lanes, 0 = one per worker */
	uint64_t first_busy_wait_us;   /* runtime.first_busy_wait_us, 10000 */
	uint64_t max_sleep_us;         /* runtime.max_sleep_us, 50000 */
	uint32_t bulk_every;           /* runtime.bulk_every, 16 */
	uint32_t hole_timeout_ms;      /* runtime.hole_timeout_ms, 100 */
	/* memory */
	uint64_t main_segment_size;    /* memory.main_segment_size, 0 = auto */
	uint64_t max_task_size;        /* memory.max_task_size, 1M */
	/* gpu */
	chi_tristate gpu_enabled;      /* gpu.enabled, auto */
	uint64_t gpu_segment_size;     /* gpu.segment_size, 0 = auto (what the queues and data blocks need) */
	uint32_t gpu_queue_depth;      /* gpu.queue_depth, 0 = auto (SMs x 128 per lane, docs/gpu.md) */
	uint32_t gpu_lanes;            /* gpu.lanes, 1 */
	uint32_t gpu_clients;          /* gpu.clients, 4: GPU clients per GPU at once */
	chi_gpu_workers gpu_workers;   /* gpu.workers, dedicated */
	int gpu_numa;                  /* gpu.numa: CHI_NUMA_AUTO, CHI_NUMA_OFF or a node */
	uint64_t gpu_max_sleep_us;     /* gpu.max_sleep_us, 100: longest sleep of a
					* worker with GPU lanes (0: never sleeps) */
	uint32_t gpu_lane_helpers;     /* gpu.lane_helpers, 0: workers per GPU lane,
					* besides its owner, that run the packed
					* warp batches the owner hands them */
	/* cluster */
	chi_cluster_conf cluster;
	/* pools */
	uint32_t npools;
	chi_pool_conf pools[CHI_MAX_POOLS];
} chi_config;

/* Fill every key with its default (including the default pools). */
void chi_config_defaults(chi_config *c);

/* Load: defaults, then the YAML file `path` (NULL: $CHI_SERVER_CONF if set,
 * else no file), then CHI_<SECTION>_<KEY> environment overrides.
 * On error returns a negative errno and writes a message naming the key and
 * the file line (or the environment variable) into err. */
int chi_config_load(chi_config *c, const char *path, char *err, size_t errlen);

/* Parse YAML text already in memory (used by chi_config_load and the fuzzer).
 * `origin` names the source in messages. Does not apply defaults. */
int chi_config_parse(chi_config *c, const char *text, size_t len, const char *origin,
		     char *err, size_t errlen);

/* Apply CHI_<SECTION>_<KEY> overrides from the environment. */
int chi_config_apply_env(chi_config *c, char *err, size_t errlen);

/* Check cross-key rules (power-of-two depths, non-zero workers...). */
int chi_config_validate(const chi_config *c, char *err, size_t errlen);

/* Parse a size with optional K/M/G suffix. -EINVAL on junk or overflow. */
int chi_parse_size(const char *s, uint64_t *out);

/* Write the effective configuration as YAML (chi config --print). */
int chi_config_print(const chi_config *c, char *buf, size_t len);

#endif
