/* tests/module_badabi.c: a user module that claims a module ABI this chi
 * does not speak (999): a runtime must refuse to load it, with a message
 * naming both versions (tests/module_test.sh). */
#include <chi/module.h>

static int64_t nothing(chi_ctx *ctx, chi_task *t)
{
	(void)ctx;
	(void)t;
	return 0;
}
static const chi_codec none = {0, 0, 0, 0, sizeof(chi_task)};
static const chi_method methods[] = {{"nothing", &none, nothing}};
static const chi_module badabi = {"badabi", 1, methods, 0, 0};

__attribute__((visibility("default"))) const chi_module_export chi_module_entry = {999u, &badabi};
