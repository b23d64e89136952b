/* src/config/config.c: read a chi_config from YAML (libyaml document API) and
 * from CHI_<SECTION>_<KEY> environment variables, and validate it.
 *
 * Every scalar key is one row of `keys`: the YAML parser, the environment and
 * chi_config_validate all go through that row, so each rule is written once
 * and every message names the key ("runtime.num_workers") and where the value
 * came from ("config.yaml:3" or "CHI_RUNTIME_NUM_WORKERS"). Parsing and env
 * overrides work on a copy committed only on success: on error the caller's
 * chi_config is unchanged. Defaults and printing live in config_print.c. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "chi/config.h"
#include "chi/proto/gpu.h" /* CHI_GPU_MAX_SLICES */

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

extern char **environ;

enum kind { K_NAME, K_PATH, K_U32, K_U32_AUTO, K_U64, K_SIZE, K_SIZE_AUTO, K_TRISTATE, K_GPU_WORKERS, K_NUMA };

struct key {
	const char *section, *name;
	enum kind kind;
	size_t off;        /* offset of the field in chi_config */
	uint64_t min, max; /* numeric range; K_*_AUTO also allow 0 (auto) */
	bool pow2;         /* non-zero values must be powers of two */
};

#define KEY(sec, nm, k, field, lo, hi, p2) { sec, nm, k, offsetof(chi_config, field), lo, hi, p2 }
static const struct key keys[] = {
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
#define NKEYS (sizeof(keys) / sizeof(keys[0]))
/* Top-level keys: the three sections of `keys`, then the pool list. */
static const char *const roots[] = { "runtime", "memory", "gpu", "pools" };
static const char *const pool_keys[] = { "name", "module", "id", "path", "size" };
#define SIZE_HINT "a size: an integer with an optional K, M or G suffix"

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
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

/* A value as shown in a message: at most 60 bytes, non-printables as '?'. */
static const char *shown(const char *v, char out[72])
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

static bool range_ok(const struct key *k, uint64_t v, char *why, size_t n)
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
static bool check_key(const chi_config *c, const struct key *k, char *why, size_t n)
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

/* Parse text v into c's field for key k; on failure write why. Enumerated
 * kinds store an out-of-range value for a bad word and let check_key say it. */
static bool set_key(chi_config *c, const struct key *k, const char *v, char *why, size_t n)
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

/* Parse text v into pool key i (an index of pool_keys) of pc. */
static bool set_pool_key(chi_pool_conf *pc, unsigned i, const char *v, char *why, size_t n)
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

/* Names pools[i] and pools[j] (j < i) clash on, or NULL. */
static const char *pool_clash(const chi_config *c, unsigned i, unsigned j)
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

/* A pool list without the admin pool gets it, appended after the others (so
 * the file's pools keep their indices). */
static int admin_ensure(chi_config *c, const char *where, char *err, size_t errlen)
{
	bool has;
	int i = admin_clash(c, &has);
	if (i >= 0)
		return fail(err, errlen, "%s: 'pools[%d]' (name '%s', module '%s', id %u) takes the %s of the "
				 "admin pool: " ADMIN_RULE, where, i, c->pools[i].name, c->pools[i].module,
			    c->pools[i].id, c->pools[i].id == 0 ? "id" : "name");
	if (has)
		return 0;
	if (c->npools >= CHI_MAX_POOLS)
		return fail(err, errlen, "%s: too many pools (at most %d, the admin pool included): "
				 ADMIN_RULE, where, CHI_MAX_POOLS);
	chi_pool_conf *p = &c->pools[c->npools++];
	memset(p, 0, sizeof(*p));
	strcpy(p->name, "admin");
	strcpy(p->module, "admin");
	return 0;
}

/* ---- YAML ---- */

struct ctx {
	yaml_document_t *doc;
	const char *origin;
	char *err;
	size_t errlen;
	char q[72];
};

static unsigned long line_of(const yaml_node_t *n)
{
	return (unsigned long)n->start_mark.line + 1;
}

/* The text of a scalar node, or NULL (not a scalar, or an embedded NUL). */
static const char *scalar(const yaml_node_t *n)
{
	if (!n || n->type != YAML_SCALAR_NODE ||
	    strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
		return NULL;
	return (const char *)n->data.scalar.value;
}

static bool is_null(const yaml_node_t *n)
{
	const char *s = scalar(n);
	return s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!*s || !strcmp(s, "~") || !strcmp(s, "null"));
}

static int parse_pools(struct ctx *x, chi_config *c, yaml_node_t *seq);

/* Walk one mapping: the top level (sec NULL), a section of `keys` (sec is
 * its name, pc NULL) or one pool (sec "pools[i]", pc the pool). Each key may
 * appear once; the position of a key in its list is its bit in `seen`. */
static int walk(struct ctx *x, chi_config *c, yaml_node_t *map, const char *sec, chi_pool_conf *pc)
{
	uint32_t seen = 0;
	char full[160], why[128];
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yaml_document_get_node(x->doc, p->key);
		yaml_node_t *vn = yaml_document_get_node(x->doc, p->value);
		const char *name = scalar(kn), *v = scalar(vn);
		unsigned i = 0, n = !sec ? 4 : pc ? 5 : NKEYS;
		int rc = 0;
		if (!kn || !vn)
			return -EINVAL;
		for (; name && i < n; i++)
			if (!sec ? !strcmp(name, roots[i]) : pc ? !strcmp(name, pool_keys[i])
			    : !strcmp(keys[i].section, sec) && !strcmp(keys[i].name, name))
				break;
		i = name ? i : n;
		snprintf(full, sizeof(full), "%s%s%s", sec ? sec : "", sec ? "." : "",
			 name ? shown(name, x->q) : "?");
		if (i == n)
			return fail(x->err, x->errlen, "%s:%lu: unknown %s '%s'", x->origin, line_of(kn),
				    sec ? "key" : "section", full);
		if (seen & (1u << i))
			return fail(x->err, x->errlen, "%s:%lu: duplicate %s '%s'", x->origin, line_of(kn),
				    sec ? "key" : "section", full);
		seen |= 1u << i;
		if (!sec && i == 3)
			rc = parse_pools(x, c, vn);
		else if (!sec && is_null(vn))
			rc = 0;
		else if (!sec && vn->type != YAML_MAPPING_NODE)
			rc = fail(x->err, x->errlen, "%s:%lu: section '%s' must be a mapping of keys",
				  x->origin, line_of(vn), roots[i]);
		else if (!sec)
			rc = walk(x, c, vn, roots[i], NULL);
		else if (!v)
			rc = fail(x->err, x->errlen, "%s:%lu: bad value for '%s': expected a scalar, not %s",
				  x->origin, line_of(vn), full, vn->type == YAML_MAPPING_NODE ? "a mapping"
				  : vn->type == YAML_SEQUENCE_NODE ? "a sequence" : "text with a NUL");
		else if (pc ? !set_pool_key(pc, i, v, why, sizeof(why)) : !set_key(c, &keys[i], v, why, sizeof(why)))
			rc = fail(x->err, x->errlen, "%s:%lu: bad value '%s' for '%s': %s", x->origin,
				  line_of(vn), shown(v, x->q), full, why);
		if (rc)
			return rc;
	}
	for (unsigned i = 0; pc && i < 3; i++) /* name, module and id are required */
		if (!(seen & (1u << i)))
			return fail(x->err, x->errlen, "%s:%lu: missing key '%s.%s'", x->origin,
				    line_of(map), sec, pool_keys[i]);
	return 0;
}

