/* examples/counter_client.c: calls the example user module "counter"
 * (examples/user_module.c, loaded by the runtime from runtime.module_path)
 * from another process.
 *
 *   counter_client NAME [--create ID] [N]
 *
 * connects to runtime NAME, optionally creates a pool of module "counter"
 * with id ID at run time (admin.create_pool: the runtime loads the module
 * then), adds 1..N (default 1000) to pool ID (default 10) and checks every
 * running total. Exit 0 when every total is right. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chi/chi.h>
#include <chi/modules/admin.h>

#include "counter.h"

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: counter_client NAME [--create ID] [N]\n");
		return 2;
	}
	chi_pool_id pool = 10;
	int create = 0;
	uint64_t n = 1000;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--create") && i + 1 < argc) {
			pool = (chi_pool_id)strtoul(argv[++i], NULL, 0);
			create = 1;
		} else {
			n = strtoull(argv[i], NULL, 0);
		}
	}
	chi_client *c;
	int rc = chi_client_connect(argv[1], &c);
	if (rc) {
		fprintf(stderr, "counter_client: connect to '%s': %s\n", argv[1], chi_strerror(rc));
		return 1;
	}
	if (create) {
		chi_admin_pool_task p;
		chi_admin_pool_init(&p, CHI_ADMIN_CREATE_POOL, pool, "counter_rt", "counter", "", 0);
		int64_t r = chi_call(c, &p.hdr, &chi_admin_pool_codec);
		if (r < 0) {
			fprintf(stderr, "counter_client: create_pool: %s\n", chi_strerror((int)r));
			chi_client_close(c);
			return 1;
		}
	}
	uint64_t want = 0, wrong = 0;
	for (uint64_t i = 1; i <= n; i++) {
		counter_add_task t;
		counter_add_init(&t, pool, i);
		want += i;
		int64_t r = chi_call(c, &t.hdr, &counter_add_codec);
		if (r != 0 || t.total != want) {
			if (!wrong)
				fprintf(stderr, "counter_client: add %llu: result %lld, total %llu, want %llu\n",
					(unsigned long long)i, (long long)r, (unsigned long long)t.total,
					(unsigned long long)want);
			wrong++;
		}
	}
	printf("counter_client: pool %u: %llu adds, total %llu, %llu wrong\n", pool,
	       (unsigned long long)n, (unsigned long long)want, (unsigned long long)wrong);
	chi_client_close(c);
	return wrong ? 1 : 0;
}
