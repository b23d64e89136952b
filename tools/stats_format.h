/* tools/stats_format.h: the text of `chi stats` (a table, --json,
 * --prometheus) and of /metrics (tools/metrics_http.c), written from a
 * snapshot of the counters that the runtime's chi_stats_query takes
 * (src/runtime/stats.h). Output formats: docs/stats.md. */
#ifndef CHI_TOOLS_STATS_FORMAT_H
#define CHI_TOOLS_STATS_FORMAT_H

#include <stddef.h>

#include "runtime/stats.h"

/* Write the snapshot into buf (NUL-terminated, truncated to cap; buf may be
 * NULL when cap is 0). Returns the length it needed, like snprintf. */
size_t chi_cli_stats_table(const chi_stats_snapshot *s, char *buf, size_t cap);
size_t chi_cli_stats_json(const chi_stats_snapshot *s, char *buf, size_t cap);
/* Prometheus text exposition format 0.0.4 */
size_t chi_cli_stats_prometheus(const chi_stats_snapshot *s, char *buf, size_t cap);

#endif
