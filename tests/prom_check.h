/* tests/prom_check.h: a strict parser of the Prometheus text exposition
 * format (0.0.4), for the tests of `chi stats --prometheus` and /metrics
 * (tests/test_stats.c, tests/test_stats_format.c): comments are HELP then
 * TYPE, each family declared once, counters named _total, every sample in
 * its family with labels, summaries with a quantile label on the base name
 * only, histograms as _bucket (with le), _sum and _count only, each series'
 * buckets in increasing le with cumulative counts ending at le="+Inf",
 * whose count its _count repeats, escapes and values as the format allows,
 * no duplicate series.
 * prom_check returns NULL when the text is valid, else what is wrong. */
#ifndef CHI_TESTS_PROM_CHECK_H
#define CHI_TESTS_PROM_CHECK_H

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXS 4096
static char *series[MAXS];
static int nseries;

static int is_name(const char *s, size_t n, int colon)
{
	if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_' || (colon && s[0] == ':')))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || (colon && s[i] == ':')))
			return 0;
	return 1;
}

static char *seen[512];
static int nseen;

/* the histogram series being read: its labels without le, the last
 * bucket's bound and count, the +Inf bucket's count (-1: not yet), and
 * whether its _count came */
static struct {
	char key[1024];
	double le, val, inf;
	int counted;
} hist;

static void hist_reset(const char *key)
{
	snprintf(hist.key, sizeof(hist.key), "%s", key);
	hist.le = -1e300;
	hist.val = -1;
	hist.inf = -1;
	hist.counted = 0;
}

