/* tools/cmd_stats.c: chi stats [--name N] [--config F] [--json|--prometheus]
 * [--watch S]: per lane, worker, pool/method counters and sampled latency
 * quantiles of a running runtime (docs/stats.md). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "chi/chi.h"
#include "cli.h"
#include "stats_format.h"

int chi_cmd_stats(int argc, char **argv);

static volatile sig_atomic_t interrupted;
static void on_int(int sig)
{
	(void)sig;
	interrupted = 1;
}

static const char usage[] =
	"usage: chi stats [--name NAME] [--config FILE] [--json | --prometheus] [--watch S]\n"
	"  --json        one JSON object\n"
	"  --prometheus  Prometheus text exposition format\n"
	"  --watch S     print again every S seconds until interrupted\n";

int chi_cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {{"name", required_argument, 0, 'n'},
					     {"config", required_argument, 0, 'c'},
					     {"json", no_argument, 0, 'j'},
					     {"prometheus", no_argument, 0, 'p'},
					     {"watch", required_argument, 0, 'w'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	const char *name = NULL, *conf = NULL;
	int o, fmt = 0; /* 0 table, 1 json, 2 prometheus */
	double watch = 0;
	optind = 1;
	while ((o = getopt_long(argc, argv, "n:c:jpw:h", opts, NULL)) != -1) {
		switch (o) {
		case 'n': name = optarg; break;
		case 'c': conf = optarg; break;
		case 'j':
		case 'p':
			if (fmt && fmt != (o == 'j' ? 1 : 2)) {
				fprintf(stderr, "chi stats: --json and --prometheus cannot be used "
						"together (pick one output format)\n");
				return 2;
			}
			fmt = o == 'j' ? 1 : 2;
			break;
		case 'w': {
			char *end;
			watch = strtod(optarg, &end);
			if (end == optarg || *end || !(watch > 0) || watch > 86400) {
				fprintf(stderr, "chi stats: --watch wants a number of seconds above 0, at most 86400, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		}
		case 'h': printf("%s", usage); return 0;
		default: fprintf(stderr, "%s", usage); return 2;
		}
	}
	if (chi_cli_no_args("stats", argc, argv))
		return 2;
	chi_config cfg;
	chi_client *c = chi_cli_connect(&name, conf, &cfg);
	if (!c)
		return 1;
	if (watch > 0) {
		struct sigaction sa = {0};
		sa.sa_handler = on_int;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	/* the text of every lane and worker: the buffer grows to what the
	 * formatter needs (1024 lanes in Prometheus form pass 1 MiB) */
	size_t (*format)(const chi_stats_snapshot *, char *, size_t) =
		fmt == 1 ? chi_cli_stats_json : fmt == 2 ? chi_cli_stats_prometheus : chi_cli_stats_table;
	size_t cap = 1 << 16;
	char *buf = malloc(cap);
	int status = 0;
	for (int first = 1; buf && !interrupted; first = 0) {
		chi_stats_snapshot s;
		int rc = chi_stats_query(c, name, &s);
		if (rc) {
			fprintf(stderr, "chi: stats query failed: %s\n", chi_strerror(rc));
			status = 1;
			break;
		}
		size_t need = format(&s, NULL, 0) + 1;
		if (need > cap) {
			char *nb = realloc(buf, need);
			if (!nb) {
				chi_stats_free(&s);
				fprintf(stderr, "chi: stats: no memory for %zu bytes of output\n", need);
				status = 1;
				break;
			}
			buf = nb;
			cap = need;
		}
		format(&s, buf, cap);
		chi_stats_free(&s);
		if (watch > 0 && !first && fmt == 0)
			fputs("\n", stdout);
		fputs(buf, stdout);
		fflush(stdout);
		if (!(watch > 0))
			break;
		struct timespec ts = {(time_t)watch, (long)((watch - (double)(time_t)watch) * 1e9)};
		while (!interrupted && nanosleep(&ts, &ts) != 0)
			;
	}
	free(buf);
	chi_client_close(c);
	return status;
}
