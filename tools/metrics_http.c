/* tools/metrics_http.c: `chi start --metrics-port P`: an HTTP responder on
 * 127.0.0.1:P through libmicrohttpd (one internal polling thread). GET (or
 * HEAD) /metrics answers the runtime's statistics in the Prometheus text
 * exposition format (the same text as chi stats --prometheus, gathered with
 * admin tasks through the runtime's own client); anything else gets 404.
 *
 * The listening socket is bound here and handed to libmicrohttpd
 * (MHD_OPTION_LISTEN_SOCKET): that keeps it on the loopback address only,
 * makes the start fail with bind's own errno (a taken port reads "Address
 * already in use"), and means the port listens before start returns. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "chi/chi.h"
#include "metrics_http.h"
#include "stats_format.h"

#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result mhd_result;
#else
typedef int mhd_result;
#endif

static mhd_result reply(struct MHD_Connection *c, unsigned int status, const char *type, char *body,
			size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	if (type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	mhd_result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static mhd_result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			     const char *version, const char *upload_data, size_t *upload_size,
			     void **req_cls)
{
	chi_metrics *m = cls;
	(void)version;
	(void)upload_data;
	(void)upload_size;
	(void)req_cls;
	int get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
	if (!get || strcmp(url, "/metrics") != 0) {
		static char nf[] = "not found\n";
		return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", nf, sizeof(nf) - 1,
			     MHD_RESPMEM_PERSISTENT);
	}
	chi_stats_snapshot s;
	if (chi_stats_query(chi_runtime_client(m->rt), m->name, &s) != 0)
		return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, NULL, 0, MHD_RESPMEM_PERSISTENT);
	size_t need = chi_cli_stats_prometheus(&s, NULL, 0) + 1;
	char *body = malloc(need);
	if (!body) {
		chi_stats_free(&s);
		return MHD_NO;
	}
	chi_cli_stats_prometheus(&s, body, need);
	chi_stats_free(&s);
	return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4", body, strlen(body),
		     MHD_RESPMEM_MUST_FREE);
}

int chi_metrics_start(chi_metrics *m, chi_runtime *rt, const char *name, int port)
{
	memset(m, 0, sizeof(*m));
	m->rt = rt;
	snprintf(m->name, sizeof(m->name), "%s", name);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 16) != 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	/* From here the socket is libmicrohttpd's: MHD_stop_daemon closes it
	 * (and so do MHD_start_daemon's failure paths). */
	m->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
				on_request, m, MHD_OPTION_LISTEN_SOCKET, fd,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)2,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)16, MHD_OPTION_END);
	return m->d ? 0 : -EIO;
}

void chi_metrics_stop(chi_metrics *m)
{
	if (!m->d)
		return;
	MHD_stop_daemon(m->d);
	m->d = NULL;
}
