/* src/task/errno_check.c: host only, nothing to run. The CHI_E* values in
 * include/chi/proto/defs.h stand in for <errno.h> in code that GPU kernels
 * compile too (no <errno.h> there), and host code compares them with errno
 * values (-EAGAIN from chi_ring_try_claim's -CHI_EAGAIN, src/queue/lane.c):
 * each must be <errno.h>'s. Compiled with the library, so a platform where
 * one differs fails to build. */
#include <errno.h>

#include "chi/proto/defs.h"

_Static_assert(CHI_EIO == EIO, "CHI_EIO");
_Static_assert(CHI_EAGAIN == EAGAIN, "CHI_EAGAIN");
_Static_assert(CHI_ENOMEM == ENOMEM, "CHI_ENOMEM");
_Static_assert(CHI_EINVAL == EINVAL, "CHI_EINVAL");
_Static_assert(CHI_ENOSPC == ENOSPC, "CHI_ENOSPC");
_Static_assert(CHI_ERANGE == ERANGE, "CHI_ERANGE");
_Static_assert(CHI_ENOSYS == ENOSYS, "CHI_ENOSYS");
_Static_assert(CHI_ENOENT == ENOENT, "CHI_ENOENT");
_Static_assert(CHI_ESRCH == ESRCH, "CHI_ESRCH");
_Static_assert(CHI_EBADMSG == EBADMSG, "CHI_EBADMSG");
_Static_assert(CHI_EMSGSIZE == EMSGSIZE, "CHI_EMSGSIZE");
_Static_assert(CHI_ETIMEDOUT == ETIMEDOUT, "CHI_ETIMEDOUT");
_Static_assert(CHI_ECANCELED == ECANCELED, "CHI_ECANCELED");
_Static_assert(CHI_EOWNERDEAD == EOWNERDEAD, "CHI_EOWNERDEAD");
_Static_assert(CHI_ESHUTDOWN == ESHUTDOWN, "CHI_ESHUTDOWN");
_Static_assert(CHI_ENOTCONN == ENOTCONN, "CHI_ENOTCONN");