/* Returns NULL when `text` is valid, else a description of the first error. */
static const char *prom_check_inner(const char *text, int *nsamples)
{
	static char err[512];
	char fam[256] = "", type[32] = "", helped[256] = "";
	*nsamples = 0;
	hist_reset("");
	hist.counted = 1;
	size_t len = strlen(text);
	if (!len || text[len - 1] != '\n')
		return "output does not end with a newline";
	for (const char *p = text; *p;) {
		const char *e = strchr(p, '\n');
		char line[2048];
		size_t n = (size_t)(e - p);
		if (n >= sizeof(line))
			return "line too long";
		memcpy(line, p, n);
		line[n] = 0;
		p = e + 1;
		if (!n)
			return "empty line";
		if (line[0] == '#') {
			char kw[16], name[256];
			int off = 0;
			if (sscanf(line, "# %15s %255s %n", kw, name, &off) < 2 || !off)
				return "bad comment line";
			if (!is_name(name, strlen(name), 1))
				return "bad metric name in comment";
			if (!strcmp(kw, "HELP")) {
				if (!strcmp(type, "histogram") && !hist.counted)
					return "histogram series without _count";
				for (int i = 0; i < nseen; i++)
					if (!strcmp(seen[i], name))
						return "metric family declared twice";
				seen[nseen++] = strdup(name);
				snprintf(helped, sizeof(helped), "%s", name);
				fam[0] = 0;
			} else if (!strcmp(kw, "TYPE")) {
				if (strcmp(helped, name))
					return "TYPE without HELP just before it";
				const char *t = line + off;
				if (strcmp(t, "counter") && strcmp(t, "gauge") && strcmp(t, "summary") &&
				    strcmp(t, "histogram") && strcmp(t, "untyped"))
					return "unknown TYPE";
				if (!strcmp(t, "counter") &&
				    (strlen(name) < 6 || strcmp(name + strlen(name) - 6, "_total")))
					return "counter name does not end in _total";
				snprintf(fam, sizeof(fam), "%s", name);
				snprintf(type, sizeof(type), "%s", t);
				helped[0] = 0;
				hist_reset(""); /* a new family: no series open */
				hist.counted = 1;
			} else {
				return "comment other than HELP/TYPE";
			}
			continue;
		}
		/* sample: name{labels} value */
		const char *q = strchr(line, '{');
		if (!q)
			return "sample without labels";
		size_t nl = (size_t)(q - line);
		if (!is_name(line, nl, 1))
			return "bad metric name";
		if (!fam[0])
			return "sample before its HELP/TYPE";
		size_t fl = strlen(fam);
		int base = nl == fl && !strncmp(line, fam, fl);
		/* the suffix after the family's name: _sum, _count (summary,
		 * histogram), _bucket (histogram) */
		const char *sfx = nl > fl && !strncmp(line, fam, fl) ? line + fl : NULL;
		size_t sn = nl - fl;
		int is_sum = sfx && sn == 4 && !strncmp(sfx, "_sum", 4);
		int is_count = sfx && sn == 6 && !strncmp(sfx, "_count", 6);
		int is_bucket = sfx && sn == 7 && !strncmp(sfx, "_bucket", 7);
		int hg = !strcmp(type, "histogram");
		int suffix = (!strcmp(type, "summary") && (is_sum || is_count)) ||
			     (hg && (is_sum || is_count || is_bucket));
		if ((!base || hg) && !suffix) {
			snprintf(err, sizeof(err), "sample %.*s outside its family %s", (int)nl, line, fam);
			return err;
		}
		/* labels; key: the labels other than le, as written */
		char names[16][64], key[1024] = "", le[64] = "";
		int nlab = 0, has_quantile = 0, has_le = 0;
		const char *r = q + 1;
		while (*r != '}') {
			const char *lab = r;
			const char *eq = strchr(r, '=');
			if (!eq || eq - r >= 64 || !is_name(r, (size_t)(eq - r), 0))
				return "bad label name";
			if (nlab == 16)
				return "too many labels";
			memcpy(names[nlab], r, (size_t)(eq - r));
			names[nlab][eq - r] = 0;
			for (int i = 0; i < nlab; i++)
				if (!strcmp(names[i], names[nlab]))
					return "duplicate label";
			if (!strcmp(names[nlab], "quantile"))
				has_quantile = 1;
			nlab++;
			r = eq + 1;
			if (*r++ != '"')
				return "label value not quoted";
			for (;; r++) {
				if (!*r)
					return "unterminated label value";
				if (*r == '"')
					break;
				if (*r == '\\') {
					r++;
					if (*r != '\\' && *r != '"' && *r != 'n')
						return "bad escape in label value";
				}
			}
			r++;
			if (!strcmp(names[nlab - 1], "le")) {
				has_le = 1;
				snprintf(le, sizeof(le), "%.*s", (int)(r - eq - 3), eq + 2);
			} else {
				size_t kl = strlen(key);
				snprintf(key + kl, sizeof(key) - kl, "%.*s,", (int)(r - lab), lab);
			}
			if (*r == ',')
				r++;
			else if (*r != '}')
				return "expected , or } after a label";
		}
		if (!strcmp(type, "summary") && base != has_quantile)
			return "summary quantile label wrong";
		if (hg && is_bucket != has_le)
			return "histogram le label wrong (on _bucket only)";
		r++;
		if (*r++ != ' ')
			return "expected one space before the value";
		char *end;
		if (strcmp(r, "+Inf") && strcmp(r, "-Inf") && strcmp(r, "NaN")) {
			if (!*r || isspace((unsigned char)*r))
				return "missing value";
			strtod(r, &end);
			if (*end)
				return "bad value (or a timestamp)";
		}
		if (hg) {
			double v = strtod(r, NULL);
			if (is_bucket) {
				if (strcmp(key, hist.key)) {
					if (!hist.counted)
						return "histogram series without _count";
					hist_reset(key);
				}
				char *le_end;
				double bound = !strcmp(le, "+Inf") ? 1e308 : strtod(le, &le_end);
				if (strcmp(le, "+Inf") && (!le[0] || *le_end))
					return "bad le value";
				if (hist.inf >= 0)
					return "histogram bucket after le=\"+Inf\"";
				if (!(bound > hist.le))
					return "histogram buckets not in increasing le";
				if (v < hist.val)
					return "histogram buckets not cumulative";
				hist.le = bound;
				hist.val = v;
				if (!strcmp(le, "+Inf"))
					hist.inf = v;
			} else {
				if (strcmp(key, hist.key) || hist.inf < 0)
					return "histogram _sum/_count before its le=\"+Inf\" bucket";
				if (is_count) {
					if (v != hist.inf)
						return "histogram _count differs from its +Inf bucket";
					hist.counted = 1;
				}
			}
		}
		/* no duplicate series */
		size_t sl = (size_t)(r - 1 - line);
		for (int i = 0; i < nseries; i++)
			if (strlen(series[i]) == sl && !strncmp(series[i], line, sl))
				return "duplicate series";
		if (nseries == MAXS)
			return "too many series";
		series[nseries++] = strndup(line, sl);
		(*nsamples)++;
	}
	if (!strcmp(type, "histogram") && !hist.counted)
		return "histogram series without _count";
	return NULL;
}

/* The parser, with its bookkeeping freed whatever it returns. */
static const char *prom_check(const char *text, int *nsamples)
{
	nseen = 0;
	nseries = 0;
	const char *err = prom_check_inner(text, nsamples);
	for (int i = 0; i < nseen; i++)
		free(seen[i]);
	for (int i = 0; i < nseries; i++)
		free(series[i]);
	nseen = nseries = 0;
	return err;
}

#endif
