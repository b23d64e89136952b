/* chi/proto/task.h: the task header every task starts with, in memory (as the
 * first member of a module's task struct) and on the wire (the first 16 bytes
 * of a serialized task in a future's copy space or arena block). */
#ifndef CHI_PROTO_TASK_H
#define CHI_PROTO_TASK_H

#include "defs.h"

typedef uint32_t chi_pool_id;

#define CHI_POOL_ADMIN ((chi_pool_id)0)
#define CHI_POOL_TEST ((chi_pool_id)1)
#define CHI_POOL_BDEV ((chi_pool_id)2)

/* task flags */
#define CHI_TASK_BULK 0x1u	/* priority ring 1 (bulk) instead of 0 (latency) */
#define CHI_TASK_REMOTE 0x8000u	/* set by the net thread on a task that came from
				 * another node: run here or fail, never forwarded */

/* Addressing a pool on a named node (docs/cluster.md): the pool id's high 16
 * bits hold node + 1, the low 16 bits the pool. 0 in the high bits: the
 * pool's home (its config's pools[].node, or this node). */
#define CHI_POOL_ON_NODE(pool, node) ((chi_pool_id)((((uint32_t)(node) + 1u) << 16) | ((pool) & 0xffffu)))
#define CHI_POOL_BASE(pool) ((pool) & 0xffffu)
#define CHI_POOL_NODE(pool) ((int32_t)((pool) >> 16) - 1) /* -1: none named */

typedef struct chi_task {
	chi_pool_id pool;
	uint16_t method;
	uint16_t flags;
	uint32_t in_size;	/* serialized payload bytes after the header */
	uint32_t out_size;	/* output bytes the submitter reserved */
} chi_task;
CHI_STATIC_ASSERT(sizeof(chi_task) == 16, "task header is 16 bytes");

CHI_INLINE void chi_task_init(chi_task *t, chi_pool_id pool, uint16_t method,
			      uint16_t flags)
{
	t->pool = pool;
	t->method = method;
	t->flags = flags;
	t->in_size = 0;
	t->out_size = 0;
}

#endif
