/* src/config/config.c: read a chi_config from YAML (libyaml document API),
 * chi_config_parse, and load one (chi_config_load): defaults, then the file,
 * then the CHI_<SECTION>_<KEY> environment (config_env.c), then the peers
 * of cluster.hosts_file, then validation.
 *
 * Every scalar key is one row of the table in config_keys.c: the YAML
 * parser, the environment and chi_config_validate all go through that row,
 * so each rule is written once and every message names the key
 * ("runtime.num_workers") and where the value came from ("config.yaml:3" or
 * "CHI_RUNTIME_NUM_WORKERS"). Parsing works on a copy committed only on
 * success: on error the caller's chi_config is unchanged. Defaults and
 * printing live in config_print.c. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "config_keys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ---- YAML ---- */

struct ctx {
	yaml_document_t *doc;
	const char *origin;
	struct chi_cfg_origin *o; /* where each value came from, or NULL */
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
static int parse_peers(struct ctx *x, chi_config *c, yaml_node_t *seq);

/* What walk reads: the top level, a section of the key table, one pool or
 * one entry of cluster.peers. */
enum level { TOP, SECTION, POOL, PEER };

/* Walk one mapping: the top level (sec NULL), a section of the key table (sec is
 * its name), one pool (sec "pools[i]", to the pool) or one peer (sec
 * "cluster.peers[i]", to the peer). Each key may appear once; the position of
 * a key in its list is its bit in `seen`. In the cluster section, the index
 * chi_cfg_nkeys is peers (not a row of the table). */
static int walk(struct ctx *x, chi_config *c, yaml_node_t *map, enum level lv, const char *sec,
		void *to)
{
	uint64_t seen = 0;
	char full[160], why[160];
	unsigned n = lv == TOP ? CHI_CFG_NSECTIONS + 1 : lv == POOL ? CHI_CFG_NPOOL_KEYS
		: lv == PEER ? 3 : chi_cfg_nkeys + 1;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yaml_document_get_node(x->doc, p->key);
		yaml_node_t *vn = yaml_document_get_node(x->doc, p->value);
		const char *name = scalar(kn), *v = scalar(vn);
		unsigned i = 0;
		int rc = 0;
		if (!kn || !vn)
			return -EINVAL;
		for (; name && i < n; i++)
			if (lv == TOP ? !strcmp(name, chi_cfg_roots[i])
			    : lv == POOL ? !strcmp(name, chi_cfg_pool_keys[i])
			    : lv == PEER ? !strcmp(name, chi_cfg_peer_keys[i])
			    : i == chi_cfg_nkeys ? !strcmp(sec, "cluster") && !strcmp(name, "peers")
			    : !strcmp(chi_cfg_keys[i].section, sec) && !strcmp(chi_cfg_keys[i].name, name))
				break;
		i = name ? i : n;
		snprintf(full, sizeof(full), "%s%s%s", sec ? sec : "", sec ? "." : "",
			 name ? chi_cfg_shown(name, x->q) : "?");
		if (i == n)
			return chi_cfg_fail(x->err, x->errlen, "%s:%lu: unknown %s '%s'", x->origin,
					    line_of(kn), sec ? "key" : "section", full);
		if (seen & (1ull << i))
			return chi_cfg_fail(x->err, x->errlen, "%s:%lu: duplicate %s '%s'", x->origin,
					    line_of(kn), sec ? "key" : "section", full);
		seen |= 1ull << i;
		if (lv == TOP && i == CHI_CFG_POOLS)
			rc = parse_pools(x, c, vn);
		else if (lv == TOP && is_null(vn))
			rc = 0;
		else if (lv == TOP && vn->type != YAML_MAPPING_NODE)
			rc = chi_cfg_fail(x->err, x->errlen,
					  "%s:%lu: section '%s' must be a mapping of keys", x->origin,
					  line_of(vn), chi_cfg_roots[i]);
		else if (lv == TOP)
			rc = walk(x, c, vn, SECTION, chi_cfg_roots[i], NULL);
		else if (lv == SECTION && i == chi_cfg_nkeys)
			rc = parse_peers(x, c, vn);
		else if (!v)
			rc = chi_cfg_fail(x->err, x->errlen,
					  "%s:%lu: bad value for '%s': expected a scalar, not %s",
					  x->origin, line_of(vn), full,
					  vn->type == YAML_MAPPING_NODE ? "a mapping"
					  : vn->type == YAML_SEQUENCE_NODE ? "a sequence" : "text with a NUL");
		else if (lv == POOL ? !chi_cfg_set_pool_key(to, i, v, why, sizeof(why))
			 : lv == PEER ? !chi_cfg_set_peer_key(to, i, v, why, sizeof(why))
			 : !chi_cfg_set_key(c, &chi_cfg_keys[i], v, why, sizeof(why)))
			rc = chi_cfg_fail(x->err, x->errlen, "%s:%lu: bad value '%s' for '%s': %s",
					  x->origin, line_of(vn), chi_cfg_shown(v, x->q), full, why);
		if (rc)
			return rc;
		if (x->o && lv == SECTION && i < chi_cfg_nkeys)
			x->o->line[i] = (uint32_t)line_of(vn);
		if (x->o && lv == POOL && !strcmp(chi_cfg_pool_keys[i], "node"))
			x->o->pool_node_line[(chi_pool_conf *)to - c->pools] = (uint32_t)line_of(vn);
	}
	/* a pool's name, module and id are required; a peer's node, host and port */
	for (unsigned i = 0; (lv == POOL || lv == PEER) && i < 3; i++)
		if (!(seen & (1ull << i)))
			return chi_cfg_fail(x->err, x->errlen, "%s:%lu: missing key '%s.%s'", x->origin,
					    line_of(map), sec,
					    lv == POOL ? chi_cfg_pool_keys[i] : chi_cfg_peer_keys[i]);
	return 0;
}

