/* chi/module.h: writing a module. A module is a table of methods; a pool is
 * an instance of a module with its own state, addressed by chi_pool_id.
 * Register a module before starting the runtime (chi_module_register), and
 * name it in the config's pools (or create a pool with admin.create_pool).
 * See examples/ for a complete user module. */
#ifndef CHI_MODULE_H
#define CHI_MODULE_H

#include "chi/chi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CHI_TASK_SCRATCH 16384 /* largest task struct a module may declare (admin.stats: 11.6 KB) */

/* A method runs on a worker thread. It reads inputs from and writes outputs
 * to its task struct; it returns a result >= 0 or a negative errno, which the
 * runtime stores in the completion pair (ERROR bit set when negative). */
typedef int64_t (*chi_method_fn)(chi_ctx *ctx, chi_task *task);

typedef struct chi_method {
	const char *name;
	const chi_codec *codec;
	chi_method_fn run;
} chi_method;

typedef struct chi_module {
	const char *name;
	uint32_t nmethods;
	const chi_method *methods; /* indexed by method id */
	/* optional: build per-pool state from the pool's config */
	int (*create)(chi_ctx *ctx, const chi_pool_conf *conf, void **state);
	void (*destroy)(void *state);
} chi_module;

/* Register a module (process-wide, before chi_runtime_start). -EEXIST if a
 * module of that name exists, -ENOSPC when the registry is full. */
int chi_module_register(const chi_module *m);
const chi_module *chi_module_find(const char *name);

/* ---- modules as shared libraries ----
 * A module built as a shared library (libchi_<name>.so, or <name>.so)
 * exports its table with CHI_MODULE_EXPORT(table). A runtime that meets a
 * pool of a module it does not know looks for the library in the
 * directories of runtime.module_path (':'-separated; CHI_RUNTIME_MODULE_PATH
 * overrides), loads it (never unloaded), checks that the library was built
 * for this CHI_MODULE_ABI and that its table's name is the module's, and
 * registers it. The library calls chi_* functions of the process that loads
 * it: the chi daemon exports them, and so must a program that embeds a
 * runtime and loads modules (CMake ENABLE_EXPORTS, or -rdynamic).
 * CHI_MODULE_ABI changes whenever chi_module, chi_method, chi_codec or the
 * chi_ctx calls change. */
#define CHI_MODULE_ABI 1u
typedef struct chi_module_export {
	uint32_t abi;
	const chi_module *module;
} chi_module_export;
#define CHI_MODULE_EXPORT(table)                                                         \
	__attribute__((visibility("default"))) const chi_module_export chi_module_entry = { \
		CHI_MODULE_ABI, &(table)}

/* Load module `name` from the directories of `path` (as above): 0 and
 * *out, or -ENOENT (no library of that name; also when path is empty),
 * -EPROTO (built for another CHI_MODULE_ABI, no chi_module_entry, or a
 * table of another name), -ELIBBAD (dlopen failed); `err` says which, with
 * the file and both ABI versions where they apply. A module already
 * registered is returned without loading anything. */
int chi_module_load(const char *path, const char *name, const chi_module **out, char *err,
		    size_t errlen);

/* From inside a method. */
void *chi_ctx_pool_state(const chi_ctx *ctx);
chi_runtime *chi_ctx_runtime(const chi_ctx *ctx);
chi_pool_id chi_ctx_pool_id(const chi_ctx *ctx);
uint32_t chi_ctx_worker(const chi_ctx *ctx);
/* A copy future's serialized output area (NULL for pointer futures) and its
 * size: a method may produce bulk output there in place, at the offset its
 * ser_out will reserve for it, so ser_out writes only the framing (bdev read
 * does this to pread straight into it). */
uint8_t *chi_ctx_output(const chi_ctx *ctx, uint32_t *size);

/* ---- the runtime as a module may use it (the admin module does) ----
 * Call these from a method, with chi_ctx_runtime(ctx). */

/* Create a pool of `module` named `name` with id `id` (CHI_POOL_ID_ANY:
 * the first free one); its id in *out_id. -ENOENT (no such module),
 * -EEXIST, -ENOSPC, -ERANGE, or the module's create error. */
int chi_pool_create(chi_runtime *rt, uint32_t id, const char *name, const char *module,
		    const chi_pool_conf *conf, uint32_t *out_id);
/* Destroy a pool once no worker runs a task of it (docs/design.md). */
int chi_pool_destroy(chi_runtime *rt, uint32_t id);
/* Ask the embedded runtime's owner to stop (chi_runtime_stop_requested). */
void chi_runtime_request_stop(chi_runtime *rt);
/* Snapshots of the runtime, in the layouts of include/chi/modules/admin.h:
 * live pools (returns how many), every lane's and worker's counters, and
 * the per-(pool, method) task counts (returns how many entries). */
struct chi_admin_list_task;
struct chi_admin_stats_task;
struct chi_admin_pool_stats_task;
struct chi_admin_peers_task;
/* the cluster as this node sees it: its peers (returns how many) */
uint32_t chi_runtime_peers_snapshot(chi_runtime *rt, struct chi_admin_peers_task *t);
uint32_t chi_runtime_list_pools(chi_runtime *rt, struct chi_admin_list_task *t);
void chi_runtime_stats_snapshot(chi_runtime *rt, struct chi_admin_stats_task *t);
uint32_t chi_runtime_pool_stats_snapshot(chi_runtime *rt, struct chi_admin_pool_stats_task *t);

/* The built-in modules (src/modules/) and their registration, which
 * chi_runtime_start calls (registering twice is harmless). */
extern const chi_module chi_admin_module;
extern const chi_module chi_test_module;
extern const chi_module chi_bdev_module;
void chi_builtin_modules_register(void);

#ifdef __cplusplus
}
#endif
#endif