/* `pools` in the file, even empty or null, replaces the whole pool list. */
static int parse_pools(struct ctx *x, chi_config *c, yaml_node_t *seq)
{
	char sec[32];
	memset(c->pools, 0, sizeof(c->pools));
	c->npools = 0;
	char where[300];
	snprintf(where, sizeof(where), "%.250s:%lu", x->origin, line_of(seq));
	if (is_null(seq))
		return admin_ensure(c, where, x->err, x->errlen);
	if (seq->type != YAML_SEQUENCE_NODE)
		return fail(x->err, x->errlen, "%s:%lu: 'pools' must be a sequence of mappings",
			    x->origin, line_of(seq));
	for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		yaml_node_t *m = yaml_document_get_node(x->doc, *it);
		unsigned np = c->npools;
		int rc;
		if (!m)
			return -EINVAL;
		if (np == CHI_MAX_POOLS)
			return fail(x->err, x->errlen, "%s:%lu: too many pools (at most %d)", x->origin,
				    line_of(m), CHI_MAX_POOLS);
		snprintf(sec, sizeof(sec), "pools[%u]", np);
		if (m->type != YAML_MAPPING_NODE)
			return fail(x->err, x->errlen, "%s:%lu: '%s' must be a mapping", x->origin,
				    line_of(m), sec);
		if ((rc = walk(x, c, m, sec, &c->pools[np])))
			return rc;
		for (unsigned j = 0; j < np; j++)
			if (pool_clash(c, np, j))
				return fail(x->err, x->errlen, "%s:%lu: '%s' has the same %s as 'pools[%u]'",
					    x->origin, line_of(m), sec, pool_clash(c, np, j), j);
		c->npools = np + 1;
	}
	return admin_ensure(c, where, x->err, x->errlen);
}

