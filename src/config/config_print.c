/* src/config/config_print.c: the default of every key (DESIGN.md,
 * "Configuration") and chi_config_print, which writes the effective
 * configuration as YAML that chi_config_parse reads back into the same
 * struct. Every key is written, including each pool's path and size; sizes
 * use the largest exact K/M/G suffix; strings are double-quoted with every
 * byte outside printable ASCII escaped, so the output is plain ASCII. A
 * pool's node is written only when it has one (not -1). cluster.peers
 * holds the entries of cluster.hosts_file too once loaded; loading the
 * output again skips those that the file repeats exactly. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "chi/config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void chi_config_defaults(chi_config *c)
{
	static const struct { const char *name, *module; uint64_t size; } pools[] = {
		{ "admin", "admin", 0 },
		{ "test", "test", 0 },
		{ "ram0", "bdev", 64ull << 20 }, /* a RAM bdev (path "") */
	};
	memset(c, 0, sizeof(*c)); /* also the padding and string tails: memcmp-able */
	strcpy(c->name, "chi");
	c->num_workers = 0; /* auto: CHI_CPU_WORKERS, plus one per GPU lane (dedicated) */
	c->queue_depth = 1024;
	c->lanes = 0;
	c->first_busy_wait_us = 10000;
	c->max_sleep_us = 50000;
	c->bulk_every = 16;
	c->hole_timeout_ms = 100;
	c->main_segment_size = 0;
	c->max_task_size = 1ull << 20;
	c->gpu_enabled = CHI_AUTO;
	c->gpu_segment_size = 0; /* auto: what the lanes, depth and clients need */
	c->gpu_queue_depth = 0;
	c->gpu_lanes = 1;
	c->gpu_clients = 4;
	c->gpu_workers = CHI_GPU_WORKERS_DEDICATED;
	c->gpu_numa = CHI_NUMA_AUTO;
	c->gpu_max_sleep_us = 100;
	c->cluster.node = CHI_NODE_ANY; /* no cluster */
	c->cluster.heartbeat_ms = 500;
	c->cluster.peer_timeout_ms = 3000;
	c->cluster.task_timeout_ms = 30000;
	c->cluster.retry_ms = 500;
	c->npools = sizeof(pools) / sizeof(pools[0]);
	for (uint32_t i = 0; i < c->npools; i++) {
		strcpy(c->pools[i].name, pools[i].name);
		strcpy(c->pools[i].module, pools[i].module);
		c->pools[i].id = i;
		c->pools[i].size = pools[i].size;
		c->pools[i].node = CHI_NODE_ANY;
	}
}

struct out {
	char *buf;
	size_t len, pos; /* pos may pass len: then only counts */
};

__attribute__((format(printf, 2, 3)))
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(o->pos < o->len ? o->buf + o->pos : NULL, o->pos < o->len ? o->len - o->pos : 0,
		      fmt, ap);
	va_end(ap);
	if (n > 0)
		o->pos += (size_t)n;
}

static void put_size(struct out *o, const char *indent, const char *key, uint64_t v)
{
	for (unsigned s = 30; s >= 10; s -= 10)
		if (v && !(v & ((1ull << s) - 1))) {
			put(o, "%s%s: %llu%c\n", indent, key, (unsigned long long)(v >> s), "KMG"[s / 10 - 1]);
			return;
		}
	put(o, "%s%s: %llu\n", indent, key, (unsigned long long)v);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes) and its code
 * point in *cp, or 0 if the bytes are not valid UTF-8. */
