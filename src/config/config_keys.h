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

enum chi_cfg_kind { K_NAME, K_PATH, K_U32, K_U32_AUTO, K_U64, K_SIZE, K_SIZE_AUTO, K_TRISTATE,
		    K_GPU_WORKERS, K_NUMA };

struct chi_cfg_key {
	const char *section, *name;
	enum chi_cfg_kind kind;
	size_t off;        /* offset of the field in chi_config */
	uint64_t min, max; /* numeric range; K_*_AUTO also allow 0 (auto) */
	bool pow2;         /* non-zero values must be powers of two */
};

extern const struct chi_cfg_key chi_cfg_keys[];
extern const unsigned chi_cfg_nkeys;
/* Top-level keys: the three sections of chi_cfg_keys, then the pool list. */
extern const char *const chi_cfg_roots[4];
/* A pool's keys; name, module and id (the first three) are required. */
extern const char *const chi_cfg_pool_keys[5];

/* Write the message to err (if any) and return -EINVAL. */
__attribute__((format(printf, 3, 4)))
int chi_cfg_fail(char *err, size_t errlen, const char *fmt, ...);

/* A value as shown in a message: at most 60 bytes, non-printables as '?'. */
const char *chi_cfg_shown(const char *v, char out[72]);

/* Parse text v into c's field for key k; on failure write why. */
bool chi_cfg_set_key(chi_config *c, const struct chi_cfg_key *k, const char *v, char *why, size_t n);

/* Parse text v into pool key i (an index of chi_cfg_pool_keys) of pc. */
bool chi_cfg_set_pool_key(chi_pool_conf *pc, unsigned i, const char *v, char *why, size_t n);

/* Names pools[i] and pools[j] (j < i) clash on, or NULL. */
const char *chi_cfg_pool_clash(const chi_config *c, unsigned i, unsigned j);

/* A pool list without the admin pool gets it, appended after the others (so
 * the file's pools keep their indices); one that gives its id or name to
 * another pool is refused. `where` begins the message. */
int chi_cfg_admin_ensure(chi_config *c, const char *where, char *err, size_t errlen);

#endif