static int syntax_error(struct ctx *x, const yaml_parser_t *p, const char *text, size_t len)
{
	unsigned long line = (unsigned long)p->problem_mark.line + 1;
	if (p->error == YAML_MEMORY_ERROR) {
		fail(x->err, x->errlen, "%s: out of memory", x->origin);
		return -ENOMEM;
	}
	if (p->error == YAML_READER_ERROR) { /* the reader only knows the byte offset */
		line = 1;
		for (size_t i = 0; i < p->problem_offset && i < len; i++)
			line += text[i] == '\n';
	}
	return fail(x->err, x->errlen, "%s:%lu: YAML syntax error: %s%s%s%s", x->origin, line,
		    p->problem ? p->problem : "invalid YAML", p->context ? " (" : "",
		    p->context ? p->context : "", p->context ? ")" : "");
}

int chi_config_parse(chi_config *c, const char *text, size_t len, const char *origin,
		     char *err, size_t errlen)
{
	struct ctx x = { .origin = origin ? origin : "config", .err = err, .errlen = errlen };
	yaml_parser_t p;
	yaml_document_t doc, next;
	yaml_node_t *root;
	chi_config *tmp;
	int rc;
	if (!c || (!text && len))
		return fail(err, errlen, "%s: no configuration given", x.origin);
	if (!(tmp = malloc(sizeof(*tmp))))
		return -ENOMEM;
	if (!yaml_parser_initialize(&p)) {
		free(tmp);
		return -ENOMEM;
	}
	memcpy(tmp, c, sizeof(*tmp));
	yaml_parser_set_input_string(&p, (const unsigned char *)(text ? text : ""), len);
	if (!yaml_parser_load(&p, &doc))
		rc = syntax_error(&x, &p, text, len);
	else {
		x.doc = &doc;
		root = yaml_document_get_root_node(&doc);
		if (!root || is_null(root))
			rc = 0;
		else if (root->type != YAML_MAPPING_NODE)
			rc = fail(err, errlen, "%s:%lu: expected a mapping of sections (runtime, memory, gpu, pools)",
				  x.origin, line_of(root));
		else
			rc = walk(&x, tmp, root, NULL, NULL);
		yaml_document_delete(&doc);
		if (rc == 0 && !yaml_parser_load(&p, &next))
			rc = syntax_error(&x, &p, text, len);
		else if (rc == 0) {
			if ((root = yaml_document_get_root_node(&next)))
				rc = fail(err, errlen, "%s:%lu: only one YAML document is allowed",
					  x.origin, line_of(root));
			yaml_document_delete(&next);
		}
	}
	if (rc == 0)
		memcpy(c, tmp, sizeof(*c));
	yaml_parser_delete(&p);
	free(tmp);
	return rc;
}

