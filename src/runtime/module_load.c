/* src/runtime/module_load.c: user modules as shared libraries
 * (include/chi/module.h, "modules as shared libraries"). A library is
 * loaded once per process and never unloaded: a method of it may be
 * running, and its table stays registered. Loads are serialized by a lock;
 * the registry (pool.c) has its own. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "chi/module.h"

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

static int say(char *err, size_t len, int rc, const char *fmt, const char *a, const char *b)
{
	if (err && len)
		snprintf(err, len, fmt, a, b);
	return rc;
}

/* A name usable in a file name: letters, digits, '_', '-', '.'; no '/'. */
static int name_ok(const char *name)
{
	if (!name || !*name || strlen(name) > 64 || name[0] == '.')
		return 0;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '_' || *p == '-' || *p == '.'))
			return 0;
	return 1;
}

/* Try one file: 0 loaded, -ENOENT not there, else an error (err set). */
static int try_file(const char *file, const char *name, const chi_module **out, char *err,
		    size_t errlen)
{
	if (access(file, F_OK) != 0)
		return -ENOENT;
	void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return say(err, errlen, -ELIBBAD, "module '%s': %s", name, dlerror());
	const chi_module_export *e = (const chi_module_export *)dlsym(h, "chi_module_entry");
	if (!e) {
		dlclose(h);
		return say(err, errlen, -EPROTO,
			   "module '%s': %s has no chi_module_entry (built without CHI_MODULE_EXPORT?)",
			   name, file);
	}
	if (e->abi != CHI_MODULE_ABI) {
		char v[64];
		snprintf(v, sizeof(v), "%u, this chi expects %u", e->abi, CHI_MODULE_ABI);
		dlclose(h);
		if (err && errlen)
			snprintf(err, errlen, "module '%s': %s was built for module ABI %s", name,
				 file, v);
		return -EPROTO;
	}
	if (!e->module || !e->module->name || strcmp(e->module->name, name)) {
		dlclose(h);
		return say(err, errlen, -EPROTO, "module '%s': %s holds a module of another name",
			   name, file);
	}
	int rc = chi_module_register(e->module);
	if (rc) {
		dlclose(h);
		return say(err, errlen, rc, "module '%s': cannot register it (%s)", name,
			   rc == -EEXIST ? "another module has its name" : "the registry is full");
	}
	*out = e->module; /* h stays open for the process's life */
	return 0;
}

int chi_module_load(const char *path, const char *name, const chi_module **out, char *err,
		    size_t errlen)
{
	if (err && errlen)
		err[0] = 0;
	const chi_module *m = chi_module_find(name);
	if (m) {
		*out = m;
		return 0;
	}
	if (!name_ok(name))
		return say(err, errlen, -EINVAL, "module '%s': not a valid module name%s", name, "");
	if (!path || !*path)
		return say(err, errlen, -ENOENT, "no module named '%s' (runtime.module_path is "
						 "empty)%s", name, "");
	pthread_mutex_lock(&load_lock);
	int rc = -ENOENT;
	m = chi_module_find(name); /* another thread may have loaded it meanwhile */
	if (m) {
		*out = m;
		rc = 0;
	}
	const char *p = path;
	while (rc == -ENOENT && *p) {
		const char *end = strchr(p, ':');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n && n < PATH_MAX - 80) {
			char file[PATH_MAX];
			snprintf(file, sizeof(file), "%.*s/libchi_%s.so", (int)n, p, name);
			rc = try_file(file, name, out, err, errlen);
			if (rc == -ENOENT) {
				snprintf(file, sizeof(file), "%.*s/%s.so", (int)n, p, name);
				rc = try_file(file, name, out, err, errlen);
			}
		}
		p = end ? end + 1 : p + n;
	}
	pthread_mutex_unlock(&load_lock);
	if (rc == -ENOENT)
		say(err, errlen, -ENOENT, "no module named '%s' (no libchi_%s.so in runtime.module_path)",
		    name, name);
	return rc;
}
