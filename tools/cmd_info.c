/* tools/cmd_info.c: chi status, chi config --print, chi cleanup, and the
 * configuration helpers the other commands share. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "chi/chi.h"
#include "chi/modules/admin.h"
#include "cli.h"
#include "ipc/client.h"
#include "runtime/stats.h"
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

int chi_cli_no_args(const char *cmd, int argc, char **argv)
{
	if (optind >= argc)
		return 0;
	fprintf(stderr, "chi %s: unexpected argument '%s'%s (chi %s --help)\n", cmd, argv[optind],
		strcmp(cmd, "demo") && strcmp(cmd, "config") ? "; a runtime's name goes in --name" : "",
		cmd);
	return 2;
}

int chi_cli_set_name(chi_config *cfg, const char *name)
{
	if (!name)
		return 0;
	chi_config c = *cfg;
	char err[512];
	if (strlen(name) >= sizeof(c.name)) {
		fprintf(stderr, "chi: --name '%s': longer than %d bytes\n", name, CHI_NAME_MAX - 1);
		return -1;
	}
	snprintf(c.name, sizeof(c.name), "%s", name);
	if (chi_config_validate(&c, err, sizeof(err))) {
		fprintf(stderr, "chi: --name '%s': not a runtime name (%s)\n", name, err);
		return -1;
	}
	*cfg = c;
	return 0;
}

int chi_cli_number(const char *cmd, const char *opt, const char *val, unsigned long long lo,
		   unsigned long long hi, unsigned long long *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(val, &end, 10);
	if (!*val || *end || errno || val[0] == '-' || val[0] == '+' || val[0] == ' ' || v < lo ||
	    v > hi) {
		fprintf(stderr, "chi %s: --%s wants a whole number from %llu to %llu, not '%s'\n", cmd,
			opt, lo, hi, val);
		return -1;
	}
	*out = v;
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

/* The state letter of /proc/<pid>/stat ('T' stopped, 't' traced), or 0. */
static char proc_state(int pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *p = strrchr(buf, ')'); /* the name may hold spaces */
	return p && p[1] == ' ' ? p[2] : 0;
}

void chi_cli_call_failed(chi_client *c, const char *name, const char *what, int64_t r)
{
	int pid = chi_client_owner_pid(c);
	char st = r == -EOWNERDEAD || r == -ENOTRECOVERABLE ? proc_state(pid) : 0;
	const char *why = st == 'T' || st == 't' ? "is stopped (SIGSTOP or a debugger)"
			  : st == 'Z' || st == 'X'  ? "has died"
			  : st                     ? "hangs"
						   : "has died";
	if (r == -EOWNERDEAD)
		fprintf(stderr,
			"chi: runtime '%s' (pid %d) %s and did not answer for 2 s: %s was withdrawn "
			"and will not run%s\n",
			name, pid, why, what,
			st == 'T' || st == 't' ? "; continue it (kill -CONT) and try again" : "");
	else if (r == -ENOTRECOVERABLE)
		fprintf(stderr,
			"chi: runtime '%s' (pid %d) %s while running %s: whether it took effect is "
			"unknown\n",
			name, pid, why, what);
	else
		fprintf(stderr, "chi: %s failed: %s\n", what, chi_strerror((int)r));
}

/* --name/--config parsing shared by status and cleanup */
static int name_opts(const char *cmd, int argc, char **argv, const char *usage, const char **name,
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
	if (chi_cli_no_args(cmd, argc, argv))
		return 2;
	return -1;
}

static const char status_usage[] =
	"usage: chi status [--name NAME] [--config FILE] [--cluster]\n"
	"  --cluster  also every peer that is up, asked through this runtime: its\n"
	"             uptime, workers, pools, lanes and peers, headed `node N (host:port)`\n"
	"             (a node that fails prints why, and the others still print)\n";

/* the pools line: name(id, module), and the home node of a pool that lives
 * on another node */
static void print_pools(const chi_admin_list_task *pl)
{
	printf("pools    ");
	for (uint32_t i = 0; i < pl->count && i < CHI_ADMIN_LIST_MAX; i++) {
		const chi_pool_info *p = &pl->pools[i];
		if (p->home >= 0)
			printf(" %s(%u, %s, node %d)", p->name, p->id, p->module, p->home);
		else
			printf(" %s(%u, %s)", p->name, p->id, p->module);
	}
	printf("\n");
}

