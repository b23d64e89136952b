/* src/config/config_keys.c: the table of keys (config_keys.h) and the rules
 * on their values: numbers, sizes, names, paths and enumerated words, each
 * key's range, the pool list (no two pools with one id or name; the admin
 * pool always there, on every node), cluster.peers (no two entries with one
 * node), and chi_config_validate, which checks a whole chi_config against
 * the same rules and then the rules across keys that only a whole
 * configuration can meet (a cluster's key file, its own port, the nodes its
 * pools name: the file, the environment and cluster.hosts_file together). The YAML reader is config.c, the
 * environment config_env.c; defaults and printing live in config_print.c. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "config_keys.h"

#include "chi/proto/gpu.h" /* CHI_GPU_MAX_SLICES */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define KEY(sec, nm, k, field, lo, hi, p2) { sec, nm, k, offsetof(chi_config, field), lo, hi, p2 }
const struct chi_cfg_key chi_cfg_keys[] = {
	KEY("runtime", "name", K_NAME, name, 0, 0, false),
	KEY("runtime", "module_path", K_PATH, module_path, 0, 0, false),
	KEY("runtime", "num_workers", K_U32_AUTO, num_workers, 1, 256, false),
	KEY("runtime", "queue_depth", K_U32, queue_depth, 2, 1u << 24, true),
	KEY("runtime", "lanes", K_U32, lanes, 0, 1024, false),
	KEY("runtime", "first_busy_wait_us", K_U64, first_busy_wait_us, 0, UINT64_MAX, false),
	KEY("runtime", "max_sleep_us", K_U64, max_sleep_us, 0, UINT64_MAX, false),
	KEY("runtime", "bulk_every", K_U32, bulk_every, 1, UINT32_MAX, false),
	KEY("runtime", "hole_timeout_ms", K_U32, hole_timeout_ms, 0, UINT32_MAX, false),
	KEY("memory", "main_segment_size", K_SIZE_AUTO, main_segment_size, 4096, UINT64_MAX, false),
	KEY("memory", "max_task_size", K_SIZE, max_task_size, 1, 1ull << 30, false),
	KEY("gpu", "enabled", K_TRISTATE, gpu_enabled, 0, 0, false),
	KEY("gpu", "segment_size", K_SIZE_AUTO, gpu_segment_size, 4096, UINT64_MAX, false),
	KEY("gpu", "queue_depth", K_U32_AUTO, gpu_queue_depth, 0, 1u << 24, true),
	KEY("gpu", "lanes", K_U32, gpu_lanes, 1, 1024, false),
	KEY("gpu", "clients", K_U32, gpu_clients, 1, CHI_GPU_MAX_SLICES, false),
	KEY("gpu", "workers", K_GPU_WORKERS, gpu_workers, 0, 0, false),
	KEY("gpu", "numa", K_NUMA, gpu_numa, 0, 4095, false),
	KEY("gpu", "max_sleep_us", K_U64, gpu_max_sleep_us, 0, UINT64_MAX, false),
	KEY("gpu", "lane_helpers", K_U32, gpu_lane_helpers, 0, 8, false),
	KEY("cluster", "node", K_NODE, cluster.node, 0, CHI_MAX_NODES - 1, false),
	KEY("cluster", "listen", K_HOST, cluster.listen, 0, 0, false),
	KEY("cluster", "port", K_U32, cluster.port, 0, 65535, false),
	KEY("cluster", "key_file", K_FILE, cluster.key_file, 0, 0, false),
	KEY("cluster", "hosts_file", K_FILE, cluster.hosts_file, 0, 0, false),
	KEY("cluster", "heartbeat_ms", K_U32, cluster.heartbeat_ms, 1, 60000, false),
	KEY("cluster", "peer_timeout_ms", K_U32, cluster.peer_timeout_ms, 2, 600000, false),
	KEY("cluster", "task_timeout_ms", K_U32, cluster.task_timeout_ms, 1, 86400000, false),
	KEY("cluster", "retry_ms", K_U32, cluster.retry_ms, 1, 600000, false),
};
const unsigned chi_cfg_nkeys = sizeof(chi_cfg_keys) / sizeof(chi_cfg_keys[0]);
const char *const chi_cfg_roots[CHI_CFG_NSECTIONS + 1] = { "runtime", "memory", "gpu", "cluster",
							   "pools" };
const char *const chi_cfg_pool_keys[CHI_CFG_NPOOL_KEYS] = { "name", "module", "id", "path", "size",
							    "node" };
