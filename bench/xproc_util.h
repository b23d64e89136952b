/* bench/xproc_util.h: the shared segment and helper-process management the
 * cross-process benchmark entries (bench/bench_xproc.c) are built on. */
#ifndef CHI_BENCH_XPROC_UTIL_H
#define CHI_BENCH_XPROC_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define XP_MAGIC 0x6368696278707231ull /* "chibxpr1" */
#define RT_DEPTH 1024
#define TP_CLIENTS 2
#define TP_WINDOW 128
#define SPINS_PER_CLOCK 4096u
#define CHILD_TIMEOUT_NS (120ull * 1000000000ull)

/* The shared area of one helper process. */
typedef struct xp_shm {
	_Alignas(64) uint64_t word; /* ping-pong word */
	char pad0[56];
	_Alignas(64) uint64_t count; /* throughput: completions so far (child) */
	char pad1[56];
	_Alignas(64) uint64_t magic;
	uint64_t attached; /* child: 1 once mapped (the name may go), 2 once ready */
	uint64_t phase;    /* parent: 0 warm-up, 1 measure, 2 stop */
	uint64_t cap;      /* parent: room for samples */
	uint64_t nsamples; /* child: samples written */
	uint64_t done;     /* child: 1 when finished successfully */
	uint64_t pad2[2];
	uint64_t samples[];
} xp_shm;


typedef struct xp_seg {
	char name[128];
	xp_shm *p;
	size_t size;
	int linked;
} xp_seg;

void xp_unlink(xp_seg *s);
void xp_close(xp_seg *s);
int xp_create(xp_seg *s, const char *base, int idx, uint64_t cap);
xp_shm *xp_attach(const char *name, size_t *size);
void xp_sleep_ns(uint64_t ns);
int xp_spawn_child(const char *entry, char *const argv[], pid_t *pid);
int xp_check_status(const char *entry, pid_t pid, int st);
int xp_reap_child(const char *entry, pid_t *pid, uint64_t timeout_ns);
int xp_child_alive(const char *entry, pid_t *pid);
int xp_wait_attached(const char *entry, xp_shm *x, uint64_t want, pid_t *pid);
void xp_kill_child(pid_t *pid);
void xp_unique_base(char *buf, size_t len);
void xp_u64s(char *buf, size_t len, uint64_t v);

#endif
