/* bench/bench_cluster.h: the pieces of `chi-bench cluster` (several nodes
 * over UCX) shared by its three files:
 *   bench_cluster.c      the command: the entries, the result cache, the
 *                        targets' check;
 *   bench_cluster_session.c  the two-process session per transport and the
 *                        helper process (node 1);
 *   bench_cluster_ucx.c  the anchors: bare UCP active messages between the
 *                        same two processes, before any runtime starts;
 *   bench_cluster_rt.c   the chi entries: an embedded runtime on each side,
 *                        tasks from this process routed to node 1.
 * bench_cluster_ucx.c is built only when UCX was found (CHI_HAVE_UCX). */
#ifndef CHI_BENCH_CLUSTER_H
#define CHI_BENCH_CLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bench_util.h"

/* A no-op task's REQ and its REP on chi's wire (src/net/msg.h): the 16-byte
 * message header, id and epoch (16), the task's 16-byte header with no
 * inputs; the REP: header, id, epoch, result, out_len, pad (48), no outputs.
 * The bare anchors send messages of this size both ways. */
#define BC_MSG 48u
#define BC_BIG (512u << 10) /* the bdev entries' block and the rendezvous anchor's */
#define BC_WINDOW 256u      /* in flight: remote_throughput_256 and am_stream_256 */
#define BC_WORKERS 2u       /* runtime.num_workers of both runtimes */
#define BC_TIMEOUT_NS (30ull * 1000000000ull) /* any one phase, at most */
#define BC_UP_NS (10ull * 1000000000ull)      /* node 1 UP, at most */

/* The entries of one transport, in table order (index into a session's want[]
 * and results). */
enum bc_entry {
	BC_AM_PINGPONG = 0,
	BC_AM_STREAM,
	BC_AM_RNDV,
	BC_REMOTE_ROUNDTRIP,
	BC_REMOTE_THROUGHPUT,
	BC_REMOTE_BDEV_WRITE,
	BC_REMOTE_BDEV_READ,
	BC_NENTRIES
};

/* Iteration counts and times (--quick or not). Every measuring loop stops
 * at its count or its time, whichever comes first, and uses the samples it
 * has. */
typedef struct bc_iters {
	uint64_t lat_warmup, lat_samples; /* round-trip entries: at most these ... */
	double lat_seconds;               /* ... or this long (warm-up: a fifth) */
	uint64_t big_warmup, big_max;     /* 512 KiB transfers: at most big_max ... */
	double big_seconds;               /* ... or this long, whichever first */
	double tp_seconds;                /* throughput entries' measured time */
} bc_iters;

bc_iters bc_iters_of(const chi_bench_opts *o);

/* The round-trip entries' and anchors' one loop: call(arg) lat_warmup
 * times (at most lat_seconds / 5), then once per sample into s (room for
 * lat_samples; at most lat_seconds), each sample one call's ns. *n: how
 * many; returns the first call's error, or 0. */
int bc_sample_calls(const bc_iters *it, int (*call)(void *), void *arg, uint64_t *s, uint64_t *n);

/* What one session measured (or why an entry failed). */
typedef struct bc_session {
	const char *tls;      /* "tcp" or "shm" */
	const char *ucx_tls;  /* the UCX_TLS value it ran with */
	char ucx_env[160];    /* the UCX_ settings it ran with */
	const chi_bench_opts *o;
	unsigned char want[BC_NENTRIES];
	int rc[BC_NENTRIES];  /* 0 measured, negative errno, 77 not run */
	chi_bench_result res[BC_NENTRIES];
	char lanes[256];      /* the bare endpoint's lanes (ucp_ep_print_info) */
	uint64_t rndv_seen;   /* big messages node 1 received by rendezvous */
	uint64_t big_seen;    /* big messages node 1 received in all */
	double local_rt_ns;   /* chi's local no-op round trip (median) */
	double local_rt_p99_ns;
} bc_session;

/* ---- bench_cluster.c ---- */
const char *bc_entry_base(int k); /* "am_pingpong", ... */

