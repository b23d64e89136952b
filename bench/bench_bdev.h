/* bench/bench_bdev.h: what the chi and fio halves of `chi-bench bdev`
 * share: the run's state and the fio runner (bench/bench_fio.c). */
#ifndef CHI_BENCH_BDEV_H
#define CHI_BENCH_BDEV_H

#include <stdint.h>

#include "bench_util.h"

#define BS (512u * 1024u) /* block size of chi and fio: 512 KiB */
#define INFLIGHT 8
#define RT_DEPTH 64
#define NSAMPLE_VERIFY 32
#define MiB (1024ull * 1024ull)
#define TARGET 0.8

/* ---- shared state of one `chi-bench bdev` run ---- */
typedef struct bctx {
	const chi_bench_opts *o;
	char dir[512];   /* directory of the file */
	char file[768];  /* the file (chi pool and fio) */
	int own_dir;     /* dir is our mkdtemp: remove it */
	uint64_t size;   /* file size */
	uint64_t nblocks;
	double seconds;  /* measured time per entry */
	uint64_t nonce;  /* this run's stamp */
	uint8_t *base;   /* BS bytes of pattern */
	uint32_t *tag;   /* per block: the pass that wrote it last (chi) */
	uint32_t pass;   /* chi write passes so far */
	int chi_valid;   /* the file holds chi's stamped blocks (tag[] right) */
	unsigned rt_seq;
	char fio[512];   /* path of fio, "" = not found */
	char fs[96];     /* file system of dir */
} bctx;

/* Run Debian's fio on b->file (psync, same block size, same duration) and
 * fill r from its JSON; 77 when fio is missing. */
int chi_bench_fio_run(bctx *b, chi_bench_result *r, int write);
/* Locate fio on PATH; 0 when found. */
int chi_bench_find_fio(char *out, size_t len);

#endif