const char *const chi_cfg_peer_keys[3] = { "node", "host", "port" };
#define SIZE_HINT "a size: an integer with an optional K, M or G suffix"
#define FILE_HINT "a file path of at most 255 bytes without control characters"
#define HOST_HINT "an address or host name: at most 63 letters, digits, '.', '-', '_', ':' or '%'"
#define NODE_HINT "-1 or a node number in 0..63"
_Static_assert(sizeof(chi_cfg_keys) / sizeof(chi_cfg_keys[0]) <= CHI_CFG_MAXKEYS,
	       "struct chi_cfg_origin has a line for each key");
_Static_assert(CHI_PATH_MAX == 256 && CHI_HOST_MAX == 64 && CHI_MAX_NODES == 64,
	       "the hints above spell these limits out");

int chi_cfg_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Write why a value is bad and return false. */
__attribute__((format(printf, 3, 4)))
static bool because(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return false;
}

const char *chi_cfg_shown(const char *v, char out[72])
{
	size_t i = 0;
	for (; v[i] && i < 60; i++)
		out[i] = (v[i] >= 0x20 && v[i] < 0x7f) ? v[i] : '?';
	strcpy(out + i, v[i] ? "..." : "");
	return out;
}

/* Decimal digits and, if suffix, one of K, M, G (either case); no sign, no
 * blanks, no overflow. */