/* `pools` in the file, even empty or null, replaces the whole pool list. */
static int parse_pools(struct ctx *x, chi_config *c, yaml_node_t *seq)
{
	char sec[32], why[160];
	memset(c->pools, 0, sizeof(c->pools));
	c->npools = 0;
	char where[300];
	snprintf(where, sizeof(where), "%.250s:%lu", x->origin, line_of(seq));
	if (is_null(seq))
		return chi_cfg_admin_ensure(c, where, x->err, x->errlen);
	if (seq->type != YAML_SEQUENCE_NODE)
		return chi_cfg_fail(x->err, x->errlen, "%s:%lu: 'pools' must be a sequence of mappings",
				    x->origin, line_of(seq));
	for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		yaml_node_t *m = yaml_document_get_node(x->doc, *it);
		unsigned np = c->npools;
		int rc;
		if (!m)
			return -EINVAL;
		if (np == CHI_MAX_POOLS)
			return chi_cfg_fail(x->err, x->errlen, "%s:%lu: too many pools (at most %d)",
					    x->origin, line_of(m), CHI_MAX_POOLS);
		snprintf(sec, sizeof(sec), "pools[%u]", np);
		if (m->type != YAML_MAPPING_NODE)
			return chi_cfg_fail(x->err, x->errlen, "%s:%lu: '%s' must be a mapping",
					    x->origin, line_of(m), sec);
		c->pools[np].node = CHI_NODE_ANY;
		if ((rc = walk(x, c, m, POOL, sec, &c->pools[np])))
			return rc;
		if (chi_cfg_admin_node(&c->pools[np], why, sizeof(why)))
			return chi_cfg_fail(x->err, x->errlen, "%s:%lu: bad '%s.node': %s", x->origin,
					    line_of(m), sec, why);
		for (unsigned j = 0; j < np; j++)
			if (chi_cfg_pool_clash(c, np, j))
				return chi_cfg_fail(x->err, x->errlen,
						    "%s:%lu: '%s' has the same %s as 'pools[%u]'", x->origin,
						    line_of(m), sec, chi_cfg_pool_clash(c, np, j), j);
		c->npools = np + 1;
	}
	return chi_cfg_admin_ensure(c, where, x->err, x->errlen);
}

/* `cluster.peers` in the file, even empty or null, replaces the whole list
 * (cluster.hosts_file adds to it when the configuration is loaded). */
