/* src/task/version.c: the library's version (include/chi/version.h). */
#include "chi/version.h"

const char *chi_version(void)
{
	return CHI_VERSION_STRING;
}
