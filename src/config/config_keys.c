/* src/config/config_keys.c: the table of keys (config_keys.h) and the rules
 * on their values: numbers, sizes, names, paths and enumerated words, each
 * key's range, the pool list (no two pools with one id or name; the admin
 * pool always there), and chi_config_validate, which checks a whole
 * chi_config against the same rules. The YAML reader is config.c, the
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
};
const unsigned chi_cfg_nkeys = sizeof(chi_cfg_keys) / sizeof(chi_cfg_keys[0]);
const char *const chi_cfg_roots[4] = { "runtime", "memory", "gpu", "pools" };
const char *const chi_cfg_pool_keys[5] = { "name", "module", "id", "path", "size" };
#define SIZE_HINT "a size: an integer with an optional K, M or G suffix"

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
	const char *end;
	int v;
	switch (k->kind) {
	case K_NAME:
		end = memchr(f, '\0', CHI_NAME_MAX);
		if (end && name_ok(f, (size_t)(end - (const char *)f), false))
			return true;
		return because(why, n, "expected 1..%d letters, digits, '_' or '-'", CHI_NAME_MAX - 1);
	case K_PATH:
		end = memchr(f, '\0', CHI_PATH_MAX);
		if (end && path_ok(f, (size_t)(end - (const char *)f)))
			return true;
		return because(why, n, "expected directories separated by ':', at most %d bytes "
				       "without control characters", CHI_PATH_MAX - 1);
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
	if (i <= 1 || i == 3)
		memcpy(i == 0 ? pc->name : i == 1 ? pc->module : pc->path, v, len);
	if (i == 2)
		pc->id = (uint32_t)u;
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
	return 0;
}

/* ---- validation ---- */

int chi_config_validate(const chi_config *c, char *err, size_t errlen)
{
	char why[128];
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
	return 0;
}
