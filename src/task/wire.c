/* src/task/wire.c: see wire.h. Layout of a serialized task:
 * [chi_task 16 B][input in_size B][pad to 8][output out_size B]. */
#include "task/wire.h"

#include <errno.h>
#include <string.h>

int chi_wire_check(const uint8_t *wire, uint32_t cap, uint32_t out_size, uint64_t max_task)
{
	chi_task h;
	if (cap < sizeof(chi_task))
		return -EBADMSG;
	memcpy(&h, wire, sizeof(h));
	if (h.in_size > max_task || out_size > max_task || h.out_size != out_size)
		return -EBADMSG;
	if (chi_task_wire_size(h.in_size, out_size) > cap)
		return -EBADMSG;
	return 0;
}

int chi_wire_decode(const chi_method *m, uint8_t *wire, void *scratch)
{
	const chi_task *h = (const chi_task *)wire;
	uint32_t tsize = m->codec->task_size;
	if (tsize < sizeof(chi_task) || tsize > CHI_TASK_SCRATCH)
		return -EINVAL;
	memset(scratch, 0, tsize);
	memcpy(scratch, h, sizeof(chi_task));
	chi_ar a;
	chi_ar_init(&a, wire + sizeof(chi_task), h->in_size);
	int rc = m->codec->de_in ? m->codec->de_in(&a, (chi_task *)scratch) : 0;
	if (!rc && a.err)
		rc = a.err;
	if (!rc && a.pos != h->in_size)
		rc = -EBADMSG; /* trailing bytes the method does not expect */
	return rc ? -EBADMSG : 0;
}

int chi_wire_encode_out(const chi_method *m, uint8_t *wire, uint32_t out_size,
			const chi_task *task)
{
	if (!m->codec->ser_out || !out_size)
		return 0;
	const chi_task *h = (const chi_task *)wire;
	chi_ar a;
	chi_ar_init(&a, wire + chi_task_out_off(h->in_size), out_size);
	int rc = m->codec->ser_out(&a, task);
	return rc ? rc : a.err;
}
