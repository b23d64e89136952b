/* chi/log.h: where the library's messages go.
 *
 * The library reports what a caller cannot learn from a return value alone
 * (why a configuration was refused, a stale segment removed, a worker that
 * could not be pinned) through chi_log. By default a message is written to
 * stderr as one line, "chi: <msg>\n"; chi_set_log installs a hook instead.
 *
 * Threads. chi_log may be called from any thread, at once from several; the
 * hook is then called from those threads at once too, so it must be
 * thread-safe itself. chi_set_log waits for the calls of the hook it
 * replaces that are in progress (not for calls that begin after it), so once
 * it returns the old hook (and its arg) is no longer used. A hook may call
 * chi_log, but not chi_set_log (that would wait for itself). */
#ifndef CHI_LOG_H
#define CHI_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

#define CHI_LOG_ERROR 0 /* an operation failed (its error is also returned) */
#define CHI_LOG_WARN 1  /* it went on, but not as configured */
#define CHI_LOG_INFO 2  /* worth knowing, nothing is wrong */

/* msg: the formatted message, without "chi: " and without a newline; valid
 * only during the call. */
typedef void (*chi_log_fn)(int level, const char *msg, void *arg);

/* Install `fn` (called with `arg`); NULL: back to the default (stderr). */
void chi_set_log(chi_log_fn fn, void *arg);

/* Format a message (printf) and hand it to the hook. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
void chi_log(int level, const char *fmt, ...);

#ifdef __cplusplus
}
#endif
#endif
