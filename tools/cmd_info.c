/* tools/cmd_info.c: chi status, chi config --print, chi cleanup, and the
 * configuration helpers the other commands share. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chi/chi.h"
#include "chi/modules/admin.h"
#include "cli.h"
#include "ipc/client.h"
#include "shm/shm.h"

int chi_cli_load_config(chi_config *cfg, const char *path)
{
	char err[512];
	if (chi_config_load(cfg, path, err, sizeof(err))) {
		fprintf(stderr, "chi: %s\n", err);
		return -1;
	}
	return 0;
}

chi_client *chi_cli_connect(const char **name, const char *conf_path, chi_config *cfg)
{
	if (chi_cli_load_config(cfg, conf_path))
		return NULL;
	if (!*name)
		*name = cfg->name;
	chi_client *c;
	int rc = chi_client_connect(*name, &c);
	if (rc) {
		fprintf(stderr, "chi: no runtime named '%s' is running (%s)\n", *name, chi_strerror(rc));
		return NULL;
	}
	return c;
}

/* --name/--config parsing shared by status and cleanup */
static int name_opts(int argc, char **argv, const char *usage, const char **name,
		     const char **conf)
{
	static const struct option opts[] = {{"name", required_argument, 0, 'n'},
					     {"config", required_argument, 0, 'c'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "n:c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'n': *name = optarg; break;
		case 'c': *conf = optarg; break;
		case 'h': printf("%s", usage); return 0;
		default: fprintf(stderr, "%s", usage); return 2;
		}
	}
	return -1;
}

int chi_cmd_status(int argc, char **argv)
{
	const char *name = NULL, *conf = NULL;
	int rc = name_opts(argc, argv, "usage: chi status [--name NAME] [--config FILE]\n", &name,
			   &conf);
	if (rc >= 0)
		return rc;
	chi_config cfg;
	chi_client *c = chi_cli_connect(&name, conf, &cfg);
	if (!c)
		return 1;
	chi_admin_stats_task *st = malloc(sizeof(*st));
	chi_admin_list_task *pl = malloc(sizeof(*pl));
	chi_admin_stats_init(st);
	chi_admin_list_init(pl);
	int64_t r1 = chi_call(c, &st->hdr, &chi_admin_stats_codec);
	int64_t r2 = chi_call(c, &pl->hdr, &chi_admin_list_codec);
	if (r1 < 0 || r2 < 0) {
		fprintf(stderr, "chi: status query failed: %s\n", chi_strerror((int)(r1 < 0 ? r1 : r2)));
		chi_client_close(c);
		free(st);
		free(pl);
		return 1;
	}
	double up = (double)st->uptime_ns / 1e9;
	printf("runtime   %s\n", name);
	printf("pid       %d\n", c->hdr->owner_pid);
	printf("uptime    %.1f s\n", up);
	printf("workers   %u\n", st->nworkers);
	printf("lanes     %u x 2 priorities, depth %u\n", st->nlanes, c->dir->depth);
	printf("clients   %llu found dead, %llu arena chunks and %llu GPU slices reclaimed\n",
	       (unsigned long long)c->dir->clients_dead, (unsigned long long)c->dir->chunks_reclaimed,
	       (unsigned long long)c->dir->gpu_slices_reclaimed);
	for (uint32_t g = 0; g < chi_gpu_count(c); g++) {
		chi_gpu_info gi;
		if (chi_gpu_info_get(c, g, &gi) == 0)
			printf("gpu %-5u backend id %u, %u lane(s) x 2, depth %u, NUMA node %d%s%s%s, "
			       "worker %u, GPU clients %u of %u\n"
			       "          segment %llu MiB; each GPU client, per lane: %u future "
			       "blocks (futures in flight), data blocks %u x 4 KiB, %u x 64 KiB, "
			       "%u x %llu KiB (a whole task)\n",
			       g, gi.backend_id, gi.lanes, gi.depth, gi.numa_node,
			       gi.cpulist[0] ? " (cpus " : "", gi.cpulist, gi.cpulist[0] ? ")" : "",
			       gi.worker, gi.clients, gi.slices,
			       (unsigned long long)(gi.segment_size >> 20), gi.blocks, gi.data[0],
			       gi.data[1], gi.data[2], (unsigned long long)(gi.data_size[2] >> 10));
	}
	if (!chi_gpu_count(c))
		printf("gpus      none (no GPU, no driver, or a build without CUDA)\n");
	printf("pools    ");
	for (uint32_t i = 0; i < pl->count; i++)
		printf(" %s(%u, %s)", pl->pools[i].name, pl->pools[i].id, pl->pools[i].module);
	printf("\n\n%-5s %-5s %12s %12s %8s %10s %8s %8s\n", "lane", "queue", "popped", "completed",
	       "errors", "queue_full", "holes", "depth");
	for (uint32_t i = 0; i < st->nlanes; i++) {
		chi_lane_stats *l = &st->lanes[i];
		char q[16];
		if (l->gpu)
			snprintf(q, sizeof(q), "gpu%u", (unsigned)(l->gpu - 1) & 0xffffu);
		else
			snprintf(q, sizeof(q), "cpu");
		printf("%-5u %-5s %12llu %12llu %8llu %10llu %8llu %8llu\n", i, q,
		       (unsigned long long)l->popped, (unsigned long long)l->completed,
		       (unsigned long long)l->errors, (unsigned long long)l->queue_full,
		       (unsigned long long)l->holes_skipped, (unsigned long long)l->depth);
	}
	chi_client_close(c);
	free(st);
	free(pl);
	return 0;
}

int chi_cmd_config(int argc, char **argv)
{
	static const struct option opts[] = {{"print", no_argument, 0, 'p'},
					     {"config", required_argument, 0, 'c'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	const char *conf = NULL;
	int o, print = 0;
	optind = 1;
	while ((o = getopt_long(argc, argv, "pc:h", opts, NULL)) != -1) {
		switch (o) {
		case 'p': print = 1; break;
		case 'c': conf = optarg; break;
		case 'h': printf("usage: chi config --print [--config FILE]\n"); return 0;
		default: fprintf(stderr, "usage: chi config --print [--config FILE]\n"); return 2;
		}
	}
	if (!print) {
		fprintf(stderr, "usage: chi config --print [--config FILE]\n");
		return 2;
	}
	chi_config cfg;
	if (chi_cli_load_config(&cfg, conf))
		return 1;
	static char buf[64 * 1024];
	int n = chi_config_print(&cfg, buf, sizeof(buf));
	if (n < 0) {
		fprintf(stderr, "chi: cannot print the configuration: %s\n", chi_strerror(n));
		return 1;
	}
	fputs(buf, stdout);
	return 0;
}

static void report(const char *seg, int pid, void *arg)
{
	(void)arg;
	if (pid > 0)
		printf("removed %s (owner pid %d is gone)\n", seg, pid);
	else
		printf("removed %s (never finished initializing)\n", seg);
}

int chi_cmd_cleanup(int argc, char **argv)
{
	const char *name = NULL, *conf = NULL;
	int rc = name_opts(argc, argv,
			   "usage: chi cleanup [--name NAME]\n"
			   "Removes this user's chi segments whose runtime is gone (all names, or NAME).\n",
			   &name, &conf);
	if (rc >= 0)
		return rc;
	int n = chi_shm_cleanup(name, report, NULL);
	if (n < 0) {
		fprintf(stderr, "chi: cannot scan /dev/shm: %s\n", chi_strerror(n));
		return 1;
	}
	printf("chi cleanup: %d stale segment%s removed\n", n, n == 1 ? "" : "s");
	return 0;
}