static int parse_peers(struct ctx *x, chi_config *c, yaml_node_t *seq)
{
	chi_cluster_conf *cl = &c->cluster;
	char sec[40];
	memset(cl->peers, 0, sizeof(cl->peers));
	cl->npeers = 0;
	if (is_null(seq))
		return 0;
	if (seq->type != YAML_SEQUENCE_NODE)
		return chi_cfg_fail(x->err, x->errlen, "%s:%lu: 'cluster.peers' must be a sequence of "
				    "mappings {node, host, port}", x->origin, line_of(seq));
	for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		yaml_node_t *m = yaml_document_get_node(x->doc, *it);
		unsigned np = cl->npeers;
		int rc, j;
		if (!m)
			return -EINVAL;
		if (np == CHI_MAX_NODES)
			return chi_cfg_fail(x->err, x->errlen, "%s:%lu: too many entries in "
					    "'cluster.peers' (at most %d)", x->origin, line_of(m),
					    CHI_MAX_NODES);
		snprintf(sec, sizeof(sec), "cluster.peers[%u]", np);
		if (m->type != YAML_MAPPING_NODE)
			return chi_cfg_fail(x->err, x->errlen, "%s:%lu: '%s' must be a mapping {node, "
					    "host, port}", x->origin, line_of(m), sec);
		if ((rc = walk(x, c, m, PEER, sec, &cl->peers[np])))
			return rc;
		if ((j = chi_cfg_peer_find(cl, cl->peers[np].node, np)) >= 0)
			return chi_cfg_fail(x->err, x->errlen, "%s:%lu: '%s' has the same node (%u) as "
					    "'cluster.peers[%d]'", x->origin, line_of(m), sec,
					    cl->peers[np].node, j);
		cl->npeers = np + 1;
	}
	return 0;
}

static int syntax_error(struct ctx *x, const yaml_parser_t *p, const char *text, size_t len)
{
	unsigned long line = (unsigned long)p->problem_mark.line + 1;
	if (p->error == YAML_MEMORY_ERROR) {
		chi_cfg_fail(x->err, x->errlen, "%s: out of memory", x->origin);
		return -ENOMEM;
	}
	if (p->error == YAML_READER_ERROR) { /* the reader only knows the byte offset */
		line = 1;
		for (size_t i = 0; i < p->problem_offset && i < len; i++)
			line += text[i] == '\n';
	}
	return chi_cfg_fail(x->err, x->errlen, "%s:%lu: YAML syntax error: %s%s%s%s", x->origin,
			    line, p->problem ? p->problem : "invalid YAML", p->context ? " (" : "",
			    p->context ? p->context : "", p->context ? ")" : "");
}

int chi_config_parse(chi_config *c, const char *text, size_t len, const char *origin,
		     char *err, size_t errlen)
{
	return chi_cfg_parse(c, text, len, origin, NULL, err, errlen);
}

