/* examples/user_module.c: a user module in C, built as a shared library
 * that a chi runtime (the `chi start` daemon, or an embedded one) loads
 * when a pool names it. It defines the module "counter" (task in
 * examples/counter.h): one method, "add", that adds a value to the pool's
 * running total and returns the new total.
 *
 * Build it against an installed chi and put it on runtime.module_path:
 *   cc -std=c11 -shared -fPIC -o libchi_counter.so user_module.c $(pkg-config --cflags chi)
 *   runtime: {module_path: /path/to/dir}
 *   pools: [..., {name: counter0, module: counter, id: 10}]
 * (or admin.create_pool with module "counter" at run time). CMake:
 * add_library(chi_counter MODULE user_module.c) with chi's include dirs. */
#include <errno.h>
#include <stdlib.h>

#include <chi/module.h>

#include "counter.h"

/* Pool state: one counter per pool. Methods of one pool may run on several
 * workers at once, hence the atomic. */
static int counter_create(chi_ctx *ctx, const chi_pool_conf *conf, void **state)
{
	(void)ctx;
	(void)conf;
	*state = calloc(1, sizeof(uint64_t));
	return *state ? 0 : -ENOMEM;
}

static void counter_destroy(void *state)
{
	free(state);
}

static int64_t counter_add(chi_ctx *ctx, chi_task *h)
{
	counter_add_task *t = (counter_add_task *)h;
	uint64_t *total = chi_ctx_pool_state(ctx);
	t->total = __atomic_add_fetch(total, t->value, __ATOMIC_RELAXED);
	return 0;
}

static const chi_method counter_methods[] = {[COUNTER_ADD] = {"add", &counter_add_codec, counter_add}};
static const chi_module counter_module = {"counter", 1, counter_methods, counter_create,
					  counter_destroy};

CHI_MODULE_EXPORT(counter_module);
