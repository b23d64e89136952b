/* tools/metrics_http.c: `chi start --metrics-port P`: a small HTTP responder
 * thread on 127.0.0.1:P. GET /metrics answers the runtime's statistics in the
 * Prometheus text exposition format (the same text as chi stats
 * --prometheus, gathered with admin tasks through the runtime's own client);
 * anything else gets 404. One connection at a time: a scrape is small. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chi/chi.h"
#include "metrics_http.h"
#include "runtime/stats.h"

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void answer(chi_metrics *m, int fd)
{
	char req[1024];
	ssize_t n = recv(fd, req, sizeof(req) - 1, 0);
	if (n <= 0)
		return;
	req[n] = 0;
	if (strncmp(req, "GET /metrics", 12) != 0 || (req[12] != ' ' && req[12] != '?')) {
		const char *nf = "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n"
				 "Content-Length: 10\r\n\r\nnot found\n";
		send_all(fd, nf, strlen(nf));
		return;
	}
	chi_stats_snapshot s;
	int rc = chi_stats_query(chi_runtime_client(m->rt), m->name, &s);
	if (rc) {
		const char *err = "HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
		send_all(fd, err, strlen(err));
		return;
	}
	size_t need = chi_stats_format_prometheus(&s, NULL, 0) + 1;
	char *body = malloc(need);
	if (body) {
		chi_stats_format_prometheus(&s, body, need);
		char hdr[160];
		int hn = snprintf(hdr, sizeof(hdr),
				  "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
				  "Content-Length: %zu\r\n\r\n", strlen(body));
		send_all(fd, hdr, (size_t)hn);
		send_all(fd, body, strlen(body));
		free(body);
	}
	chi_stats_free(&s);
}

static void *serve(void *arg)
{
	chi_metrics *m = arg;
	while (!__atomic_load_n(&m->stop, __ATOMIC_ACQUIRE)) {
		struct pollfd p = {m->fd, POLLIN, 0};
		if (poll(&p, 1, 200) <= 0)
			continue;
		int c = accept(m->fd, NULL, NULL);
		if (c < 0)
			continue;
		struct timeval tv = {2, 0};
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		answer(m, c);
		close(c);
	}
	return NULL;
}

int chi_metrics_start(chi_metrics *m, chi_runtime *rt, const char *name, int port)
{
	memset(m, 0, sizeof(*m));
	m->rt = rt;
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (m->fd < 0)
		return -errno;
	int one = 1;
	setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(m->fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(m->fd, 8) != 0) {
		int e = -errno;
		close(m->fd);
		return e;
	}
	int rc = pthread_create(&m->thread, NULL, serve, m);
	if (rc) {
		close(m->fd);
		return -rc;
	}
	m->started = 1;
	return 0;
}

void chi_metrics_stop(chi_metrics *m)
{
	if (!m->started)
		return;
	__atomic_store_n(&m->stop, 1, __ATOMIC_RELEASE);
	pthread_join(m->thread, NULL);
	close(m->fd);
	m->started = 0;
}