int chi_cfg_parse(chi_config *c, const char *text, size_t len, const char *origin,
		  struct chi_cfg_origin *o, char *err, size_t errlen)
{
	struct ctx x = { .origin = origin ? origin : "config", .o = o, .err = err, .errlen = errlen };
	yaml_parser_t p;
	yaml_document_t doc, next;
	yaml_node_t *root;
	chi_config *tmp;
	int rc;
	if (!c || (!text && len))
		return chi_cfg_fail(err, errlen, "%s: no configuration given", x.origin);
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
			rc = chi_cfg_fail(err, errlen, "%s:%lu: expected a mapping of sections "
					  "(runtime, memory, gpu, cluster, pools)", x.origin, line_of(root));
		else
			rc = walk(&x, tmp, root, TOP, NULL, NULL);
		yaml_document_delete(&doc);
		if (rc == 0 && !yaml_parser_load(&p, &next))
			rc = syntax_error(&x, &p, text, len);
		else if (rc == 0) {
			if ((root = yaml_document_get_root_node(&next)))
				rc = chi_cfg_fail(err, errlen, "%s:%lu: only one YAML document is allowed",
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

/* ---- loading ---- */

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
		chi_cfg_fail(err, errlen, "%s: cannot read: %s", path, strerror(-rc));
		free(*buf);
	}
	return rc;
}

/* cluster.hosts_file: lines "node host port" (blanks between), '#' to the
 * end of a line a comment, blank lines skipped; each entry is added to
 * cluster.peers with the rules of an entry there. One that repeats an entry
 * already there exactly is skipped (so the output of --print, which lists
 * every peer and names the file, loads again); another with the same node
 * is refused. All or nothing. */
static int read_hosts(chi_config *c, char *err, size_t errlen)
{
	chi_cluster_conf cl = c->cluster;
	const char *path = c->cluster.hosts_file;
	char *buf, *line, *next, *sp, *f[3], why[160], q[72];
	size_t len = 0;
	unsigned long ln = 0;
	int rc;
	if (!path[0])
		return 0;
	if ((rc = read_file(path, &buf, &len, NULL, 0)))
		return chi_cfg_fail(err, errlen, "%s: cannot read 'cluster.hosts_file': %s", path,
				    strerror(-rc)), rc;
	buf[len] = '\0';
	for (size_t i = 0; i < len && rc == 0; i++) { /* a NUL would end a line early */
		ln += buf[i] == '\n';
		if (!buf[i])
			rc = chi_cfg_fail(err, errlen, "%s:%lu: a NUL byte in 'cluster.hosts_file'", path,
					  ln + 1);
	}
	ln = 0;
	for (line = buf; line && rc == 0; line = next) {
		chi_peer_conf p;
		unsigned nf = 0;
		int j;
		next = memchr(line, '\n', len - (size_t)(line - buf));
		if (next)
			*next++ = '\0';
		ln++;
		line[strcspn(line, "#")] = '\0';
		for (char *t = strtok_r(line, " \t\r", &sp); t; t = strtok_r(NULL, " \t\r", &sp))
			if (nf++ < 3)
				f[nf - 1] = t;
		if (nf == 0)
			continue;
		if (nf != 3) {
			rc = chi_cfg_fail(err, errlen, "%s:%lu: expected 'node host port' (an entry of "
					  "'cluster.hosts_file'), not %u field%s", path, ln, nf,
					  nf == 1 ? "" : "s");
			break;
		}
		memset(&p, 0, sizeof(p));
		for (unsigned i = 0; i < 3 && rc == 0; i++)
			if (!chi_cfg_set_peer_key(&p, i, f[i], why, sizeof(why)))
				rc = chi_cfg_fail(err, errlen, "%s:%lu: bad %s '%s' in 'cluster.hosts_file': "
						  "%s", path, ln, chi_cfg_peer_keys[i],
						  chi_cfg_shown(f[i], q), why);
		if (rc)
			break;
		if ((j = chi_cfg_peer_find(&cl, p.node, cl.npeers)) >= 0) {
			if (!strcmp(cl.peers[j].host, p.host) && cl.peers[j].port == p.port)
				continue;
			rc = chi_cfg_fail(err, errlen, "%s:%lu: node %u (in 'cluster.hosts_file') is "
					  "already 'cluster.peers[%d]', with host %s port %u", path, ln,
					  p.node, j, cl.peers[j].host, cl.peers[j].port);
		} else if (cl.npeers == CHI_MAX_NODES)
			rc = chi_cfg_fail(err, errlen, "%s:%lu: too many entries in 'cluster.peers' with "
					  "'cluster.hosts_file' (at most %d)", path, ln, CHI_MAX_NODES);
		else
			cl.peers[cl.npeers++] = p;
	}
	free(buf);
	if (rc == 0)
		c->cluster = cl;
	return rc;
}

int chi_config_load(chi_config *c, const char *path, char *err, size_t errlen)
{
	struct chi_cfg_origin *o;
	char *buf = NULL;
	size_t len = 0;
	int rc;
	chi_config_defaults(c);
	if (!path && (path = getenv("CHI_SERVER_CONF")) && !*path)
		path = NULL;
	if (!(o = calloc(1, sizeof(*o))))
		return -ENOMEM;
	o->file = path;
	if (path) {
		if ((rc = read_file(path, &buf, &len, err, errlen)))
			goto out;
		rc = chi_cfg_parse(c, buf, len, path, o, err, errlen);
		free(buf);
		if (rc)
			goto out;
	}
	if ((rc = chi_cfg_apply_env(c, o, err, errlen)) || (rc = read_hosts(c, err, errlen)))
		goto out;
	rc = chi_cfg_validate(c, o, err, errlen);
out:
	free(o);
	return rc;
}
