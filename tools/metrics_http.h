/* tools/metrics_http.h: the /metrics responder of `chi start --metrics-port`. */
#ifndef CHI_TOOLS_METRICS_HTTP_H
#define CHI_TOOLS_METRICS_HTTP_H

#include <pthread.h>

#include "chi/chi.h"

typedef struct chi_metrics {
	chi_runtime *rt;
	char name[64];
	int fd;
	int started;
	int stop;
	pthread_t thread;
} chi_metrics;

/* Listen on 127.0.0.1:port and serve GET /metrics; -errno on failure. */
int chi_metrics_start(chi_metrics *m, chi_runtime *rt, const char *name, int port);
void chi_metrics_stop(chi_metrics *m);

#endif