/* ---- environment ---- */

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
	for (unsigned s = 0; s < 3; s++) {
		size_t plen;
		env_name(roots[s], "", var, sizeof(var));
		plen = strlen(var);
		if (n < plen || strncmp(e, var, plen))
			continue;
		for (size_t i = 0; i < NKEYS; i++) {
			env_name(keys[i].section, keys[i].name, var, sizeof(var));
			if (strlen(var) == n && !strncmp(e, var, n))
				return 0;
		}
		snprintf(low, sizeof(low), "%.*s", (int)(n - plen < 60 ? n - plen : 60), e + plen);
		for (char *l = low; *l; l++)
			*l = (*l >= 'A' && *l <= 'Z') ? (char)(*l - 'A' + 'a') : *l;
		return fail(err, errlen, "%.*s: unknown variable: there is no key '%s.%s'",
			    (int)(n < 64 ? n : 64), e, roots[s], shown(low, q));
	}
	return 0;
}

int chi_config_apply_env(chi_config *c, char *err, size_t errlen)
{
	char var[64], why[128], q[72];
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
	for (size_t i = 0; i < NKEYS && rc == 0; i++) {
		const char *v;
		env_name(keys[i].section, keys[i].name, var, sizeof(var));
		if ((v = getenv(var)) && !set_key(tmp, &keys[i], v, why, sizeof(why)))
			rc = fail(err, errlen, "%s: bad value '%s' for '%s.%s': %s", var, shown(v, q),
				  keys[i].section, keys[i].name, why);
	}
	if (rc == 0)
		memcpy(c, tmp, sizeof(*c));
	free(tmp);
	return rc;
}

/* ---- validation and loading ---- */

int chi_config_validate(const chi_config *c, char *err, size_t errlen)
{
	char why[128];
	for (size_t i = 0; i < NKEYS; i++)
		if (!check_key(c, &keys[i], why, sizeof(why)))
			return fail(err, errlen, "invalid '%s.%s': %s", keys[i].section, keys[i].name, why);
	if (c->npools > CHI_MAX_POOLS)
		return fail(err, errlen, "invalid 'pools': %u pools, at most %d", c->npools, CHI_MAX_POOLS);
	for (unsigned i = 0; i < c->npools; i++) {
		const chi_pool_conf *p = &c->pools[i];
		const char *fields[] = { p->name, p->module, p->path };
		for (unsigned f = 0; f < 3; f++) {
			size_t max = f < 2 ? CHI_NAME_MAX : CHI_PATH_MAX, len = strnlen(fields[f], max);
			if (len == max || (f < 2 ? !name_ok(fields[f], len, true) : !path_ok(fields[f], len)))
				return fail(err, errlen, "invalid 'pools[%u].%s'", i, pool_keys[f < 2 ? f : 3]);
		}
		for (unsigned j = 0; j < i; j++)
			if (pool_clash(c, i, j))
				return fail(err, errlen, "invalid 'pools[%u]': same %s as 'pools[%u]'", i,
					    pool_clash(c, i, j), j);
	}
	bool has;
	int a = admin_clash(c, &has);
	if (a >= 0)
		return fail(err, errlen, "invalid 'pools[%d]' ('%s'): takes the %s of the admin pool: " ADMIN_RULE,
			    a, c->pools[a].name, c->pools[a].id == 0 ? "id" : "name");
	return 0;
}

#define CONFIG_FILE_MAX (1u << 20)

static int read_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	int rc = 0;
	*buf = NULL;
	if (!f)
		rc = -errno;
	else if (!(*buf = malloc(CONFIG_FILE_MAX + 1)))
		rc = -ENOMEM;
	else {
		errno = 0;
		*len = fread(*buf, 1, CONFIG_FILE_MAX + 1, f);
		rc = ferror(f) ? (errno ? -errno : -EIO) : *len > CONFIG_FILE_MAX ? -EFBIG : 0;
	}
	if (f)
		fclose(f);
	if (rc) {
		fail(err, errlen, "%s: cannot read: %s", path, strerror(-rc));
		free(*buf);
	}
	return rc;
}

int chi_config_load(chi_config *c, const char *path, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;
	chi_config_defaults(c);
	if (!path && (path = getenv("CHI_SERVER_CONF")) && !*path)
		path = NULL;
	if (path) {
		if ((rc = read_file(path, &buf, &len, err, errlen)))
			return rc;
		rc = chi_config_parse(c, buf, len, path, err, errlen);
		free(buf);
		if (rc)
			return rc;
	}
	if ((rc = chi_config_apply_env(c, err, errlen)))
		return rc;
	return chi_config_validate(c, err, errlen);
}
