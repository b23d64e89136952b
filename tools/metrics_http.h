/* tools/metrics_http.h: the /metrics responder of `chi start --metrics-port`. */
#ifndef CHI_TOOLS_METRICS_HTTP_H
#define CHI_TOOLS_METRICS_HTTP_H

#include "chi/chi.h"

struct MHD_Daemon;

typedef struct chi_metrics {
	chi_runtime *rt;
	char name[64];
	struct MHD_Daemon *d; /* libmicrohttpd, its own polling thread */
} chi_metrics;

/* Listen on 127.0.0.1:port and serve GET /metrics; returns once the port
 * listens, or -errno (bind's, e.g. -EADDRINUSE) on failure. */
int chi_metrics_start(chi_metrics *m, chi_runtime *rt, const char *name, int port);
/* Stop serving and close the port; a no-op when not started. */
void chi_metrics_stop(chi_metrics *m);

#endif
