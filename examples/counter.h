/* examples/counter.h: the task of the example user module "counter"
 * (examples/user_module.c), shared by the module and its clients
 * (examples/counter_client.c): one method, "add", that adds a value to the
 * pool's running total and returns the new total. */
#ifndef CHI_EXAMPLE_COUNTER_H
#define CHI_EXAMPLE_COUNTER_H

#include <chi/chi.h>
#include <chi/proto/codec.h>

#define COUNTER_ADD 0 /* method id */

/* The task: header first, then inputs and outputs. */
typedef struct counter_add_task {
	chi_task hdr;
	uint64_t value; /* in */
	uint64_t total; /* out */
} counter_add_task;

/* Its wire fields, listed once (chi/proto/codec.h): CHI_CODEC generates
 * counter_add_ser_in / _de_in / _ser_out / _de_out and counter_add_in_size /
 * _out_size from the lists. */
#define COUNTER_ADD_IN(X) X(U64, value)
#define COUNTER_ADD_OUT(X) X(U64, total)
CHI_CODEC(counter_add, counter_add_task, COUNTER_ADD_IN, COUNTER_ADD_OUT)
static const chi_codec counter_add_codec = CHI_CODEC_TABLE(counter_add, counter_add_task);

static inline void counter_add_init(counter_add_task *t, chi_pool_id pool, uint64_t value)
{
	chi_task_init(&t->hdr, pool, COUNTER_ADD, 0);
	t->value = value;
	t->total = 0;
	t->hdr.in_size = counter_add_in_size(t);
	t->hdr.out_size = counter_add_out_size(t);
}

#endif
