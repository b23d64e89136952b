/* fuzz/fuzz_config.c: libFuzzer target for the YAML configuration parser.
 * Any input must parse or fail cleanly (no crash, leak or out-of-bounds
 * read), always leave a NUL-terminated message on failure, and whatever
 * parses must survive print -> parse unchanged and pass chi_config_validate,
 * unless it makes a cluster (cluster.node >= 0): the rules of a cluster (its
 * key file, its port, its pools' nodes) need the whole configuration (the
 * file, the environment and cluster.hosts_file), so only loading checks them.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
 *         fuzz/fuzz_config.c src/config/config.c src/config/config_keys.c \
 *         src/config/config_env.c src/config/config_print.c -lyaml */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chi/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static chi_config c, d;
	static char text[64 * 1024];
	char err[256];
	int n;

	memset(err, 'x', sizeof(err));
	chi_config_defaults(&c);
	if (chi_config_parse(&c, (const char *)data, size, "fuzz", err, sizeof(err)) != 0) {
		if (!memchr(err, '\0', sizeof(err)))
			abort(); /* a failure always explains itself */
		return 0;
	}
	if (chi_config_validate(&c, err, sizeof(err)) != 0 && c.cluster.node < 0)
		abort(); /* the parser checks every rule of a single key */
	n = chi_config_print(&c, text, sizeof(text));
	if (n < 0)
		abort();
	chi_config_defaults(&d);
	if (chi_config_parse(&d, text, (size_t)n, "printed", err, sizeof(err)) != 0 ||
	    memcmp(&c, &d, sizeof(c)) != 0)
		abort(); /* print -> parse must give back the same struct */
	return 0;
}
