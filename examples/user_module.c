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

/* The task: header first, then inputs and outputs. */
typedef struct counter_add_task {
	chi_task hdr;
	uint64_t value; /* in */
	uint64_t total; /* out */
} counter_add_task;

static int add_ser_in(chi_ar *a, const chi_task *h)
{
	chi_ar_put_u64(a, ((const counter_add_task *)h)->value);
	return a->err;
}
static int add_de_in(chi_ar *a, chi_task *h)
{
	((counter_add_task *)h)->value = chi_ar_get_u64(a);
	return a->err;
}
static int add_ser_out(chi_ar *a, const chi_task *h)
{
	chi_ar_put_u64(a, ((const counter_add_task *)h)->total);
	return a->err;
}
static int add_de_out(chi_ar *a, chi_task *h)
{
	((counter_add_task *)h)->total = chi_ar_get_u64(a);
	return a->err;
}
static const chi_codec add_codec = {add_ser_in, add_de_in, add_ser_out, add_de_out,
				    sizeof(counter_add_task)};

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
		t.hdr.in_size = 8;
		t.hdr.out_size = 8;
		t.value = i;
		want += i;
		if (chi_call(c, &t.hdr, &add_codec) != 0 || t.total != want)
			bad++;
	}
	printf("counter total %llu (want %llu), %d wrong\n", (unsigned long long)want,
	       (unsigned long long)want, bad);
	chi_runtime_stop(rt);
	return bad ? 1 : 0;
}