static size_t utf8(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
	uint32_t v = s[0] & (0x7f >> len);
	if (!len || len > n || s[0] > 0xf4)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3f);
	}
	if (v < (len == 2 ? 0x80u : len == 3 ? 0x800u : 0x10000u) || v > 0x10ffff ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

/* A double-quoted YAML scalar from the string in field s (max bytes). */
static void put_str(struct out *o, const char *indent, const char *key, const char *s, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strnlen(s, max), l;
	uint32_t cp = 0;
	put(o, "%s%s: \"", indent, key);
	for (size_t i = 0; i < n; i += l ? l : 1) {
		l = u[i] >= 0x80 ? utf8(u + i, n - i, &cp) : 1;
		if (u[i] == '"' || u[i] == '\\')
			put(o, "\\%c", u[i]);
		else if (u[i] >= 0x20 && u[i] < 0x7f)
			put(o, "%c", u[i]);
		else if (u[i] < 0x80 || !l) /* control byte, or not UTF-8 (cannot round-trip) */
			put(o, "\\x%02x", u[i]);
		else
			put(o, cp > 0xffff ? "\\U%08x" : "\\u%04x", (unsigned)cp);
	}
	put(o, "\"\n");
}

static const char *word(int v, const char *neg2, const char *neg1, const char *zero,
			const char *one, char num[16])
{
	const char *w[] = { neg2, neg1, zero, one };
	if (v >= -2 && v <= 1 && w[v + 2])
		return w[v + 2];
	snprintf(num, 16, "%d", v); /* a node number, or a bad value validate rejects */
	return num;
}

int chi_config_print(const chi_config *c, char *buf, size_t len)
{
	struct out o = { buf, len, 0 };
	char num[16];
	put(&o, "# chi configuration: every key, effective values (auto: chi picks the value\n"
		"# when it starts; for runtime.num_workers, memory.main_segment_size,\n"
		"# gpu.segment_size and gpu.queue_depth, 0 also means auto)\n");
	put(&o, "runtime:\n");
	put_str(&o, "  ", "name", c->name, CHI_NAME_MAX);
	put_str(&o, "  ", "module_path", c->module_path, CHI_PATH_MAX);
	if (c->num_workers == 0)
		put(&o, "  num_workers: auto\n");
	else
		put(&o, "  num_workers: %u\n", c->num_workers);
	put(&o, "  queue_depth: %u\n", c->queue_depth);
	put(&o, "  lanes: %u%s\n", c->lanes, c->lanes ? "" : "  # 0 = auto: one lane per worker");
	put(&o, "  first_busy_wait_us: %llu\n", (unsigned long long)c->first_busy_wait_us);
	put(&o, "  max_sleep_us: %llu%s\n", (unsigned long long)c->max_sleep_us,
	    c->max_sleep_us ? "" : "  # 0 = workers never sleep (they poll)");
	put(&o, "  bulk_every: %u\n", c->bulk_every);
	put(&o, "  hole_timeout_ms: %u\n", c->hole_timeout_ms);
	put(&o, "memory:\n");
	if (c->main_segment_size == 0)
		put(&o, "  main_segment_size: auto\n");
	else
		put_size(&o, "  ", "main_segment_size", c->main_segment_size);
	put_size(&o, "  ", "max_task_size", c->max_task_size);
	put(&o, "gpu:\n");
	put(&o, "  enabled: %s\n", word((int)c->gpu_enabled, NULL, "auto", "false", "true", num));
	if (c->gpu_segment_size == 0)
		put(&o, "  segment_size: auto\n");
	else
		put_size(&o, "  ", "segment_size", c->gpu_segment_size);
	if (c->gpu_queue_depth == 0)
		put(&o, "  queue_depth: auto\n");
	else
		put(&o, "  queue_depth: %u\n", c->gpu_queue_depth);
	put(&o, "  lanes: %u\n", c->gpu_lanes);
	put(&o, "  clients: %u\n", c->gpu_clients);
	put(&o, "  workers: %s\n", word((int)c->gpu_workers, NULL, NULL, "dedicated", "shared", num));
	put(&o, "  numa: %s\n", word(c->gpu_numa, "off", "auto", NULL, NULL, num));
	put(&o, "  max_sleep_us: %llu%s\n", (unsigned long long)c->gpu_max_sleep_us,
	    c->gpu_max_sleep_us ? "" : "  # 0 = workers with GPU lanes never sleep");
	put(&o, "  lane_helpers: %u%s\n", c->gpu_lane_helpers,
	    c->gpu_lane_helpers ? "" : "  # 0 = none: each GPU lane's owner runs its batches alone");
	put(&o, "cluster:\n");
	put(&o, "  node: %d%s\n", (int)c->cluster.node,
	    c->cluster.node >= 0 ? "" : "  # -1 = no cluster: this runtime is the only node");
	put_str(&o, "  ", "listen", c->cluster.listen, CHI_HOST_MAX);
	put(&o, "  port: %u%s\n", c->cluster.port,
	    c->cluster.port ? "" : "  # 0 = the port of this node's entry in peers");
	put_str(&o, "  ", "key_file", c->cluster.key_file, CHI_PATH_MAX);
	put_str(&o, "  ", "hosts_file", c->cluster.hosts_file, CHI_PATH_MAX);
	put(&o, "  heartbeat_ms: %u\n", c->cluster.heartbeat_ms);
	put(&o, "  peer_timeout_ms: %u\n", c->cluster.peer_timeout_ms);
	put(&o, "  task_timeout_ms: %u\n", c->cluster.task_timeout_ms);
	put(&o, "  retry_ms: %u\n", c->cluster.retry_ms);
	put(&o, "  peers:%s\n", c->cluster.npeers ? "" : " []");
	for (uint32_t i = 0; i < c->cluster.npeers && i < CHI_MAX_NODES; i++) {
		const chi_peer_conf *p = &c->cluster.peers[i];
		put(&o, "    - node: %u\n", p->node);
		put_str(&o, "      ", "host", p->host, CHI_HOST_MAX);
		put(&o, "      port: %u\n", p->port);
	}
	put(&o, "pools:%s\n", c->npools ? "" : " []");
	for (uint32_t i = 0; i < c->npools && i < CHI_MAX_POOLS; i++) {
		const chi_pool_conf *p = &c->pools[i];
		put_str(&o, "  - ", "name", p->name, CHI_NAME_MAX);
		put_str(&o, "    ", "module", p->module, CHI_NAME_MAX);
		put(&o, "    id: %u\n", p->id);
		put_str(&o, "    ", "path", p->path, CHI_PATH_MAX);
		put_size(&o, "    ", "size", p->size);
		if (p->node != CHI_NODE_ANY) /* a one-node configuration prints as before */
			put(&o, "    node: %d\n", (int)p->node);
	}
	if (o.pos >= len || o.pos > INT_MAX)
		return -ENOSPC;
	return (int)o.pos;
}