static int parse_num(const char *s, uint64_t *out, bool suffix)
{
	uint64_t n = 0;
	unsigned shift = 0;
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (n > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -EINVAL;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	if (suffix && *s) {
		const char *u = strchr("KkMmGg", *s);
		if (!u)
			return -EINVAL;
		shift = 10 * (unsigned)(1 + (u - "KkMmGg") / 2);
		s++;
	}
	if (*s || n > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = n << shift;
	return 0;
}

int chi_parse_size(const char *s, uint64_t *out)
{
	return parse_num(s, out, true);
}

/* Runtime names become part of shared-memory names; pool and module names
 * may also hold '.'. Paths: no control characters. */
static bool name_ok(const char *s, size_t len, bool dot)
{
	if (len == 0 || len >= CHI_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(memchr("_-", s[i], 2) || (dot && s[i] == '.') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

static bool path_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return len < CHI_PATH_MAX;
}

/* An address (127.0.0.1, ::1, fe80::1%eth0) or a host name; "" is left to
 * the caller (cluster.listen allows it, a peer's host does not). */
static bool host_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!(memchr("._-:%", s[i], 5) || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
			return false;
	return len < CHI_HOST_MAX;
}

/* A node: "-1" (none, or every node) if any, else 0..CHI_MAX_NODES-1. */
static bool node_parse(const char *v, bool any, int32_t *out)
{
	uint64_t u;
	if (any && !strcmp(v, "-1"))
		return *out = CHI_NODE_ANY, true;
	if (parse_num(v, &u, false) || u >= CHI_MAX_NODES)
		return false;
	*out = (int32_t)u;
	return true;
}

static bool node_ok(int32_t v)
{
	return v == CHI_NODE_ANY || (v >= 0 && v < CHI_MAX_NODES);
}

/* A string field of max bytes: terminated, and its length in *len. */
static bool terminated(const void *f, size_t max, size_t *len)
{
	const char *end = memchr(f, '\0', max);
	if (!end)
		return false;
	*len = (size_t)(end - (const char *)f);
	return true;
}

static bool range_ok(const struct chi_cfg_key *k, uint64_t v, char *why, size_t n)
{
	const char *what = k->kind == K_SIZE || k->kind == K_SIZE_AUTO ? "a size" : "an integer";
	if (((k->kind == K_SIZE_AUTO || k->kind == K_U32_AUTO) && v == 0) ||
	    (v >= k->min && v <= k->max && !(k->pow2 && (v == 1 || (v & (v - 1))))))
		return true;
	if (k->pow2)
		return because(why, n, "expected %sa power of two in %llu..%llu", k->min ? "" : "0 or ",
			       (unsigned long long)(k->min ? k->min : 2), (unsigned long long)k->max);
	if (k->max == UINT64_MAX || k->max == UINT32_MAX)
		return because(why, n, "expected %s of at least %llu", what, (unsigned long long)k->min);
	return because(why, n, "expected %s in %llu..%llu", what, (unsigned long long)k->min,
		       (unsigned long long)k->max);
}

/* Check the value stored in c for key k; on failure write why. */
static bool check_key(const chi_config *c, const struct chi_cfg_key *k, char *why, size_t n)
{
	const void *f = (const char *)c + k->off;
	size_t len;
	int v;
	switch (k->kind) {
	case K_NAME:
		if (terminated(f, CHI_NAME_MAX, &len) && name_ok(f, len, false))
			return true;
		return because(why, n, "expected 1..%d letters, digits, '_' or '-'", CHI_NAME_MAX - 1);
	case K_PATH:
		if (terminated(f, CHI_PATH_MAX, &len) && path_ok(f, len))
			return true;
		return because(why, n, "expected directories separated by ':', at most %d bytes "
				       "without control characters", CHI_PATH_MAX - 1);
	case K_FILE:
		return (terminated(f, CHI_PATH_MAX, &len) && path_ok(f, len)) ||
		       because(why, n, "expected " FILE_HINT);
	case K_HOST:
		return (terminated(f, CHI_HOST_MAX, &len) && host_ok(f, len)) ||
		       because(why, n, "expected %s", HOST_HINT);
	case K_NODE:
		return node_ok(*(const int32_t *)f) || because(why, n, "expected " NODE_HINT);
	case K_U32: case K_U32_AUTO:
		return range_ok(k, *(const uint32_t *)f, why, n);
	case K_U64: case K_SIZE: case K_SIZE_AUTO:
		return range_ok(k, *(const uint64_t *)f, why, n);
	case K_TRISTATE:
		v = (int)*(const chi_tristate *)f;
		return (v >= CHI_AUTO && v <= CHI_ON) ||
		       because(why, n, "expected auto, true, false, on or off");
	case K_GPU_WORKERS:
		v = (int)*(const chi_gpu_workers *)f;
		return v == CHI_GPU_WORKERS_DEDICATED || v == CHI_GPU_WORKERS_SHARED ||
		       because(why, n, "expected dedicated or shared");
	case K_NUMA:
		v = *(const int *)f;
		return v == CHI_NUMA_AUTO || v == CHI_NUMA_OFF || (v >= 0 && (uint64_t)v <= k->max) ||
		       because(why, n, "expected auto, off or a NUMA node in 0..%llu",
			       (unsigned long long)k->max);
	}
	return false;
}

/* Enumerated kinds store an out-of-range value for a bad word and let
 * check_key say it. */
bool chi_cfg_set_key(chi_config *c, const struct chi_cfg_key *k, const char *v, char *why, size_t n)
{
	void *f = (char *)c + k->off;
	uint64_t u = 0;
	switch (k->kind) {
	case K_NAME:
		if (!name_ok(v, strlen(v), false))
			return because(why, n, "expected 1..%d letters, digits, '_' or '-'", CHI_NAME_MAX - 1);
		memset(f, 0, CHI_NAME_MAX);
		memcpy(f, v, strlen(v));
		return true;
	case K_PATH:
		if (!path_ok(v, strlen(v)))
			return because(why, n, "expected directories separated by ':', at most %d bytes "
					       "without control characters", CHI_PATH_MAX - 1);
		memset(f, 0, CHI_PATH_MAX);
		memcpy(f, v, strlen(v));
		return true;
	case K_FILE: case K_HOST:
		if (k->kind == K_FILE ? !path_ok(v, strlen(v)) : !host_ok(v, strlen(v)))
			return because(why, n, "expected %s", k->kind == K_FILE ? FILE_HINT : HOST_HINT);
		memset(f, 0, k->kind == K_FILE ? CHI_PATH_MAX : CHI_HOST_MAX);
		memcpy(f, v, strlen(v));
		return true;
	case K_NODE:
		return node_parse(v, true, (int32_t *)f) || because(why, n, "expected " NODE_HINT);
	case K_U32_AUTO:
		if (!strcmp(v, "auto"))
			return *(uint32_t *)f = 0, true;
		/* fall through */
	case K_U32: case K_U64:
		if (parse_num(v, &u, false))
			return because(why, n, "expected %sa non-negative integer",
				       k->kind == K_U32_AUTO ? "'auto' or " : "");
		if (k->kind == K_U32_AUTO && u == 0)
			return because(why, n, "expected 'auto' or an integer in %llu..%llu",
				       (unsigned long long)(k->min ? k->min : 2), (unsigned long long)k->max);
		break;
	case K_SIZE: case K_SIZE_AUTO:
		if (k->kind == K_SIZE_AUTO && !strcmp(v, "auto"))
			break;
		if (chi_parse_size(v, &u))
			return because(why, n, "expected %s" SIZE_HINT, k->kind == K_SIZE ? "" : "'auto' or ");
		break;
	case K_TRISTATE:
		*(chi_tristate *)f = !strcasecmp(v, "auto") ? CHI_AUTO
			: (!strcasecmp(v, "true") || !strcasecmp(v, "on") || !strcasecmp(v, "yes")) ? CHI_ON
			: (!strcasecmp(v, "false") || !strcasecmp(v, "off") || !strcasecmp(v, "no")) ? CHI_OFF
			: (chi_tristate)99;
		return check_key(c, k, why, n);
	case K_GPU_WORKERS:
		*(chi_gpu_workers *)f = !strcmp(v, "dedicated") ? CHI_GPU_WORKERS_DEDICATED
			: !strcmp(v, "shared") ? CHI_GPU_WORKERS_SHARED : (chi_gpu_workers)99;
		return check_key(c, k, why, n);
	case K_NUMA:
		*(int *)f = !strcmp(v, "auto") ? CHI_NUMA_AUTO : !strcmp(v, "off") ? CHI_NUMA_OFF
			: (!parse_num(v, &u, false) && u <= k->max) ? (int)u : -99;
		return check_key(c, k, why, n);
	}
	if (!range_ok(k, u, why, n))
		return false;
	if (k->kind == K_U32 || k->kind == K_U32_AUTO)
		*(uint32_t *)f = (uint32_t)u;
	else
		*(uint64_t *)f = u;
	return true;
}

bool chi_cfg_set_pool_key(chi_pool_conf *pc, unsigned i, const char *v, char *why, size_t n)
{
	size_t len = strlen(v);
	uint64_t u;
	if (i <= 1 && !name_ok(v, len, true))
		return because(why, n, "expected 1..%d letters, digits, '_', '-' or '.'", CHI_NAME_MAX - 1);
	if (i == 2 && (parse_num(v, &u, false) || u > UINT32_MAX))
		return because(why, n, "expected an integer in 0..%u", UINT32_MAX);
	if (i == 3 && !path_ok(v, len))
		return because(why, n, "expected a path of at most %d bytes without control characters",
			       CHI_PATH_MAX - 1);
	if (i == 4 && chi_parse_size(v, &pc->size))
		return because(why, n, "expected " SIZE_HINT);
	if (i == 5)
		return node_parse(v, true, &pc->node) ||
		       because(why, n, "expected -1 (every node runs its own, the default) or a "
				       "node number in 0..%d", CHI_MAX_NODES - 1);
	if (i <= 1 || i == 3)
		memcpy(i == 0 ? pc->name : i == 1 ? pc->module : pc->path, v, len);
	if (i == 2)
		pc->id = (uint32_t)u;
	return true;
}

bool chi_cfg_set_peer_key(chi_peer_conf *pc, unsigned i, const char *v, char *why, size_t n)
{
	size_t len = strlen(v);
	uint64_t u = 0;
	int32_t node = 0;
	if (i == 0 && !node_parse(v, false, &node))
		return because(why, n, "expected a node number in 0..%d", CHI_MAX_NODES - 1);
	if (i == 1 && (len == 0 || !host_ok(v, len)))
		return because(why, n, "expected %s", HOST_HINT);
	if (i == 2 && (parse_num(v, &u, false) || u < 1 || u > 65535))
		return because(why, n, "expected a port in 1..65535");
	if (i == 0)
		pc->node = (uint32_t)node;
	else if (i == 1) {
		memset(pc->host, 0, sizeof(pc->host));
		memcpy(pc->host, v, len);
	} else
		pc->port = (uint32_t)u;
	return true;
}

int chi_cfg_peer_find(const chi_cluster_conf *cl, uint32_t node, unsigned upto)
{
	for (unsigned i = 0; i < upto && i < CHI_MAX_NODES; i++)
		if (cl->peers[i].node == node)
			return (int)i;
	return -1;
}

bool chi_cfg_admin_node(const chi_pool_conf *pc, char *why, size_t n)
{
	if (pc->node == CHI_NODE_ANY || (pc->id != 0 && strcmp(pc->name, "admin")))
		return false;
	because(why, n, "the admin pool has no node: every runtime runs its own (leave 'node' "
		"out, or -1)");
	return true;
}

const char *chi_cfg_pool_clash(const chi_config *c, unsigned i, unsigned j)
{
	return c->pools[j].id == c->pools[i].id ? "id"
		: !strcmp(c->pools[j].name, c->pools[i].name) ? "name" : NULL;
}

/* The admin pool (id 0, module admin) is always there: clients and `chi
 * status/stop` address it by id 0. A pool that takes id 0 or the name admin
 * without being it is refused; its index, or -1 (*has: the admin pool is in
 * the list). */
static int admin_clash(const chi_config *c, bool *has)
{
	*has = false;
	for (unsigned i = 0; i < c->npools && i < CHI_MAX_POOLS; i++) {
		const chi_pool_conf *p = &c->pools[i];
		bool id0 = p->id == 0, named = !strcmp(p->name, "admin");
		if (!id0 && !named)
			continue;
		if (!id0 || !named || strcmp(p->module, "admin"))
			return (int)i;
		*has = true;
	}
	return -1;
}

#define ADMIN_RULE "the admin pool (name admin, module admin, id 0) is always there"

int chi_cfg_admin_ensure(chi_config *c, const char *where, char *err, size_t errlen)
{
	bool has;
	int i = admin_clash(c, &has);
	if (i >= 0)
		return chi_cfg_fail(err, errlen, "%s: 'pools[%d]' (name '%s', module '%s', id %u) takes "
				    "the %s of the admin pool: " ADMIN_RULE, where, i,
				    c->pools[i].name, c->pools[i].module, c->pools[i].id,
				    c->pools[i].id == 0 ? "id" : "name");
	if (has)
		return 0;
	if (c->npools >= CHI_MAX_POOLS)
		return chi_cfg_fail(err, errlen, "%s: too many pools (at most %d, the admin pool "
				    "included): " ADMIN_RULE, where, CHI_MAX_POOLS);
	chi_pool_conf *p = &c->pools[c->npools++];
	memset(p, 0, sizeof(*p));
	strcpy(p->name, "admin");
	strcpy(p->module, "admin");
	p->node = CHI_NODE_ANY;
	return 0;
}

/* ---- validation ---- */

/* cluster.peers entry by entry (the parser's rules). */
static int check_peers(const chi_cluster_conf *cl, char *err, size_t errlen)
{
	size_t len;
	if (cl->npeers > CHI_MAX_NODES)
		return chi_cfg_fail(err, errlen, "invalid 'cluster.peers': %u entries, at most %d",
				    cl->npeers, CHI_MAX_NODES);
	for (unsigned i = 0; i < cl->npeers; i++) {
		const chi_peer_conf *p = &cl->peers[i];
		const char *bad = p->node >= CHI_MAX_NODES ? "node"
			: !terminated(p->host, CHI_HOST_MAX, &len) || !len || !host_ok(p->host, len) ? "host"
			: p->port < 1 || p->port > 65535 ? "port" : NULL;
		if (bad)
			return chi_cfg_fail(err, errlen, "invalid 'cluster.peers[%u].%s'", i, bad);
		if (chi_cfg_peer_find(cl, p->node, i) >= 0)
			return chi_cfg_fail(err, errlen, "invalid 'cluster.peers[%u]': node %u is also "
					    "'cluster.peers[%d]'", i, p->node,
					    chi_cfg_peer_find(cl, p->node, i));
	}
	return 0;
}

int chi_cfg_key_index(const char *section, const char *name)
{
	for (unsigned i = 0; i < chi_cfg_nkeys; i++)
		if (!strcmp(chi_cfg_keys[i].section, section) && !strcmp(chi_cfg_keys[i].name, name))
			return (int)i;
	return -1;
}

/* "file:line: " or "VARIABLE: " for key section.name, or "" (a default, or
 * no origin). */
static const char *place(const struct chi_cfg_origin *o, const char *section, const char *name,
			 char buf[320])
{
	int k = chi_cfg_key_index(section, name);
	char var[64];
	buf[0] = 0;
	if (!o || k < 0)
		return buf;
	if (o->env[k]) {
		snprintf(var, sizeof(var), "CHI_%s_%s: ", section, name);
		for (char *v = var; *v; v++)
			*v = (*v >= 'a' && *v <= 'z') ? (char)(*v - 'a' + 'A') : *v;
		strcpy(buf, var);
	} else if (o->file && o->line[k])
		snprintf(buf, 320, "%.250s:%u: ", o->file, o->line[k]);
	return buf;
}

/* The rules of a cluster (cluster.node >= 0) that need the whole
 * configuration: the file, the environment and cluster.hosts_file. Each
 * message begins with the place of the key at fault. */
static int check_cluster(const chi_config *c, const struct chi_cfg_origin *o, char *err, size_t errlen)
{
	const chi_cluster_conf *cl = &c->cluster;
	char at[320];
	if (cl->node < 0)
		return 0;
	if (!cl->key_file[0])
		return chi_cfg_fail(err, errlen, "%s'cluster.node' is %d: a cluster needs "
				    "'cluster.key_file', its shared key (a file of mode 0600)",
				    place(o, "cluster", "node", at), (int)cl->node);
	if (cl->heartbeat_ms >= cl->peer_timeout_ms) {
		place(o, "cluster", "heartbeat_ms", at);
		if (!at[0])
			place(o, "cluster", "peer_timeout_ms", at);
		return chi_cfg_fail(err, errlen, "%s'cluster.heartbeat_ms' (%u) must be below "
				    "'cluster.peer_timeout_ms' (%u): a live peer would be timed out",
				    at, cl->heartbeat_ms, cl->peer_timeout_ms);
	}
	if (!cl->port && chi_cfg_peer_find(cl, (uint32_t)cl->node, cl->npeers) < 0)
		return chi_cfg_fail(err, errlen, "%s'cluster.node' is %d, which has no entry in "
				    "'cluster.peers' to take its port from: list it there, or set "
				    "'cluster.port'", place(o, "cluster", "node", at), (int)cl->node);
	for (unsigned i = 0; i < c->npools; i++) {
		int32_t node = c->pools[i].node;
		if (node < 0 || node == cl->node || chi_cfg_peer_find(cl, (uint32_t)node, cl->npeers) >= 0)
			continue;
		at[0] = 0;
		if (o && o->file && o->pool_node_line[i])
			snprintf(at, sizeof(at), "%.250s:%u: ", o->file, o->pool_node_line[i]);
		return chi_cfg_fail(err, errlen, "%s'pools[%u].node' ('%s'): node %d is neither this "
				    "node (%d) nor in 'cluster.peers'", at, i, c->pools[i].name,
				    (int)node, (int)cl->node);
	}
	return 0;
}

int chi_config_validate(const chi_config *c, char *err, size_t errlen)
{
	return chi_cfg_validate(c, NULL, err, errlen);
}

int chi_cfg_validate(const chi_config *c, const struct chi_cfg_origin *o, char *err, size_t errlen)
{
	char why[160];
	int rc;
	for (size_t i = 0; i < chi_cfg_nkeys; i++)
		if (!check_key(c, &chi_cfg_keys[i], why, sizeof(why)))
			return chi_cfg_fail(err, errlen, "invalid '%s.%s': %s", chi_cfg_keys[i].section,
					    chi_cfg_keys[i].name, why);
	if (c->npools > CHI_MAX_POOLS)
		return chi_cfg_fail(err, errlen, "invalid 'pools': %u pools, at most %d", c->npools,
				    CHI_MAX_POOLS);
	for (unsigned i = 0; i < c->npools; i++) {
		const chi_pool_conf *p = &c->pools[i];
		const char *fields[] = { p->name, p->module, p->path };
		for (unsigned f = 0; f < 3; f++) {
			size_t max = f < 2 ? CHI_NAME_MAX : CHI_PATH_MAX, len = strnlen(fields[f], max);
			if (len == max || (f < 2 ? !name_ok(fields[f], len, true) : !path_ok(fields[f], len)))
				return chi_cfg_fail(err, errlen, "invalid 'pools[%u].%s'", i,
						    chi_cfg_pool_keys[f < 2 ? f : 3]);
		}
		if (!node_ok(p->node))
			return chi_cfg_fail(err, errlen, "invalid 'pools[%u].node'", i);
		if (chi_cfg_admin_node(p, why, sizeof(why)))
			return chi_cfg_fail(err, errlen, "invalid 'pools[%u].node': %s", i, why);
		for (unsigned j = 0; j < i; j++)
			if (chi_cfg_pool_clash(c, i, j))
				return chi_cfg_fail(err, errlen, "invalid 'pools[%u]': same %s as 'pools[%u]'",
						    i, chi_cfg_pool_clash(c, i, j), j);
	}
	bool has;
	int a = admin_clash(c, &has);
	if (a >= 0)
		return chi_cfg_fail(err, errlen, "invalid 'pools[%d]' ('%s'): takes the %s of the admin "
				    "pool: " ADMIN_RULE, a, c->pools[a].name,
				    c->pools[a].id == 0 ? "id" : "name");
	if ((rc = check_peers(&c->cluster, err, errlen)))
		return rc;
	return check_cluster(c, o, err, errlen);
}
