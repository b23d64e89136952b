/* tools/cmd_stats.c: chi stats [--name N] [--config F] [--json|--prometheus]
 * [--watch S] [--node N | --cluster]: per lane, worker, pool/method counters
 * and sampled latency quantiles of a running runtime, and its peers' counters
 * when it is part of a cluster; of another node through it, or of every
 * node (docs/stats.md). */
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
	"                 [--node N | --cluster]\n"
	"  --json        one JSON object\n"
	"  --prometheus  Prometheus text exposition format\n"
	"  --watch S     print again every S seconds until interrupted\n"
	"  --node N      node N of the runtime's cluster, asked through the runtime\n"
	"  --cluster     this node, then every peer that is up, one after the other\n"
	"                (JSON: {\"nodes\":[...]}; a node that fails is reported on\n"
	"                stderr and left out)\n";

/* without --cluster, JSON is the one node's object */
static size_t json_one(const chi_stats_snapshot *ss, uint32_t n, char *buf, size_t cap)
{
	(void)n;
	return chi_cli_stats_json(ss, buf, cap);
}

/* The snapshots to print: node `node` (CHI_NODE_ANY: the runtime itself),
 * or with `cluster` the runtime, then each of its peers that is up. *n is
 * how many ss holds. Returns 0 or the runtime's own query's error. */
static int gather(chi_client *c, const char *name, int32_t node, int cluster,
		  chi_stats_snapshot *ss, uint32_t *n)
{
	*n = 0;
	int rc = chi_stats_query_node(c, name, cluster ? CHI_NODE_ANY : node, &ss[0]);
	if (rc)
		return rc;
	*n = 1;
	const chi_admin_peers_task *pr = ss[0].peers;
	for (uint32_t i = 0; cluster && pr->node >= 0 && i < pr->count; i++) {
		const chi_net_peer_info *p = &pr->peers[i];
		if (p->state != CHI_PEER_UP || *n == CHI_ADMIN_PEERS_MAX)
			continue;
		rc = chi_stats_query_node(c, name, (int32_t)p->node, &ss[*n]);
		if (rc) /* that node only: the others still print */
			fprintf(stderr, "chi: stats of node %u (%s:%u) failed: %s\n", p->node, p->host,
				p->port, chi_strerror(rc));
		else
			(*n)++;
	}
	return 0;
}

int chi_cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {{"name", required_argument, 0, 'n'},
					     {"config", required_argument, 0, 'c'},
					     {"json", no_argument, 0, 'j'},
					     {"prometheus", no_argument, 0, 'p'},
					     {"watch", required_argument, 0, 'w'},
					     {"node", required_argument, 0, 'N'},
					     {"cluster", no_argument, 0, 'C'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	const char *name = NULL, *conf = NULL;
	int o, fmt = 0, cluster = 0; /* fmt: 0 table, 1 json, 2 prometheus */
	int32_t node = CHI_NODE_ANY;
	double watch = 0;
	unsigned long long v;
	optind = 1;
	while ((o = getopt_long(argc, argv, "n:c:jpw:h", opts, NULL)) != -1) {
		switch (o) {
		case 'N':
			if (chi_cli_number("stats", "node", optarg, 0, CHI_MAX_NODES - 1, &v))
				return 2;
			node = (int32_t)v;
			break;
		case 'C': cluster = 1; break;
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
	if (cluster && node != CHI_NODE_ANY) {
		fprintf(stderr, "chi stats: --node and --cluster cannot be used together (--cluster "
				"asks every node)\n");
		return 2;
	}
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
	size_t (*format)(const chi_stats_snapshot *, uint32_t, char *, size_t) =
		fmt == 1   ? (cluster ? chi_cli_stats_json_nodes : json_one)
		: fmt == 2 ? chi_cli_stats_prometheus_nodes
			   : chi_cli_stats_table_nodes;
	size_t cap = 1 << 16;
	char *buf = malloc(cap);
	static chi_stats_snapshot ss[CHI_ADMIN_PEERS_MAX];
	int status = 0;
	for (int first = 1; buf && !interrupted; first = 0) {
		uint32_t n;
		int rc = gather(c, name, node, cluster, ss, &n);
		if (rc) {
			if (node != CHI_NODE_ANY)
				fprintf(stderr, "chi: stats query of node %d failed: %s\n", node,
					chi_strerror(rc));
			else
				fprintf(stderr, "chi: stats query failed: %s\n", chi_strerror(rc));
			status = 1;
			break;
		}
		size_t need = format(ss, n, NULL, 0) + 1;
		if (need > cap) {
			char *nb = realloc(buf, need);
			if (!nb) {
				for (uint32_t k = 0; k < n; k++)
					chi_stats_free(&ss[k]);
				fprintf(stderr, "chi: stats: no memory for %zu bytes of output\n", need);
				status = 1;
				break;
			}
			buf = nb;
			cap = need;
		}
		format(ss, n, buf, cap);
		for (uint32_t k = 0; k < n; k++)
			chi_stats_free(&ss[k]);
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
