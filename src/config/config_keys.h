/* src/config/config_keys.h: the one table of keys and the rules on their
 * values, shared by the three ways a value arrives: the YAML reader
 * (config.c), the CHI_<SECTION>_<KEY> environment (config_env.c) and
 * chi_config_validate (config_keys.c).
 *
 * Every scalar key is one row of chi_cfg_keys: the readers and validation
 * all go through that row, so each rule is written once and every message
 * names the key ("runtime.num_workers") and where the value came from
 * ("config.yaml:3" or "CHI_RUNTIME_NUM_WORKERS"). The setters write into
 * the chi_config they are given; the readers hand them a copy and commit it
 * only on success, so on error the caller's chi_config is unchanged. None of
 * them logs: a message goes to the caller's err/why buffer. */
#ifndef CHI_SRC_CONFIG_CONFIG_KEYS_H
#define CHI_SRC_CONFIG_CONFIG_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chi/config.h"

/* K_PATH: ':'-separated directories; K_FILE: one file ("" = none); K_HOST:
 * an address or host name ("" allowed); K_NODE: a node number or -1. */
enum chi_cfg_kind { K_NAME, K_PATH, K_FILE, K_HOST, K_U32, K_U32_AUTO, K_U64, K_SIZE, K_SIZE_AUTO,
		    K_TRISTATE, K_GPU_WORKERS, K_NUMA, K_NODE };

struct chi_cfg_key {
	const char *section, *name;
	enum chi_cfg_kind kind;
	size_t off;        /* offset of the field in chi_config */
	uint64_t min, max; /* numeric range; K_*_AUTO also allow 0 (auto) */
	bool pow2;         /* non-zero values must be powers of two */
};

extern const struct chi_cfg_key chi_cfg_keys[];
extern const unsigned chi_cfg_nkeys;
/* Top-level keys: the CHI_CFG_NSECTIONS sections of chi_cfg_keys, then the
 * pool list (index CHI_CFG_POOLS). */
#define CHI_CFG_NSECTIONS 4
#define CHI_CFG_POOLS CHI_CFG_NSECTIONS
extern const char *const chi_cfg_roots[CHI_CFG_NSECTIONS + 1];
/* A pool's keys; name, module and id (the first three) are required. */
#define CHI_CFG_NPOOL_KEYS 6
extern const char *const chi_cfg_pool_keys[CHI_CFG_NPOOL_KEYS];
/* cluster.peers: a list of {node, host, port}, all three required; the only
 * key of the cluster section that is not a row of chi_cfg_keys (and has no
 * environment variable: CHI_CLUSTER_HOSTS_FILE names a file of them). */
extern const char *const chi_cfg_peer_keys[3];

/* Where each value came from, for the messages of the rules across keys
 * (a cluster's key file, its port, its pools' nodes), which only the whole
 * configuration can meet: chi_config_load fills one while it reads the
 * file and the environment, so such a message names the line (or the
 * variable) of the key at fault. The public calls pass NULL: no place. */
#define CHI_CFG_MAXKEYS 48
struct chi_cfg_origin {
	const char *file;                        /* the YAML file, or NULL */
	uint32_t line[CHI_CFG_MAXKEYS];          /* key i of chi_cfg_keys: its line (0: not there) */
	bool env[CHI_CFG_MAXKEYS];               /* key i: set by its variable (wins) */
	uint32_t pool_node_line[CHI_MAX_POOLS];  /* pools[i].node: its line (0: not there) */
};

/* chi_config_parse, chi_config_apply_env and chi_config_validate, noting
 * (or naming) where each value came from when o is not NULL. */
int chi_cfg_parse(chi_config *c, const char *text, size_t len, const char *origin,
		  struct chi_cfg_origin *o, char *err, size_t errlen);
int chi_cfg_apply_env(chi_config *c, struct chi_cfg_origin *o, char *err, size_t errlen);
int chi_cfg_validate(const chi_config *c, const struct chi_cfg_origin *o, char *err, size_t errlen);

/* Index of key section.name in chi_cfg_keys, or -1. */
int chi_cfg_key_index(const char *section, const char *name);

/* Write the message to err (if any) and return -EINVAL. */
__attribute__((format(printf, 3, 4)))
int chi_cfg_fail(char *err, size_t errlen, const char *fmt, ...);

/* A value as shown in a message: at most 60 bytes, non-printables as '?'. */
const char *chi_cfg_shown(const char *v, char out[72]);

/* Parse text v into c's field for key k; on failure write why. */
bool chi_cfg_set_key(chi_config *c, const struct chi_cfg_key *k, const char *v, char *why, size_t n);

/* Parse text v into pool key i (an index of chi_cfg_pool_keys) of pc. */
bool chi_cfg_set_pool_key(chi_pool_conf *pc, unsigned i, const char *v, char *why, size_t n);

/* Parse text v into peer key i (an index of chi_cfg_peer_keys) of pc. */
bool chi_cfg_set_peer_key(chi_peer_conf *pc, unsigned i, const char *v, char *why, size_t n);

/* Index of the peer of cl (among the first `upto`) with this node, or -1. */
int chi_cfg_peer_find(const chi_cluster_conf *cl, uint32_t node, unsigned upto);

/* The admin pool runs on every runtime: a node on it is refused. True if
 * pc is the admin pool (its id 0 or its name) and has a node; why says so. */
bool chi_cfg_admin_node(const chi_pool_conf *pc, char *why, size_t n);

/* Names pools[i] and pools[j] (j < i) clash on, or NULL. */
const char *chi_cfg_pool_clash(const chi_config *c, unsigned i, unsigned j);

/* A pool list without the admin pool gets it, appended after the others (so
 * the file's pools keep their indices); one that gives its id or name to
 * another pool is refused. `where` begins the message. */
int chi_cfg_admin_ensure(chi_config *c, const char *where, char *err, size_t errlen);

#endif
