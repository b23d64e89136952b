/* examples/user_module.c: a user module in C. It registers a module named
 * "counter" with one method, "add", that adds a value to the pool's running
 * total and returns the new total; starts an embedded runtime with a pool of
 * it; and calls it from the client. Build against an installed chi:
 *   cc -std=c11 user_module.c $(pkg-config --cflags --libs --static chi)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chi/chi.h>
#include <chi/module.h>
#include <chi/proto/codec.h>

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
static const chi_codec add_codec = CHI_CODEC_TABLE(counter_add, counter_add_task);

/* Pool state: one counter per pool. Methods of one pool may run on several
 * workers at once, hence the atomic. */
static int counter_create(chi_ctx *ctx, const chi_pool_conf *conf, void **state)
{
	(void)ctx;
	(void)conf;
	*state = calloc(1, sizeof(uint64_t));
	return *state ? 0 : -12;
}
static void counter_destroy(void *state)
{
	free(state);
}
static int64_t counter_add(chi_ctx *ctx, chi_task *h)
{
	counter_add_task *t = (counter_add_task *)h;
	uint64_t *total = chi_ctx_pool_state(ctx);
	t->total = __atomic_add_fetch(total, t->value, __ATOMIC_RELAXED);
	return 0;
}

static const chi_method counter_methods[] = {{"add", &add_codec, counter_add}};
static const chi_module counter_module = {"counter", 1, counter_methods, counter_create,
					  counter_destroy};

int main(void)
{
	if (chi_module_register(&counter_module))
		return 1;
	chi_config cfg;
	chi_config_defaults(&cfg);
	cfg.num_workers = 2;
	snprintf(cfg.name, sizeof(cfg.name), "example");
	chi_pool_conf *p = &cfg.pools[cfg.npools++];
	memset(p, 0, sizeof(*p));
	strcpy(p->name, "counter0");
	strcpy(p->module, "counter");
	p->id = 10;

	chi_runtime *rt;
	int rc = chi_runtime_start(&cfg, &rt);
	if (rc) {
		fprintf(stderr, "start: %s\n", chi_strerror(rc));
		return 1;
	}
	chi_client *c = chi_runtime_client(rt);
	uint64_t want = 0;
	int bad = 0;
	for (uint64_t i = 1; i <= 100; i++) {
		counter_add_task t;
		chi_task_init(&t.hdr, 10, 0, 0);
		t.value = i;
		t.hdr.in_size = counter_add_in_size(&t);
		t.hdr.out_size = counter_add_out_size(&t);
		want += i;
		if (chi_call(c, &t.hdr, &add_codec) != 0 || t.total != want)
			bad++;
	}
	printf("counter total %llu (want %llu), %d wrong\n", (unsigned long long)want,
	       (unsigned long long)want, bad);
	chi_runtime_stop(rt);
	return bad ? 1 : 0;
}