static void print_lanes(const chi_admin_stats_task *st)
{
	printf("\n%-5s %-5s %12s %12s %8s %10s %8s %8s\n", "lane", "queue", "popped", "completed",
	       "errors", "queue_full", "holes", "depth");
	for (uint32_t i = 0; i < st->nlanes && i < CHI_STATS_PAGE_LANES; i++) {
		const chi_lane_stats *l = &st->lanes[i];
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
	if (st->nlanes < st->lanes_total)
		printf("(lanes %u-%u not shown: chi stats lists every lane)\n", st->nlanes,
		       st->lanes_total - 1);
}

static const char *peer_state_word(uint32_t st)
{
	static const char *const w[] = {"down", "connecting", "up", "refused", "self"};
	return st < sizeof(w) / sizeof(w[0]) ? w[st] : "?";
}

/* a round trip's median, or "-" without samples */
static void fmt_rtt(char *out, size_t cap, const uint64_t *hist)
{
	uint64_t ns = chi_rtt_quantile(hist, 0.5);
	if (!chi_rtt_count(hist))
		snprintf(out, cap, "-");
	else if (ns < 10000)
		snprintf(out, cap, "%llu ns", (unsigned long long)ns);
	else if (ns < 10000000)
		snprintf(out, cap, "%.1f us", (double)ns / 1e3);
	else
		snprintf(out, cap, "%.1f ms", (double)ns / 1e6);
}

/* The cluster section (a runtime in a cluster only): this node, then every
 * entry of admin.peers, its own included (state self). */
static void print_cluster(const chi_admin_peers_task *pr)
{
	printf("\ncluster   node %d, %u node%s known\n", pr->node, pr->count, pr->count == 1 ? "" : "s");
	printf("%-5s %-21s %-10s %-16s %9s %10s %10s %8s %10s %8s %10s\n", "node", "address", "state",
	       "epoch", "in_flight", "sent", "done", "failed", "received", "errors", "rtt_p50");
	for (uint32_t i = 0; i < pr->count && i < CHI_ADMIN_PEERS_MAX; i++) {
		const chi_net_peer_info *p = &pr->peers[i];
		char addr[CHI_HOST_MAX + 16], ep[20], rtt[32];
		snprintf(addr, sizeof(addr), "%s:%u", p->host, p->port);
		if (p->epoch)
			snprintf(ep, sizeof(ep), "%016llx", (unsigned long long)p->epoch);
		else /* never up */
			snprintf(ep, sizeof(ep), "-");
		fmt_rtt(rtt, sizeof(rtt), p->rtt_hist);
		printf("%-5u %-21s %-10s %-16s %9llu %10llu %10llu %8llu %10llu %8llu %10s\n", p->node,
		       addr, peer_state_word(p->state), ep, (unsigned long long)p->in_flight,
		       (unsigned long long)p->tasks_sent, (unsigned long long)p->tasks_done,
		       (unsigned long long)p->tasks_failed, (unsigned long long)p->tasks_received,
		       (unsigned long long)p->errors, rtt);
	}
}

/* What status asks a node: admin.stats (the first page), admin.list_pools,
 * admin.peers; node CHI_NODE_ANY the runtime itself, else that node through
 * it (CHI_POOL_ON_NODE). 0 or the first error. */
typedef struct status_answers {
	chi_admin_stats_task st;
	chi_admin_list_task pl;
	chi_admin_peers_task pr;
} status_answers;

static int64_t status_query(chi_client *c, int32_t node, status_answers *a)
{
	chi_admin_stats_init(&a->st);
	chi_admin_list_init(&a->pl);
	chi_admin_peers_init(&a->pr, node);
	if (node >= 0) {
		a->st.hdr.pool = CHI_POOL_ON_NODE(CHI_POOL_ADMIN, node);
		a->pl.hdr.pool = CHI_POOL_ON_NODE(CHI_POOL_ADMIN, node);
	}
	int64_t r = chi_call(c, &a->st.hdr, &chi_admin_stats_codec);
	if (r >= 0)
		r = chi_call(c, &a->pl.hdr, &chi_admin_list_codec);
	if (r >= 0)
		r = chi_call(c, &a->pr.hdr, &chi_admin_peers_codec);
	return r < 0 ? r : 0;
}

/* chi status --cluster: each peer of the runtime's answer that is up */
static void status_peers(chi_client *c, const chi_admin_peers_task *local, status_answers *a)
{
	for (uint32_t i = 0; i < local->count && i < CHI_ADMIN_PEERS_MAX; i++) {
		const chi_net_peer_info *p = &local->peers[i];
		if (p->state != CHI_PEER_UP)
			continue;
		printf("\nnode %u (%s:%u)\n", p->node, p->host, p->port);
		int64_t r = status_query(c, (int32_t)p->node, a);
		if (r < 0) {
			printf("error     %s\n", chi_strerror((int)r));
			continue;
		}
		printf("uptime    %.1f s\n", (double)a->st.uptime_ns / 1e9);
		printf("workers   %u\n", a->st.nworkers);
		printf("lanes     %u x 2 priorities\n", a->st.lanes_total);
		print_pools(&a->pl);
		print_lanes(&a->st);
		if (a->pr.node >= 0)
			print_cluster(&a->pr);
	}
}

int chi_cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {{"name", required_argument, 0, 'n'},
					     {"config", required_argument, 0, 'c'},
					     {"cluster", no_argument, 0, 'C'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	const char *name = NULL, *conf = NULL;
	int o, cluster = 0;
	optind = 1;
	while ((o = getopt_long(argc, argv, "n:c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'n': name = optarg; break;
		case 'c': conf = optarg; break;
		case 'C': cluster = 1; break;
		case 'h': printf("%s", status_usage); return 0;
		default: fprintf(stderr, "%s", status_usage); return 2;
		}
	}
	if (chi_cli_no_args("status", argc, argv))
		return 2;
	chi_config cfg;
	chi_client *c = chi_cli_connect(&name, conf, &cfg);
	if (!c)
		return 1;
	status_answers *a = malloc(sizeof(*a)), *other = malloc(sizeof(*a));
	int64_t r = a && other ? status_query(c, CHI_NODE_ANY, a) : -ENOMEM;
	if (r < 0) {
		chi_cli_call_failed(c, name, "the status query", r);
		chi_client_close(c);
		free(a);
		free(other);
		return 1;
	}
	chi_admin_stats_task *st = &a->st;
	double up = (double)st->uptime_ns / 1e9;
	printf("runtime   %s\n", name);
	printf("pid       %d\n", c->hdr->owner_pid);
	printf("uptime    %.1f s\n", up);
	printf("workers   %u\n", st->nworkers);
	printf("lanes     %u x 2 priorities, depth %u\n", st->lanes_total, c->dir->depth);
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
	print_pools(&a->pl);
	print_lanes(st);
	if (a->pr.node >= 0) { /* one node: nothing more, the output as it always was */
		print_cluster(&a->pr);
		if (cluster)
			status_peers(c, &a->pr, other);
	}
	chi_client_close(c);
	free(a);
	free(other);
	return 0;
}

/* Is module `m` one chi start would find: built in, or libchi_<m>.so in a
 * directory of the ':'-separated module path? */
static int module_found(const char *m, const char *path)
{
	static const char *const builtin[] = {"admin", "test", "bdev"};
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (!strcmp(m, builtin[i]))
			return 1;
	for (const char *p = path; p && *p;) {
		size_t n = strcspn(p, ":");
		char file[CHI_PATH_MAX + CHI_NAME_MAX + 16];
		if (n) {
			snprintf(file, sizeof(file), "%.*s/libchi_%s.so", (int)n, p, m);
			if (access(file, R_OK) == 0)
				return 1;
		}
		p += n + (p[n] == ':');
	}
	return 0;
}

int chi_cli_config_check(const chi_config *cfg)
{
	int bad = 0;
	if (cfg->main_segment_size && cfg->main_segment_size < cfg->max_task_size + (4ull << 20)) {
		fprintf(stderr, "chi: memory.main_segment_size %llu does not fit memory.max_task_size "
				"%llu and the 4 MiB the arena needs at least\n",
			(unsigned long long)cfg->main_segment_size,
			(unsigned long long)cfg->max_task_size);
		bad++;
	}
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	uint64_t ram = pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz : 0;
	for (uint32_t i = 0; i < cfg->npools && i < CHI_MAX_POOLS; i++) {
		const chi_pool_conf *p = &cfg->pools[i];
		if (!module_found(p->module, cfg->module_path)) {
			fprintf(stderr, "chi: pool '%s': no module named '%s' (not built in, and no "
					"libchi_%s.so in runtime.module_path \"%s\")\n",
				p->name, p->module, p->module, cfg->module_path);
			bad++;
		}
		if (strcmp(p->module, "bdev"))
			continue;
		if (!p->size) {
			fprintf(stderr, "chi: pool '%s': a bdev needs a size (pools[%u].size is 0)\n",
				p->name, i);
			bad++;
		}
		if (!p->path[0]) {
			if (ram && p->size > ram) {
				fprintf(stderr, "chi: pool '%s': a RAM bdev of %llu bytes does not fit "
						"this machine's %llu bytes of memory\n",
					p->name, (unsigned long long)p->size, (unsigned long long)ram);
				bad++;
			}
			continue;
		}
		char dir[CHI_PATH_MAX];
		snprintf(dir, sizeof(dir), "%s", p->path);
		char *slash = strrchr(dir, '/');
		if (!slash)
			snprintf(dir, sizeof(dir), ".");
		else if (slash == dir)
			dir[1] = 0;
		else
			*slash = 0;
		struct stat st;
		if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
			fprintf(stderr, "chi: pool '%s': bdev path %s: the directory %s does not exist\n",
				p->name, p->path, dir);
			bad++;
			continue;
		}
		struct statvfs vs;
		if (stat(p->path, &st) == 0 && S_ISDIR(st.st_mode)) {
			fprintf(stderr, "chi: pool '%s': bdev path %s is a directory\n", p->name, p->path);
			bad++;
		} else if (statvfs(dir, &vs) == 0 && vs.f_frsize &&
			   p->size / vs.f_frsize > (uint64_t)vs.f_blocks) {
			fprintf(stderr, "chi: pool '%s': bdev size %llu does not fit the file system of "
					"%s (%llu bytes)\n",
				p->name, (unsigned long long)p->size, dir,
				(unsigned long long)vs.f_blocks * vs.f_frsize);
			bad++;
		}
	}
	return bad;
}

static const char config_usage[] =
	"usage: chi config --print [--check] [--config FILE] [--name NAME]\n"
	"       chi config --check [--config FILE] [--name NAME]   (also: chi config check)\n"
	"  --print  the effective configuration, every key, as YAML\n"
	"  --check  also what chi start would refuse: unknown modules (built in: admin,\n"
	"           test, bdev; else libchi_<name>.so on runtime.module_path), bdev\n"
	"           paths whose directory does not exist, sizes that do not fit\n";

int chi_cmd_config(int argc, char **argv)
{
	static const struct option opts[] = {{"print", no_argument, 0, 'p'},
					     {"check", no_argument, 0, 'k'},
					     {"config", required_argument, 0, 'c'},
					     {"name", required_argument, 0, 'n'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	const char *conf = NULL, *name = NULL;
	int o, print = 0, check = 0;
	optind = 1;
	while ((o = getopt_long(argc, argv, "pkc:n:h", opts, NULL)) != -1) {
		switch (o) {
		case 'p': print = 1; break;
		case 'k': check = 1; break;
		case 'c': conf = optarg; break;
		case 'n': name = optarg; break;
		case 'h': printf("%s", config_usage); return 0;
		default: fprintf(stderr, "%s", config_usage); return 2;
		}
	}
	/* chi config check / chi config print: the action as a word */
	for (; optind < argc; optind++) {
		if (!strcmp(argv[optind], "check"))
			check = 1;
		else if (!strcmp(argv[optind], "print"))
			print = 1;
		else
			return chi_cli_no_args("config", argc, argv);
	}
	if (!print && !check) {
		fprintf(stderr, "chi config: say what to do: --print or --check\n%s", config_usage);
		return 2;
	}
	chi_config cfg;
	if (chi_cli_load_config(&cfg, conf) || chi_cli_set_name(&cfg, name))
		return 1;
	if (print) {
		static char buf[64 * 1024];
		int n = chi_config_print(&cfg, buf, sizeof(buf));
		if (n < 0) {
			fprintf(stderr, "chi: cannot print the configuration: %s\n", chi_strerror(n));
			return 1;
		}
		fputs(buf, stdout);
	}
	if (check) {
		int bad = chi_cli_config_check(&cfg);
		if (bad) {
			fprintf(stderr, "chi config: %d problem%s: chi start would refuse this configuration\n",
				bad, bad == 1 ? "" : "s");
			return 1;
		}
		if (!print)
			printf("chi config: OK (runtime '%s', %u pools)\n", cfg.name, cfg.npools);
	}
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
	int rc = name_opts("cleanup", argc, argv,
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
