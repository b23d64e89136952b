/* tools/stats_format.h: the text of `chi stats` (a table, --json,
 * --prometheus) and of /metrics (tools/metrics_http.c), written from a
 * snapshot of the counters that the runtime's chi_stats_query takes
 * (src/runtime/stats.h). Output formats: docs/stats.md. */
#ifndef CHI_TOOLS_STATS_FORMAT_H
#define CHI_TOOLS_STATS_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/stats.h"

/* Write the snapshot into buf (NUL-terminated, truncated to cap; buf may be
 * NULL when cap is 0). Returns the length it needed, like snprintf. */
size_t chi_cli_stats_table(const chi_stats_snapshot *s, char *buf, size_t cap);
size_t chi_cli_stats_json(const chi_stats_snapshot *s, char *buf, size_t cap);
/* Prometheus text exposition format 0.0.4 */
size_t chi_cli_stats_prometheus(const chi_stats_snapshot *s, char *buf, size_t cap);

/* Several snapshots, one per node (chi stats --cluster), ss[0..n): the
 * tables one after the other, each headed `node N`; JSON {"nodes":[...]};
 * Prometheus families holding every node's samples (label node). With
 * n = 1 and no cluster, the same text as the functions above. */
size_t chi_cli_stats_table_nodes(const chi_stats_snapshot *ss, uint32_t n, char *buf, size_t cap);
size_t chi_cli_stats_json_nodes(const chi_stats_snapshot *ss, uint32_t n, char *buf, size_t cap);
size_t chi_cli_stats_prometheus_nodes(const chi_stats_snapshot *ss, uint32_t n, char *buf,
				      size_t cap);

#endif