/* ---- bench_cluster_session.c (CHI_HAVE_UCX) ---- */
extern int bc_verbose;      /* --verbose: chi's INFO messages, UCX endpoint dumps */
extern int64_t bc_busy_us;  /* --busy-us: runtime.first_busy_wait_us of both, -1 = chi's */
/* chi_log hook: INFO only with bc_verbose; arg is a prefix ("" or " (node 1)") */
void bc_log_hook(int level, const char *msg, void *arg);
/* Remember the user's UCX_MM_ERROR_HANDLING and UCX_RNDV_SCHEME (before any
 * session sets them). */
void bc_save_user_env(void);
/* Measure what s->want[] asks for over one transport (s->o set). */
void bc_run_session(bc_session *s, const char *tls, const char *ucx_tls);
/* The helper process (`chi-bench __child cluster ...`, bench_xproc.c's
 * dispatch); a stub that returns 77 in builds without UCX (bench_cluster.c). */
int chi_bench_cluster_child(int argc, char **argv);
int bc_wants_any(const bc_session *s, int from, int to);

/* ---- bench_cluster_ucx.c (CHI_HAVE_UCX) ---- */
typedef struct bc_ucx bc_ucx;

/* A UCP context and worker (AM and WAKEUP, as the net thread asks: the same
 * transport choice), UCX_TLS and UCX_NET_DEVICES already in the environment. */
int bc_ucx_open(bc_ucx **out, char *err, size_t errlen);
/* Node 1: listen on 127.0.0.1, the kernel's choice of port. */
int bc_ucx_listen(bc_ucx *u, uint32_t *port, char *err, size_t errlen);
/* Node 1: answer until the QUIT message (or the deadline, or the parent
 * gone); then *big and *rndv count the 512 KiB messages received. */
int bc_ucx_serve(bc_ucx *u, uint64_t deadline, uint64_t *big, uint64_t *rndv);
/* Node 0: connect to 127.0.0.1:port. */
int bc_ucx_connect(bc_ucx *u, uint32_t port, char *err, size_t errlen);
/* Node 0, the anchors (bc_session's res[] filled, -errno on failure). */
int bc_ucx_pingpong(bc_ucx *u, const bc_iters *it, chi_bench_result *r);
int bc_ucx_stream(bc_ucx *u, const bc_iters *it, chi_bench_result *r);
int bc_ucx_rndv(bc_ucx *u, const bc_iters *it, chi_bench_result *r);
/* The endpoint's lanes, "tl/dev (uses)" each, ';'-separated; with dump,
 * ucp_ep_print_info's whole text goes there too. */
void bc_ucx_lanes(bc_ucx *u, char *buf, size_t len, FILE *dump);
/* Node 0: send QUIT and see it leave. */
int bc_ucx_quit(bc_ucx *u);
/* "1.13.1" */
const char *bc_ucx_version(void);
/* Close the endpoint (forced: the peer may be gone), the listener, the
 * worker and the context; NULL is fine. */
void bc_ucx_close(bc_ucx *u);

/* ---- bench_cluster_rt.c ---- */
/* Node k's runtime config (pools admin, test, ram0 of the defaults; t1 =
 * test on node 1; d1 = RAM bdev on node 1, BC_D1_SIZE); busy_us: runtime.
 * first_busy_wait_us, -1 = chi's default. */
#define BC_POOL_T1 5u
#define BC_POOL_D1 6u
#define BC_D1_SIZE (256ull << 20)
struct chi_config;
void bc_rt_config(struct chi_config *cfg, uint32_t node, const char *name, const char *dir,
		  const uint32_t port[2], int64_t busy_us);
/* Node 0's runtime is running and node 1 is UP: measure the chi entries
 * s->want[] asks for. */
struct chi_client;
void bc_rt_entries(bc_session *s, struct chi_client *c);
/* Wait (bounded) until admin.peers says node 1 is UP. */
int bc_rt_wait_up(struct chi_client *c, uint64_t timeout_ns);

#endif
