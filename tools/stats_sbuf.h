/* tools/stats_sbuf.h: what the formatters of `chi stats` share
 * (stats_format.c: table and JSON; stats_prom.c: Prometheus): a bounded
 * appender, escaping, units, lane names and the cluster's words. Private to
 * tools/ (and the tests that include the formatters' sources). */
#ifndef CHI_TOOLS_STATS_SBUF_H
#define CHI_TOOLS_STATS_SBUF_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "stats_format.h"

/* ---- a bounded appender ---- */
typedef struct sbuf {
	char *p;
	size_t cap, len;
} sbuf;

__attribute__((format(printf, 2, 3), unused)) static void put(sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t room = b->len < b->cap ? b->cap - b->len : 0;
	int n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->len += (size_t)n;
}

static inline size_t done(sbuf *b)
{
	if (b->cap)
		b->p[b->len < b->cap ? b->len : b->cap - 1] = 0;
	return b->len;
}

/* escape for a JSON string or a Prometheus label value (both: \ " and
 * newline; JSON also other control characters) */
static inline void put_esc(sbuf *b, const char *s, int json)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '\\' || ch == '"')
			put(b, "\\%c", ch);
		else if (ch == '\n')
			put(b, "\\n");
		else if (ch < 0x20)
			json ? put(b, "\\u%04x", ch) : put(b, "?");
		else
			put(b, "%c", ch);
	}
}

static inline double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* a latency of a lane; "-" when the lane has no samples */
static inline void put_ns(sbuf *b, uint64_t ns, uint64_t samples)
{
	if (!samples)
		put(b, " %11s", "-");
	else if (ns < 10000)
		put(b, " %8llu ns", (unsigned long long)ns);
	else if (ns < 10000000)
		put(b, " %8.1f us", (double)ns / 1e3);
	else
		put(b, " %8.1f ms", (double)ns / 1e6);
}

/* "cpu", or "gpu<g>" for a lane of GPU g. */
static inline void queue_name(const chi_lane_stats *l, char *q, size_t cap)
{
	if (l->gpu)
		snprintf(q, cap, "gpu%u", (unsigned)(l->gpu - 1) & 0xffffu);
	else
		snprintf(q, cap, "cpu");
}

/* Lanes and workers the snapshot lacks (stats.h: more than it keeps, or the
 * runtime changed between pages): never left out silently. */
static inline uint32_t lanes_left_out(const chi_stats_snapshot *s)
{
	return s->st->lanes_total > s->nlane_stats ? s->st->lanes_total - s->nlane_stats : 0;
}
static inline uint32_t workers_left_out(const chi_stats_snapshot *s)
{
	return s->st->workers_total > s->nworker_stats ? s->st->workers_total - s->nworker_stats : 0;
}
#define STR_(x) #x
#define STR(x) STR_(x)
#define LEFT_OUT_WHY \
	"chi stats keeps at most " STR(CHI_STATS_KEEP_MAX) ", or the runtime changed while they were read"

/* ---- the cluster (admin.peers) ---- */
static inline int has_cluster(const chi_stats_snapshot *s)
{
	return s->peers && s->peers->node >= 0;
}

static inline const char *peer_state(uint32_t st)
{
	static const char *const w[] = {"down", "connecting", "up", "refused", "self"};
	return st < sizeof(w) / sizeof(w[0]) ? w[st] : "?";
}

#endif
