/* tools/chi.c: the chi command: start, stop, status, stats, config, cleanup, demo. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "chi/module.h"

int chi_cmd_stats(int argc, char **argv); /* tools/cmd_stats.c */

static const struct {
	const char *name;
	int (*run)(int, char **);
	const char *help;
} cmds[] = {
	{"start", chi_cmd_start, "start a runtime daemon (returns once clients can connect)"},
	{"stop", chi_cmd_stop, "stop a running runtime (it drains published tasks first)"},
	{"status", chi_cmd_status, "show a runtime's name, pid, uptime, workers, lanes, pools"},
	{"stats", chi_cmd_stats, "per lane/worker/method counters and latency (--json, --prometheus, --watch S)"},
	{"config", chi_cmd_config, "show the effective configuration (--print) or check it as start would (--check)"},
	{"cleanup", chi_cmd_cleanup, "remove shared-memory segments of dead runtimes"},
	{"demo", chi_cmd_demo, "run an embedded runtime and check every result"},
};

static void usage(FILE *o)
{
	fprintf(o, "usage: chi <command> [options]   (chi <command> --help for its options)\n"
		   "       chi --version\n\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(o, "  %-8s %s\n", cmds[i].name, cmds[i].help);
	fprintf(o, "\nThe runtime name comes from --name, runtime.name in the config file\n"
		   "(--config or CHI_SERVER_CONF) or CHI_RUNTIME_NAME; default \"chi\".\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("chi %s (module ABI %u)\n", chi_version(), CHI_MODULE_ABI);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].run(argc - 1, argv + 1);
	fprintf(stderr, "chi: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
