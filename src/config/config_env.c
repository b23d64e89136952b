/* src/config/config_env.c: CHI_<SECTION>_<KEY> environment variables over a
 * chi_config (chi_config_apply_env): each key of the table (config_keys.h)
 * has its variable (runtime.num_workers: CHI_RUNTIME_NUM_WORKERS), read with
 * the same rules as the YAML file; a CHI_RUNTIME_, CHI_MEMORY_, CHI_GPU_ or
 * CHI_CLUSTER_ variable that names no key is an error, so a typo is not
 * silently ignored. cluster.peers (a list) has no variable:
 * CHI_CLUSTER_HOSTS_FILE names a file of them. All or nothing: on error the
 * caller's chi_config is unchanged. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "config_keys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

/* "CHI_" + upper(a) + "_" + upper(b) */
static void env_name(const char *a, const char *b, char *out, size_t n)
{
	snprintf(out, n, "CHI_%s_%s", a, b);
	for (; *out; out++)
		if (*out >= 'a' && *out <= 'z')
			*out = (char)(*out - 'a' + 'A');
}

/* Error if e (its name n bytes long) is CHI_<SECTION>_... but names no key. */
static int env_unknown(const char *e, size_t n, char *err, size_t errlen)
{
	char var[64], low[72], q[72];
	for (unsigned s = 0; s < CHI_CFG_NSECTIONS; s++) {
		size_t plen;
		env_name(chi_cfg_roots[s], "", var, sizeof(var));
		plen = strlen(var);
		if (n < plen || strncmp(e, var, plen))
			continue;
		for (size_t i = 0; i < chi_cfg_nkeys; i++) {
			env_name(chi_cfg_keys[i].section, chi_cfg_keys[i].name, var, sizeof(var));
			if (strlen(var) == n && !strncmp(e, var, n))
				return 0;
		}
		if (!strcmp(chi_cfg_roots[s], "cluster") && n == plen + 5 && !strncmp(e + plen, "PEERS", 5))
			return chi_cfg_fail(err, errlen, "CHI_CLUSTER_PEERS: 'cluster.peers' is a list, "
					    "set in the file or, as lines 'node host port', in the "
					    "file named by CHI_CLUSTER_HOSTS_FILE");
		snprintf(low, sizeof(low), "%.*s", (int)(n - plen < 60 ? n - plen : 60), e + plen);
		for (char *l = low; *l; l++)
			*l = (*l >= 'A' && *l <= 'Z') ? (char)(*l - 'A' + 'a') : *l;
		return chi_cfg_fail(err, errlen, "%.*s: unknown variable: there is no key '%s.%s'",
				    (int)(n < 64 ? n : 64), e, chi_cfg_roots[s], chi_cfg_shown(low, q));
	}
	return 0;
}

int chi_config_apply_env(chi_config *c, char *err, size_t errlen)
{
	return chi_cfg_apply_env(c, NULL, err, errlen);
}

int chi_cfg_apply_env(chi_config *c, struct chi_cfg_origin *o, char *err, size_t errlen)
{
	char var[64], why[160], q[72];
	chi_config *tmp;
	int rc = 0;
	for (char **e = environ; e && *e && rc == 0; e++)
		if (!strncmp(*e, "CHI_", 4))
			rc = env_unknown(*e, strcspn(*e, "="), err, errlen);
	if (rc)
		return rc;
	if (!(tmp = malloc(sizeof(*tmp))))
		return -ENOMEM;
	memcpy(tmp, c, sizeof(*tmp));
	for (size_t i = 0; i < chi_cfg_nkeys && rc == 0; i++) {
		const struct chi_cfg_key *k = &chi_cfg_keys[i];
		const char *v;
		env_name(k->section, k->name, var, sizeof(var));
		if ((v = getenv(var)) && !chi_cfg_set_key(tmp, k, v, why, sizeof(why)))
			rc = chi_cfg_fail(err, errlen, "%s: bad value '%s' for '%s.%s': %s", var,
					  chi_cfg_shown(v, q), k->section, k->name, why);
	}
	if (rc == 0)
		memcpy(c, tmp, sizeof(*c));
	for (size_t i = 0; i < chi_cfg_nkeys && rc == 0 && o; i++) {
		env_name(chi_cfg_keys[i].section, chi_cfg_keys[i].name, var, sizeof(var));
		if (getenv(var))
			o->env[i] = true;
	}
	free(tmp);
	return rc;
}
