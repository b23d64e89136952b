/* tools/cli.h: the chi command's subcommands. Each returns the process exit
 * status: 0 success, 1 failure (a readable message on stderr), 2 usage. */
#ifndef CHI_TOOLS_CLI_H
#define CHI_TOOLS_CLI_H

#include "chi/config.h"

int chi_cmd_start(int argc, char **argv);
int chi_cmd_stop(int argc, char **argv);
int chi_cmd_status(int argc, char **argv);
int chi_cmd_config(int argc, char **argv);
int chi_cmd_cleanup(int argc, char **argv);
int chi_cmd_demo(int argc, char **argv);

/* Load the effective configuration (defaults, --config file or
 * CHI_SERVER_CONF, environment); prints the error and returns -1. */
int chi_cli_load_config(chi_config *cfg, const char *path);

/* Connect to the runtime a client command talks to: *name is --name (or
 * NULL: the config's name, from cfg, which the caller keeps while it uses
 * *name). Prints why and returns NULL when the config does not load or no
 * such runtime is running. */
struct chi_client;
struct chi_client *chi_cli_connect(const char **name, const char *conf_path, chi_config *cfg);

/* A call to the runtime (an admin task) failed with r: one line on stderr.
 * -EOWNERDEAD and -ENOTRECOVERABLE (the runtime died or went silent, FA2
 * in chi/proto/future.h) say whether its process is stopped, dead or hung,
 * and whether the task was withdrawn (will not run) or may have run. */
void chi_cli_call_failed(struct chi_client *c, const char *name, const char *what, int64_t r);

/* The conventions every subcommand follows. chi_cli_no_args: 0 when argv
 * has nothing after the options, else prints which argument is not taken
 * and returns 2. chi_cli_set_name: --name over the config's name (checked
 * like runtime.name); prints why and returns -1. chi_cli_number: a whole
 * number in [lo, hi] from an option's value, else prints "chi CMD: --OPT
 * wants ..." and returns -1. */
int chi_cli_no_args(const char *cmd, int argc, char **argv);
int chi_cli_set_name(chi_config *cfg, const char *name);
int chi_cli_number(const char *cmd, const char *opt, const char *val, unsigned long long lo,
		   unsigned long long hi, unsigned long long *out);

/* chi config --check: what chi start would refuse that loading the
 * configuration does not (unknown modules, bdev paths in directories that
 * do not exist, sizes that do not fit). Prints each problem on stderr;
 * returns how many it found. */
int chi_cli_config_check(const chi_config *cfg);

#endif
